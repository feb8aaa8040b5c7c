import type { AuditContext } from '../../domain/audit.js';
import { AppError } from '../../domain/errors.js';
import { describeEvidence, type PlanEvidence } from '../../domain/releases/evidence.js';
import { ACTIVE_STATUSES, type EventInput, type PlanProgress, type ReleasePlan } from '../../domain/releases/plans.js';
import { webhookMessage, type WebhookEvent } from '../../domain/releases/webhooks.js';
import { DOGFOOD_SEGMENT, applyStage, formatPercentage, rampStage, releaseVariation, type ReleaseStage } from '../../domain/stages.js';
import type { Tx } from '../../store/ports.js';
import { configIn, lockedByGit, type FlagsService } from '../flags.service.js';
import { RowMoved, combine, type Change, type Writes } from '../write.js';

export const GUARD_ACTOR = 'release-guard';
export const guardAudit = (message: string): AuditContext => ({ actor: GUARD_ACTOR, source: 'release-guard', message });

/** Decision-log kinds that are not also webhook events. */
const QUIET_KINDS = new Set(['created', 'checked', 'skipped']);

/** One step of a plan inside a transaction: the plan after it and what to record. */
export interface PlanStep {
  plan: ReleasePlan;
  change: Change;
}

/**
 * The steps of a release plan, each inside the caller's transaction: the flag's stage change, the
 * plan's progress (compare-and-set on its version), its decision-log entry, its audit entry and its
 * webhooks. The direct routes, approved change requests and the runner all move plans through these.
 */
export class PlanSteps {
  constructor(
    private readonly w: Writes,
    private readonly flags: FlagsService,
  ) {}

  async logEvent(tx: Tx, at: number, plan: ReleasePlan, event: EventInput, actor: string): Promise<void> {
    await this.w.repos.plans.addEvent(tx, { planId: plan.id, flagKey: plan.flagKey, environment: plan.environment, at, kind: event.kind, actor, message: event.message, evidence: event.evidence });
  }

  /** Write a stage (and the guard marker) to the plan's flag, inside the plan's transaction. */
  private async writeStage(tx: Tx, at: number, plan: ReleasePlan, stage: ReleaseStage, guarded: boolean, ctx: AuditContext, expected?: number): Promise<Change> {
    const variation = plan.variation;
    if (variation === null) throw new AppError('conflict', 'the plan has not started');
    const { change } = await this.flags.changeIn(tx, at, ctx, plan.flagKey, expected, { action: 'flag.stage_changed', environment: plan.environment }, (flag) => {
      const { guarded: _was, ...next } = applyStage(configIn(flag, plan.environment), stage, variation);
      return { ...flag, environments: { ...flag.environments, [plan.environment]: guarded ? { ...next, guarded: true } : next } };
    });
    return change;
  }

  /**
   * Save the plan's progress (if it is still at the version read), its decision-log entry and — with
   * `ctx` — its audit entry and webhook.
   */
  async progressIn(tx: Tx, at: number, plan: ReleasePlan, progress: PlanProgress, event: EventInput, ctx: AuditContext | null): Promise<PlanStep> {
    const actor = ctx?.actor ?? GUARD_ACTOR;
    const next: ReleasePlan = { ...plan, ...progress, version: plan.version + 1, updatedAt: at, updatedBy: actor };
    if (!(await this.w.repos.plans.update(tx, next, plan.version))) throw new RowMoved('release plan');
    await this.logEvent(tx, at, plan, event, actor);
    const change: Change = { audit: [] };
    if (ctx) change.audit.push({ action: `release.${event.kind}`, resourceType: 'flag', resourceKey: plan.flagKey, environment: plan.environment, before: null, after: event.evidence ?? null, message: ctx.message ?? event.message });
    if (!QUIET_KINDS.has(event.kind)) {
      const step = next.spec.steps[next.currentStep];
      const data = { flag: plan.flagKey, environment: plan.environment, status: next.status, step: next.currentStep, percentage: step?.percentage ?? null, message: event.message, evidence: event.evidence ?? null };
      change.webhooks = () => [webhookMessage(`release.${event.kind}` as WebhookEvent, at, data)];
    }
    return { plan: next, change };
  }

  /**
   * Start `plan` inside the caller's transaction (the direct route, after its policy check; or an
   * approved change request). `expected`: the flag version to pin (a change request's), else any.
   */
  async startIn(tx: Tx, at: number, plan: ReleasePlan, ctx: AuditContext, expected?: number): Promise<PlanStep> {
    const { flagKey, environment } = plan;
    if (ACTIVE_STATUSES.includes(plan.status)) throw new AppError('conflict', `the plan is already ${plan.status}`);
    const found = await this.w.repos.flags.get(tx, flagKey);
    if (!found) throw AppError.notFound('flag', flagKey);
    if (found.managedBy !== null) throw lockedByGit('flag', flagKey, found.managedBy);
    if (expected !== undefined && found.value.version !== expected) throw AppError.versionConflict(`flag "${flagKey}"`, found.value.version, found.value.updatedBy, new Date(found.value.updatedAt).toISOString());
    const flag = found.value;
    const config = configIn(flag, environment);
    const variation = releaseVariation(flag, config, plan.spec.variation);
    if (variation === undefined || !flag.variations.some((v) => v.key === variation)) throw AppError.invalid('variation', `no variation "${variation ?? ''}" to release`);
    if (variation === config.offVariation) throw AppError.invalid('variation', `"${variation}" is the off variation; releasing it would change nothing`);
    if (!(await this.w.repos.segments.existing(tx, [DOGFOOD_SEGMENT])).has(DOGFOOD_SEGMENT)) throw new AppError('conflict', 'the "internal" (dogfood) segment is missing');
    // A plan never ramps down: a flag already at 20% starts at the first step of at least 20%. Its
    // other rules and targets do not matter: a step rewrites only the dogfood and default rules.
    const stage = rampStage(config);
    const already = stage.endsWith('%') ? Number(stage.slice(0, -1)) : 0;
    const steps = plan.spec.steps;
    const atLeast = steps.findIndex((s) => s.percentage >= already);
    const index = atLeast === -1 ? steps.length - 1 : atLeast;
    const first = steps[index]!;
    const finishing = first.percentage >= 100;
    const flagChange = await this.writeStage(tx, at, { ...plan, variation }, formatPercentage(first.percentage), !finishing && plan.spec.guard !== null, { ...ctx, message: `release plan started: ${first.percentage}%${ctx.message ? ` — ${ctx.message}` : ''}` }, expected);
    const progress: PlanProgress = { status: finishing ? 'completed' : 'running', currentStep: index, variation, startedAt: at, stepStartedAt: at, pausedAt: null, pauseReason: null };
    const step = await this.progressIn(tx, at, plan, progress, { kind: 'started', message: `${variation} to ${first.percentage}%` }, ctx);
    return { plan: step.plan, change: combine(flagChange, step.change) };
  }

  async pauseIn(tx: Tx, at: number, plan: ReleasePlan, ctx: AuditContext, reason: string, evidence?: unknown): Promise<PlanStep> {
    if (plan.status !== 'running') throw new AppError('conflict', `only a running plan can be paused; this one is ${plan.status}`);
    return this.progressIn(tx, at, plan, { status: 'paused', pausedAt: at, pauseReason: reason }, { kind: 'paused', message: reason, evidence }, { ...ctx, message: reason });
  }

  /** Resume `plan` inside the caller's transaction; `expected` pins the flag version (a change request's). */
  async resumeIn(tx: Tx, at: number, plan: ReleasePlan, ctx: AuditContext, expected?: number): Promise<PlanStep> {
    const { flagKey, environment } = plan;
    if (plan.status !== 'paused') throw new AppError('conflict', `only a paused plan can be resumed; this one is ${plan.status}`);
    const step = plan.spec.steps[plan.currentStep]!;
    const flag = await this.w.repos.flags.get(tx, flagKey);
    if (!flag) throw AppError.notFound('flag', flagKey);
    if (expected !== undefined && flag.value.version !== expected) throw AppError.versionConflict(`flag "${flagKey}"`, flag.value.version, flag.value.updatedBy, new Date(flag.value.updatedAt).toISOString());
    const config = configIn(flag.value, environment);
    const stage = formatPercentage(step.percentage);
    // Someone may have moved the flag while it was paused: resuming puts the plan's step back.
    let change: Change = { audit: [] };
    if (rampStage(config) !== stage || Boolean(config.guarded) !== (plan.spec.guard !== null)) {
      change = await this.writeStage(tx, at, plan, stage, plan.spec.guard !== null, { ...ctx, message: `release plan resumed at ${stage}${ctx.message ? ` — ${ctx.message}` : ''}` }, expected);
    }
    // The paused time does not count towards the step's minimum duration.
    const stepStartedAt = (plan.stepStartedAt ?? at) + (at - (plan.pausedAt ?? at));
    const resumed = await this.progressIn(tx, at, plan, { status: 'running', pausedAt: null, pauseReason: null, stepStartedAt }, { kind: 'resumed', message: `resumed at ${stage}` }, ctx);
    return { plan: resumed.plan, change: combine(change, resumed.change) };
  }

  /** Stop `plan` inside the caller's transaction: back to dogfood (0%, internal users keep the new variation), or, without `rollback`, where the flag is. */
  async abortIn(tx: Tx, at: number, plan: ReleasePlan, ctx: AuditContext, rollback: boolean): Promise<PlanStep> {
    const { flagKey, environment } = plan;
    if (!ACTIVE_STATUSES.includes(plan.status)) throw new AppError('conflict', `only a running or paused plan can be aborted; this one is ${plan.status}`);
    const flag = await this.w.repos.flags.get(tx, flagKey);
    if (!flag) throw AppError.notFound('flag', flagKey);
    const current = rampStage(configIn(flag.value, environment));
    const stage: ReleaseStage = rollback ? 'dogfood' : current === 'custom' ? 'dogfood' : current;
    const flagChange = await this.writeStage(tx, at, plan, stage, false, { ...ctx, message: rollback ? 'release plan aborted: back to dogfood (0%)' : `release plan aborted; the flag stays at ${stage}` });
    const step = await this.progressIn(tx, at, plan, { status: 'aborted', pausedAt: null }, { kind: 'aborted', message: rollback ? 'rolled back to dogfood (0%)' : `stopped; the flag stays at ${stage}` }, ctx);
    return { plan: step.plan, change: combine(flagChange, step.change) };
  }

  /** Advance to the next step, completing the plan at 100% or after its last step. */
  async advanceIn(tx: Tx, at: number, plan: ReleasePlan, ctx: AuditContext, why: string, evidence: PlanEvidence, kind: 'advanced' | 'skipped' = 'advanced'): Promise<PlanStep> {
    const index = plan.currentStep + 1;
    const next = plan.spec.steps[index];
    const summary = describeEvidence(evidence);
    const guarded = plan.spec.guard !== null;
    if (!next) {
      const flagChange = await this.writeStage(tx, at, plan, formatPercentage(plan.spec.steps[plan.currentStep]!.percentage), false, { ...ctx, message: `release plan completed (${summary})` });
      const step = await this.progressIn(tx, at, plan, { status: 'completed', pausedAt: null, pauseReason: null }, { kind: 'completed', message: `${why}; completed at the last step`, evidence }, ctx);
      return { plan: step.plan, change: combine(flagChange, step.change) };
    }
    const stage = formatPercentage(next.percentage);
    const done = next.percentage >= 100;
    const flagChange = await this.writeStage(tx, at, plan, stage, guarded && !done, { ...ctx, message: `${why}: ${stage} (${summary})` });
    const progress: PlanProgress = { status: done ? 'completed' : plan.status, currentStep: index, stepStartedAt: at };
    if (done) Object.assign(progress, { pausedAt: null, pauseReason: null });
    const step = await this.progressIn(tx, at, plan, progress, { kind: done ? 'completed' : kind, message: `${why}: now ${stage}`, evidence }, ctx);
    return { plan: step.plan, change: combine(flagChange, step.change) };
  }

  /** Regression: back to dogfood (0%) at once, with the evidence. */
  async rollbackIn(tx: Tx, at: number, plan: ReleasePlan, reason: string, evidence: PlanEvidence): Promise<PlanStep> {
    const message = `rolled back to dogfood (0%): ${reason} (${describeEvidence(evidence)})`;
    const flagChange = await this.writeStage(tx, at, plan, 'dogfood', false, guardAudit(message));
    const step = await this.progressIn(tx, at, plan, { status: 'rolled_back', pausedAt: null }, { kind: 'rolled_back', message, evidence }, guardAudit(message));
    return { plan: step.plan, change: combine(flagChange, step.change) };
  }
}
