import { AppError } from '../../domain/errors.js';
import type { Flag, FlagEnvironment } from '../../domain/flags.js';
import type { FlagsService } from '../flags.service.js';
import { DOGFOOD_RULE_ID, DOGFOOD_SEGMENT, applyStage, deriveStage, formatPercentage, releaseVariation, type ReleaseStage } from '../../domain/stages.js';
import type { RuleSetCache } from '../rulesets.js';
import type { AuditContext, AuditEntry, Store } from '../../store/ports.js';
import { describeEvidence, planEvidence, type PlanEvidence } from './evidence.js';
import { ACTIVE_STATUSES, toSpec, type PlanInput, type ReleaseEventKind, type ReleasePlan } from '../../domain/releases/plans.js';
import type { EventInput, PlanProgress } from '../../store/release-ports.js';
import type { WebhookDispatcher, WebhookEvent } from './webhooks.js';

export const GUARD_ACTOR = 'release-guard';
export const guardAudit = (message: string): AuditContext => ({ actor: GUARD_ACTOR, source: 'release-guard', message });

export interface ReleasesDeps {
  store: Store;
  ruleSets: RuleSetCache;
  flags: FlagsService;
  webhooks: WebhookDispatcher;
  now: () => number;
}

/**
 * Release plans and their actions. Every action on one plan runs under that plan's lock, so the
 * runner's looks and a person's pause never interleave. A flag change is the flag's own audited
 * write; the plan's progress, its decision-log entry and (for actions that change no flag, or that
 * carry evidence) a `release.*` audit entry are a second, plan-level transaction.
 */
export class ReleasesService {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly deps: ReleasesDeps) {}

  get store() {
    return this.deps.store.releases;
  }

  /** Run `fn` after every earlier action on the same plan has finished. */
  locked<T>(flagKey: string, environment: string, fn: () => Promise<T>): Promise<T> {
    const id = `${environment}\u0000${flagKey}`;
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  async plan(flagKey: string, environment: string): Promise<ReleasePlan> {
    const plan = await this.store.getPlan(flagKey, environment);
    if (!plan) throw AppError.notFound('release plan for flag', `${flagKey}" in "${environment}`);
    return plan;
  }

  async configOf(flagKey: string, environment: string): Promise<{ flag: Flag; config: FlagEnvironment }> {
    const flag = await this.deps.flags.get(flagKey);
    const config = flag.environments[environment];
    if (!config) throw AppError.notFound('environment', environment);
    return { flag, config };
  }

  evidence(plan: ReleasePlan): Promise<PlanEvidence> {
    return planEvidence(this.store, plan);
  }

  async putPlan(flagKey: string, environment: string, input: PlanInput, audit: AuditContext): Promise<ReleasePlan> {
    await this.configOf(flagKey, environment);
    return this.locked(flagKey, environment, async () => {
      const { plan, audit: entry } = await this.store.putPlan(flagKey, environment, toSpec(input), audit);
      this.announce(entry);
      return plan;
    });
  }

  async deletePlan(flagKey: string, environment: string, audit: AuditContext): Promise<void> {
    await this.locked(flagKey, environment, async () => {
      const plan = await this.plan(flagKey, environment);
      if (ACTIVE_STATUSES.includes(plan.status)) throw new AppError('conflict', `the plan is ${plan.status}; abort it first`);
      this.announce(await this.store.deletePlan(plan.id, audit));
    });
  }

  /** Write a stage (and the guard marker) as one audited flag write, published to SDKs. */
  async writeStage(plan: ReleasePlan, stage: ReleaseStage, guarded: boolean, audit: AuditContext): Promise<Flag> {
    const variation = plan.variation;
    if (variation === null) throw new AppError('conflict', 'the plan has not started');
    const write = await this.deps.store.updateFlag(plan.flagKey, undefined, 'flag.stage_changed', plan.environment, (flag) => {
      const current = flag.environments[plan.environment];
      if (!current) throw AppError.notFound('environment', plan.environment);
      const { guarded: _was, ...next } = applyStage(current, stage, variation);
      return { ...flag, environments: { ...flag.environments, [plan.environment]: guarded ? { ...next, guarded: true } : next } };
    }, audit);
    this.deps.ruleSets.publish(write);
    return write.value;
  }

  /** Save progress + log entry (+ audit entry), announce it, and send the webhook. */
  async record(plan: ReleasePlan, progress: PlanProgress, event: EventInput & { kind: ReleaseEventKind }, audit: AuditContext | null): Promise<ReleasePlan> {
    const saved = await this.store.advancePlan(plan, progress, event, audit);
    if (!saved) throw new AppError('conflict', 'the release plan changed meanwhile; reload and retry');
    if (saved.audit) this.announce(saved.audit);
    const hook = `release.${event.kind}`;
    if (hook !== 'release.created' && hook !== 'release.checked' && hook !== 'release.skipped') {
      const step = saved.plan.spec.steps[saved.plan.currentStep];
      await this.deps.webhooks.emit(hook as WebhookEvent, {
        flag: plan.flagKey,
        environment: plan.environment,
        status: saved.plan.status,
        step: saved.plan.currentStep,
        percentage: step?.percentage ?? null,
        message: event.message,
        evidence: event.evidence ?? null,
      });
    }
    return saved.plan;
  }

  private announce(entry: AuditEntry): void {
    this.deps.ruleSets.publish({ changes: [], audit: entry });
  }

  async start(flagKey: string, environment: string, audit: AuditContext): Promise<ReleasePlan> {
    return this.locked(flagKey, environment, async () => {
      const plan = await this.plan(flagKey, environment);
      if (ACTIVE_STATUSES.includes(plan.status)) throw new AppError('conflict', `the plan is already ${plan.status}`);
      if (this.deps.flags.managedBy(flagKey)) throw new AppError('locked', `flag "${flagKey}" is managed by ${this.deps.flags.managedBy(flagKey)}; release it there`);
      const { flag, config } = await this.configOf(flagKey, environment);
      const variation = releaseVariation(flag, config, plan.spec.variation);
      if (variation === undefined || !flag.variations.some((v) => v.key === variation)) throw AppError.invalid('variation', `no variation "${variation ?? ''}" to release`);
      if (variation === config.offVariation) throw AppError.invalid('variation', `"${variation}" is the off variation; releasing it would change nothing`);
      if (!(await this.deps.store.listSegmentKeys()).includes(DOGFOOD_SEGMENT)) throw new AppError('conflict', 'the "internal" (dogfood) segment is missing');
      const now = this.deps.now();
      // A plan never ramps down: a flag already at 20% starts at the first step of at least 20%.
      const stage = deriveStage(config);
      const already = stage.endsWith('%') ? Number(stage.slice(0, -1)) : 0;
      const steps = plan.spec.steps;
      const found = steps.findIndex((s) => s.percentage >= already);
      const index = found === -1 ? steps.length - 1 : found;
      const first = steps[index]!;
      const ready = { ...plan, variation };
      const finishing = first.percentage >= 100;
      await this.writeStage(ready, formatPercentage(first.percentage), !finishing && plan.spec.guard !== null, { ...audit, message: `release plan started: ${first.percentage}%` });
      const progress: PlanProgress = { status: finishing ? 'completed' : 'running', currentStep: index, variation, startedAt: now, stepStartedAt: now, pausedAt: null, pauseReason: null };
      return this.record(plan, progress, { kind: 'started', message: `${variation} to ${first.percentage}%` }, audit);
    });
  }

  async pause(flagKey: string, environment: string, audit: AuditContext, reason?: string): Promise<ReleasePlan> {
    return this.locked(flagKey, environment, () => this.pauseNow(flagKey, environment, audit, reason ?? `paused by ${audit.actor}`));
  }

  /** Pause (caller holds the lock). */
  async pauseNow(flagKey: string, environment: string, audit: AuditContext, reason: string, evidence?: unknown): Promise<ReleasePlan> {
    const plan = await this.plan(flagKey, environment);
    if (plan.status !== 'running') throw new AppError('conflict', `only a running plan can be paused; this one is ${plan.status}`);
    return this.record(plan, { status: 'paused', pausedAt: this.deps.now(), pauseReason: reason }, { kind: 'paused', message: reason, evidence }, { ...audit, message: reason });
  }

  async resume(flagKey: string, environment: string, audit: AuditContext): Promise<ReleasePlan> {
    return this.locked(flagKey, environment, async () => {
      const plan = await this.plan(flagKey, environment);
      if (plan.status !== 'paused') throw new AppError('conflict', `only a paused plan can be resumed; this one is ${plan.status}`);
      const now = this.deps.now();
      const step = plan.spec.steps[plan.currentStep]!;
      const { config } = await this.configOf(flagKey, environment);
      const stage = formatPercentage(step.percentage);
      // Someone may have moved the flag while it was paused: resuming puts the plan's step back.
      if (deriveStage(config) !== stage || Boolean(config.guarded) !== (plan.spec.guard !== null)) {
        await this.writeStage(plan, stage, plan.spec.guard !== null, { ...audit, message: `release plan resumed at ${stage}` });
      }
      // The paused time does not count towards the step's minimum duration.
      const stepStartedAt = (plan.stepStartedAt ?? now) + (now - (plan.pausedAt ?? now));
      return this.record(plan, { status: 'running', pausedAt: null, pauseReason: null, stepStartedAt }, { kind: 'resumed', message: `resumed at ${stage}` }, audit);
    });
  }

  /** Stop the plan; by default roll back to dogfood (0%, internal users keep the new variation). */
  async abort(flagKey: string, environment: string, audit: AuditContext, rollback = true): Promise<ReleasePlan> {
    return this.locked(flagKey, environment, async () => {
      const plan = await this.plan(flagKey, environment);
      if (!ACTIVE_STATUSES.includes(plan.status)) throw new AppError('conflict', `only a running or paused plan can be aborted; this one is ${plan.status}`);
      const { config } = await this.configOf(flagKey, environment);
      const current = deriveStage(config);
      const stage: ReleaseStage = rollback ? 'dogfood' : current === 'custom' ? 'dogfood' : current;
      await this.writeStage(plan, stage, false, { ...audit, message: rollback ? 'release plan aborted: back to dogfood (0%)' : `release plan aborted; the flag stays at ${stage}` });
      return this.record(plan, { status: 'aborted', pausedAt: null }, { kind: 'aborted', message: rollback ? 'rolled back to dogfood (0%)' : `stopped; the flag stays at ${stage}` }, audit);
    });
  }

  /** Move to the next step now, whatever the duration or the exposures. */
  async skip(flagKey: string, environment: string, audit: AuditContext): Promise<ReleasePlan> {
    return this.locked(flagKey, environment, async () => {
      const plan = await this.plan(flagKey, environment);
      if (!ACTIVE_STATUSES.includes(plan.status)) throw new AppError('conflict', `only a running or paused plan can skip a step; this one is ${plan.status}`);
      return this.advanceNow(plan, audit, 'step skipped by hand', await this.evidence(plan), 'skipped');
    });
  }

  /** Advance to the next step, completing the plan at 100% or after its last step (lock held). */
  async advanceNow(plan: ReleasePlan, audit: AuditContext, why: string, evidence: PlanEvidence, kind: 'advanced' | 'skipped' = 'advanced'): Promise<ReleasePlan> {
    const index = plan.currentStep + 1;
    const next = plan.spec.steps[index];
    const summary = describeEvidence(evidence);
    const guarded = plan.spec.guard !== null;
    if (!next) {
      await this.writeStage(plan, formatPercentage(plan.spec.steps[plan.currentStep]!.percentage), false, { ...audit, message: `release plan completed (${summary})` });
      return this.record(plan, { status: 'completed', pausedAt: null, pauseReason: null }, { kind: 'completed', message: `${why}; completed at the last step`, evidence }, audit);
    }
    const stage = formatPercentage(next.percentage);
    const done = next.percentage >= 100;
    await this.writeStage(plan, stage, guarded && !done, { ...audit, message: `${why}: ${stage} (${summary})` });
    const progress: PlanProgress = { status: done ? 'completed' : plan.status, currentStep: index, stepStartedAt: this.deps.now() };
    if (done) Object.assign(progress, { pausedAt: null, pauseReason: null });
    return this.record(plan, progress, { kind: done ? 'completed' : kind, message: `${why}: now ${stage}`, evidence }, audit);
  }

  /** Regression: back to dogfood (0%) at once, with the evidence (lock held). */
  async rollbackNow(plan: ReleasePlan, reason: string, evidence: PlanEvidence): Promise<ReleasePlan> {
    const message = `rolled back to dogfood (0%): ${reason} (${describeEvidence(evidence)})`;
    await this.writeStage(plan, 'dogfood', false, guardAudit(message));
    return this.record(plan, { status: 'rolled_back', pausedAt: null }, { kind: 'rolled_back', message, evidence }, guardAudit(message));
  }

  /** Blue/green: send 100% of traffic to one side of a two-variation flag, atomically. */
  async switchSide(flagKey: string, environment: string, to: string | undefined, expectedVersion: number | undefined, audit: AuditContext): Promise<{ flag: Flag; live: string; previous: string }> {
    const { flag, config } = await this.configOf(flagKey, environment);
    if (flag.variations.length !== 2) throw new AppError('bad_request', `blue/green needs a flag with exactly two variations; "${flagKey}" has ${flag.variations.length}`);
    const active = await this.store.getPlan(flagKey, environment);
    if (active && ACTIVE_STATUSES.includes(active.status)) throw new AppError('conflict', `a release plan is ${active.status} on this flag; abort it first`);
    if (this.deps.flags.managedBy(flagKey)) throw new AppError('locked', `flag "${flagKey}" is managed by ${this.deps.flags.managedBy(flagKey)}`);
    const previous = liveSide(config);
    const target = to ?? flag.variations.find((v) => v.key !== previous)!.key;
    if (!flag.variations.some((v) => v.key === target)) throw AppError.invalid('body.to', `unknown variation "${target}"; this flag has ${flag.variations.map((v) => v.key).join(' and ')}`);
    const write = await this.deps.store.updateFlag(flagKey, expectedVersion, 'flag.switched', environment, (current) => {
      const env = current.environments[environment]!;
      const { guarded: _g, ...rest } = env;
      const next: FlagEnvironment = { ...rest, on: true, killed: false, rules: env.rules.filter((r) => r.id !== DOGFOOD_RULE_ID), defaultServe: { variation: target } };
      return { ...current, environments: { ...current.environments, [environment]: next } };
    }, { ...audit, message: audit.message ?? `blue/green: ${previous} → ${target}` });
    this.deps.ruleSets.publish(write);
    return { flag: write.value, live: target, previous };
  }
}

/** The side a blue/green flag serves to everyone: the default variation when on, else the off one. */
export function liveSide(config: FlagEnvironment): string {
  if (!config.on) return config.offVariation;
  return 'variation' in config.defaultServe ? config.defaultServe.variation : config.offVariation;
}
