import type { AuditContext } from '../../domain/audit.js';
import { AppError } from '../../domain/errors.js';
import type { Flag, FlagEnvironment, Managed } from '../../domain/flags.js';
import { planEvidence, type PlanEvidence } from '../../domain/releases/evidence.js';
import { EXPOSURE_METRIC, aggregateCounts, windowStart, type MetricCount, type MetricPoint, type MetricSource } from '../../domain/releases/metrics.js';
import { ACTIVE_STATUSES, toSpec, type EventInput, type PlanInput, type ReleaseEvent, type ReleasePlan } from '../../domain/releases/plans.js';
import { capSourceShares, cappedTotals } from '../../domain/releases/sources.js';
import { DOGFOOD_RULE_ID } from '../../domain/stages.js';
import type { Tx } from '../../store/ports.js';
import { configIn, type FlagsService } from '../flags.service.js';
import { assertDirectWriteAllowed } from '../change-requests/policy-guard.js';
import { RowMoved, type Writes } from '../write.js';
import { PlanSteps, type PlanStep } from './plan-steps.js';

export { GUARD_ACTOR, guardAudit, type PlanStep } from './plan-steps.js';

/**
 * Where approvals are required, what to do instead of starting or resuming a plan by hand: a change
 * request that does it (pinned to the plan's and the flag's versions), applied once approved.
 * (Pausing and aborting only reduce exposure, like the kill switch: they always work. A plan started
 * before the policy was set keeps running: pause or abort it.)
 */
const requestInstead = (action: 'start' | 'resume') =>
  `create a change request that ${action}s it once approved (POST …/release-plan/${action}?changeRequest=true answers 202 with the request; the CLI: "switchyard flags ${action}-plan KEY ENV --request TITLE"; the dashboard's canary console does it for you)${action === 'resume' ? ', or abort the plan' : ''}`;
/** Advancing by hand cannot be requested: the plan advances by itself, or is ramped through stage change requests. */
const SKIP_INSTEAD =
  'a change request cannot skip a step: let the plan advance by itself, or pause it and ramp through stage change requests (which can be scheduled: "switchyard schedule request ID --at TIME"), or abort it';

/**
 * Metrics uploads one SDK key may make per minute, over all replicas (the counters are in the
 * database). An SDK instance uploads every 5 s (12 a minute), so this admits 100 instances sharing
 * one key at the default interval; a refused SDK retries with backoff, merging its counts, so a
 * busier fleet is slowed down, not silenced. `serve --metrics-uploads-per-minute` changes it.
 */
export const DEFAULT_METRICS_UPLOADS_PER_MINUTE = 1200;
const UPLOAD_WINDOW_MS = 60_000;

export interface ReleasesOptions {
  metricsUploadsPerMinute?: number;
}

/**
 * Release plans and their actions. Each action — the flag's stage change, the plan's progress
 * (compare-and-set on its version), its decision-log entry, its audit entry and its webhooks — is
 * ONE transaction: a replica dying half-way leaves nothing half-done, and two replicas (or a person
 * and the runner) acting on one plan at once cannot both succeed.
 */
export class ReleasesService {
  private readonly uploadsPerMinute: number;
  /** The plan's steps inside a caller's transaction (change requests, the runner). */
  readonly steps: PlanSteps;

  constructor(
    private readonly w: Writes,
    private readonly flags: FlagsService,
    options: ReleasesOptions = {},
  ) {
    this.uploadsPerMinute = options.metricsUploadsPerMinute ?? DEFAULT_METRICS_UPLOADS_PER_MINUTE;
    this.steps = new PlanSteps(w, flags);
  }

  get now(): () => number {
    return this.w.now;
  }

  async plan(flagKey: string, environment: string): Promise<ReleasePlan> {
    const plan = await this.w.read((tx) => this.w.repos.plans.get(tx, flagKey, environment));
    if (!plan) throw AppError.notFound('release plan for flag', `${flagKey}" in "${environment}`);
    return plan;
  }

  findPlan(flagKey: string, environment: string): Promise<ReleasePlan | undefined> {
    return this.w.read((tx) => this.w.repos.plans.get(tx, flagKey, environment));
  }

  runningPlans(): Promise<ReleasePlan[]> {
    return this.w.read((tx) => this.w.repos.plans.list(tx, ['running']));
  }

  events(flagKey: string, environment: string, limit: number): Promise<ReleaseEvent[]> {
    return this.w.read((tx) => this.w.repos.plans.events(tx, flagKey, environment, limit));
  }

  metricSeries(environment: string, flagKey: string, since: number): Promise<MetricPoint[]> {
    return this.w.read((tx) => this.w.repos.metrics.series(tx, environment, flagKey, since));
  }

  lastExposureAt(environment: string, flagKey: string): Promise<number | null> {
    return this.w.read((tx) => this.w.repos.metrics.lastExposureAt(tx, environment, flagKey));
  }

  /**
   * Count a metrics upload against its SDK key's per-minute limit (shared by every replica).
   * Returns null when admitted, else the milliseconds until the key's next window.
   */
  async admitUpload(keyId: number): Promise<{ retryAfterMs: number } | null> {
    const now = this.w.now();
    const start = windowStart(now, UPLOAD_WINDOW_MS);
    const count = await this.w.db.transaction((tx) => this.w.repos.metrics.countUpload(tx, keyId, start));
    return count > this.uploadsPerMinute ? { retryAfterMs: start + UPLOAD_WINDOW_MS - now } : null;
  }

  /** Flags with a running guarded plan in `environment`: the only ones whose metrics are kept. */
  async guardedFlags(environment: string): Promise<Set<string>> {
    const running = await this.runningPlans();
    return new Set(running.filter((p) => p.environment === environment && p.spec.guard !== null).map((p) => p.flagKey));
  }

  /** SDK metrics: added in place (in total and for their SDK key), so uploads to several replicas at once all count. */
  async addMetrics(environment: string, counts: readonly MetricCount[], source: MetricSource): Promise<void> {
    const at = this.w.now();
    const merged = aggregateCounts(counts);
    await this.w.db.transaction((tx) => this.w.repos.metrics.add(tx, environment, windowStart(at), merged, source));
  }

  async pruneMetrics(before: number): Promise<void> {
    const uploadsBefore = windowStart(this.w.now(), UPLOAD_WINDOW_MS) - UPLOAD_WINDOW_MS;
    await this.w.db.transaction(async (tx) => {
      await this.w.repos.metrics.prune(tx, before);
      await this.w.repos.metrics.pruneUploads(tx, uploadsBefore);
    });
  }

  async configOf(flagKey: string, environment: string): Promise<{ flag: Managed<Flag>; config: FlagEnvironment }> {
    const flag = await this.flags.get(flagKey);
    return { flag, config: configIn(flag.value, environment) };
  }

  /**
   * What the guard sees: cumulative counts since the plan started, and the current step's, each
   * with every SDK key's share of a count capped (`domain/releases/sources.ts`).
   */
  async evidence(plan: ReleasePlan): Promise<PlanEvidence> {
    return this.w.read(async (tx) => {
      const { metrics } = this.w.repos;
      if (plan.startedAt === null) return planEvidence(plan, [], []);
      const guard = plan.spec.guard;
      const used = [EXPOSURE_METRIC, ...(guard ? [guard.errorEvent] : []), ...(guard?.latency ? [guard.latency.event] : [])];
      const since = async (at: number) => {
        const totals = await metrics.totals(tx, plan.environment, plan.flagKey, windowStart(at));
        const contributions = capSourceShares(await metrics.sourceTotals(tx, plan.environment, plan.flagKey, windowStart(at), used));
        return { totals: cappedTotals(totals, contributions), contributions };
      };
      const all = await since(plan.startedAt);
      const step = plan.stepStartedAt === null ? { totals: [] } : await since(plan.stepStartedAt);
      return planEvidence(plan, all.totals, step.totals, all.contributions);
    });
  }

  async putPlan(flagKey: string, environment: string, input: PlanInput, ctx: AuditContext): Promise<ReleasePlan> {
    const spec = toSpec(input);
    return this.w.write(ctx, async (tx, at) => {
      const { repos } = this.w;
      const flag = await repos.flags.get(tx, flagKey);
      if (!flag) throw AppError.notFound('flag', flagKey);
      configIn(flag.value, environment);
      const existing = await repos.plans.get(tx, flagKey, environment);
      if (existing && ACTIVE_STATUSES.includes(existing.status)) {
        throw new AppError('conflict', `the release plan of "${flagKey}" in ${environment} is ${existing.status}; abort it before replacing it`);
      }
      const fields = { flagKey, environment, spec, status: 'ready' as const, currentStep: -1, variation: null, pauseReason: null, startedAt: null, stepStartedAt: null, pausedAt: null, updatedAt: at, updatedBy: ctx.actor };
      let plan: ReleasePlan;
      if (existing) {
        plan = { ...existing, ...fields, version: existing.version + 1 };
        if (!(await repos.plans.update(tx, plan, existing.version))) throw new RowMoved('release plan');
      } else {
        plan = await repos.plans.insert(tx, { ...fields, version: 1 });
      }
      await this.steps.logEvent(tx, at, plan, { kind: 'created', message: `${spec.strategy} plan: ${spec.steps.map((s) => `${s.percentage}%`).join(' → ')}`, evidence: spec }, ctx.actor);
      return { value: plan, change: { audit: [{ action: 'release.plan_saved', resourceType: 'flag', resourceKey: flagKey, environment, before: null, after: spec }] } };
    });
  }

  async deletePlan(flagKey: string, environment: string, ctx: AuditContext): Promise<void> {
    await this.w.write(ctx, async (tx) => {
      const plan = await this.planIn(tx, flagKey, environment);
      if (ACTIVE_STATUSES.includes(plan.status)) throw new AppError('conflict', `the plan is ${plan.status}; abort it first`);
      if (!(await this.w.repos.plans.delete(tx, plan.id))) throw new RowMoved('release plan');
      return { value: undefined, change: { audit: [{ action: 'release.plan_deleted', resourceType: 'flag', resourceKey: flagKey, environment, before: null, after: null }] } };
    });
  }

  private async planIn(tx: Tx, flagKey: string, environment: string): Promise<ReleasePlan> {
    const plan = await this.w.repos.plans.get(tx, flagKey, environment);
    if (!plan) throw AppError.notFound('release plan for flag', `${flagKey}" in "${environment}`);
    return plan;
  }

  /** A decision-log entry only (a periodic check's evidence): no audit entry, no feed entry. */
  async addEvent(plan: ReleasePlan, event: EventInput, actor: string): Promise<void> {
    await this.w.db.transaction((tx) => this.steps.logEvent(tx, this.w.now(), plan, event, actor));
  }

  /** Run one plan action as one write; `act` reads the plan inside the transaction. */
  private act(flagKey: string, environment: string, ctx: AuditContext, act: (tx: Tx, at: number, plan: ReleasePlan) => Promise<PlanStep>): Promise<ReleasePlan> {
    return this.w.write(ctx, async (tx, at) => {
      const { plan, change } = await act(tx, at, await this.planIn(tx, flagKey, environment));
      return { value: plan, change };
    });
  }

  async start(flagKey: string, environment: string, ctx: AuditContext): Promise<ReleasePlan> {
    return this.act(flagKey, environment, ctx, async (tx, at, plan) => {
      if (ACTIVE_STATUSES.includes(plan.status)) throw new AppError('conflict', `the plan is already ${plan.status}`);
      // Starting moves the flag (and lets the runner ramp it): a production change where approvals are required.
      await assertDirectWriteAllowed(this.w.repos, tx, `starting the release plan of flag "${flagKey}"`, environment, requestInstead('start'));
      return this.steps.startIn(tx, at, plan, ctx);
    });
  }

  async pause(flagKey: string, environment: string, ctx: AuditContext, reason?: string): Promise<ReleasePlan> {
    return this.act(flagKey, environment, ctx, (tx, at, plan) => this.steps.pauseIn(tx, at, plan, ctx, reason ?? `paused by ${ctx.actor}`));
  }

  async resume(flagKey: string, environment: string, ctx: AuditContext): Promise<ReleasePlan> {
    return this.act(flagKey, environment, ctx, async (tx, at, plan) => {
      if (plan.status !== 'paused') throw new AppError('conflict', `only a paused plan can be resumed; this one is ${plan.status}`);
      await assertDirectWriteAllowed(this.w.repos, tx, `resuming the release plan of flag "${flagKey}"`, environment, requestInstead('resume'));
      return this.steps.resumeIn(tx, at, plan, ctx);
    });
  }

  /** Stop the plan; by default roll back to dogfood (0%, internal users keep the new variation). */
  async abort(flagKey: string, environment: string, ctx: AuditContext, rollback = true): Promise<ReleasePlan> {
    return this.act(flagKey, environment, ctx, (tx, at, plan) => this.steps.abortIn(tx, at, plan, ctx, rollback));
  }

  /** Move to the next step now, whatever the duration or the exposures. */
  async skip(flagKey: string, environment: string, ctx: AuditContext): Promise<ReleasePlan> {
    const evidence = await this.evidence(await this.plan(flagKey, environment));
    return this.act(flagKey, environment, ctx, async (tx, at, plan) => {
      if (!ACTIVE_STATUSES.includes(plan.status)) throw new AppError('conflict', `only a running or paused plan can skip a step; this one is ${plan.status}`);
      await assertDirectWriteAllowed(this.w.repos, tx, `advancing the release plan of flag "${flagKey}" by hand`, environment, SKIP_INSTEAD);
      return this.steps.advanceIn(tx, at, plan, ctx, 'step skipped by hand', evidence, 'skipped');
    });
  }

  /**
   * One write by the runner on a plan it looked at: applied only if the plan is still at the
   * version the runner judged (else someone acted meanwhile and the look is moot).
   */
  async runnerStep(seen: ReleasePlan, ctx: AuditContext, step: (tx: Tx, at: number, plan: ReleasePlan) => Promise<PlanStep>): Promise<ReleasePlan | undefined> {
    try {
      return await this.w.write(ctx, async (tx, at) => {
        const plan = await this.w.repos.plans.get(tx, seen.flagKey, seen.environment);
        if (!plan || plan.version !== seen.version) throw new StaleLook();
        const done = await step(tx, at, plan);
        return { value: done.plan, change: done.change };
      });
    } catch (error) {
      if (error instanceof StaleLook) return undefined;
      throw error;
    }
  }

  /** Blue/green: send 100% of traffic to one side of a two-variation flag, atomically. */
  async switchSide(flagKey: string, environment: string, to: string | undefined, expected: number | undefined, ctx: AuditContext): Promise<{ flag: Managed<Flag>; live: string; previous: string }> {
    return this.w.write(ctx, async (tx, at) => {
      const active = await this.w.repos.plans.get(tx, flagKey, environment);
      if (active && ACTIVE_STATUSES.includes(active.status)) throw new AppError('conflict', `a release plan is ${active.status} on this flag; abort it first`);
      // Sends everyone to the other side: a targeting change request does that where approvals are required.
      await assertDirectWriteAllowed(this.w.repos, tx, `switching flag "${flagKey}" to the other side (blue/green)`, environment);
      const found = await this.w.repos.flags.get(tx, flagKey);
      if (!found) throw AppError.notFound('flag', flagKey);
      const { variations } = found.value;
      if (variations.length !== 2) throw new AppError('bad_request', `blue/green needs a flag with exactly two variations; "${flagKey}" has ${variations.length}`);
      const previous = liveSide(configIn(found.value, environment));
      const target = to ?? variations.find((v) => v.key !== previous)!.key;
      if (!variations.some((v) => v.key === target)) throw AppError.invalid('body.to', `unknown variation "${target}"; this flag has ${variations.map((v) => v.key).join(' and ')}`);
      const options = { action: 'flag.switched', environment, message: ctx.message ?? `blue/green: ${previous} → ${target}` };
      const { value: flag, change } = await this.flags.changeIn(tx, at, ctx, flagKey, expected, options, (current) => {
        const { guarded: _g, ...config } = configIn(current, environment);
        const next: FlagEnvironment = { ...config, on: true, killed: false, rules: config.rules.filter((r) => r.id !== DOGFOOD_RULE_ID), defaultServe: { variation: target } };
        return { ...current, environments: { ...current.environments, [environment]: next } };
      });
      return { value: { flag, live: target, previous }, change };
    });
  }
}

class StaleLook extends Error {}

/** The side a blue/green flag serves to everyone: the default variation when on, else the off one. */
export function liveSide(config: FlagEnvironment): string {
  if (!config.on) return config.offVariation;
  return 'variation' in config.defaultServe ? config.defaultServe.variation : config.offVariation;
}
