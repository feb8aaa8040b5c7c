import { METRICS_WINDOW_MS } from '../../domain/releases/metrics.js';
import type { ReleasePlan } from '../../domain/releases/plans.js';
import { formatPercentage, rampStage } from '../../domain/stages.js';
import { PeriodicLoop } from '../periodic-loop.js';
import { GUARD_ACTOR, guardAudit } from './plan-steps.js';
import type { ReleasesService } from './releases.service.js';

export interface RunnerOptions {
  /** How often every running plan is looked at (also on each metrics upload for its flag). */
  tickMs?: number;
  /** Metrics older than this are pruned. */
  retentionMs?: number;
  log?: (message: string, error?: unknown) => void;
}

const DEFAULT_TICK_MS = 5000;
const DEFAULT_RETENTION_MS = 30 * 24 * 60 * 60_000;
const PRUNE_EVERY_MS = 60 * 60_000;

/**
 * Runs release plans by themselves: at every look, a running plan is rolled back on a regression,
 * paused when its flag was changed behind its back or its data stopped, and advanced when its step
 * is healthy for long enough. It runs on the leader replica only; all state is in the database, so
 * a new leader (or a restarted server) carries on, and each step is one compare-and-set transaction
 * on the plan's version, so no step is ever taken twice.
 */
export class ReleaseRunner {
  private readonly loop: PeriodicLoop<void>;
  private readonly poked = new Set<string>();
  private pokeScheduled = false;
  private readonly looking = new Set<Promise<void>>();
  private lastPrune = 0;

  constructor(
    private readonly service: ReleasesService,
    private readonly options: RunnerOptions = {},
  ) {
    this.loop = new PeriodicLoop(options.tickMs ?? DEFAULT_TICK_MS, () => this.lookAtAll());
  }

  get running(): boolean {
    return this.loop.running;
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.all(this.looking);
  }

  /** New metrics for a flag: look at its plan soon (coalesced). Only while this replica runs plans. */
  poke(environment: string, flagKey: string): void {
    if (!this.running) return;
    this.poked.add(`${environment}\u0000${flagKey}`);
    if (this.pokeScheduled) return;
    this.pokeScheduled = true;
    setImmediate(() => {
      this.pokeScheduled = false;
      const ids = [...this.poked];
      this.poked.clear();
      for (const id of ids) {
        const [env, key] = id.split('\u0000') as [string, string];
        void this.lookAt(key, env);
      }
    });
  }

  /** Look at every running plan once. */
  tick(): Promise<void> {
    return this.loop.tick();
  }

  private async lookAtAll(): Promise<void> {
    try {
      const plans = await this.service.runningPlans();
      await Promise.all(plans.map((p) => this.lookAt(p.flagKey, p.environment)));
      const now = this.service.now();
      if (now - this.lastPrune > PRUNE_EVERY_MS) {
        this.lastPrune = now;
        await this.service.pruneMetrics(now - (this.options.retentionMs ?? DEFAULT_RETENTION_MS));
      }
    } catch (error) {
      this.options.log?.('release runner tick failed', error);
    }
  }

  /** One look at one plan. Errors are logged, never thrown into timers. */
  lookAt(flagKey: string, environment: string): Promise<void> {
    const look = (async () => {
      try {
        const plan = await this.service.findPlan(flagKey, environment);
        if (plan?.status === 'running') await this.look(plan);
      } catch (error) {
        this.options.log?.(`release plan ${flagKey}/${environment}: look failed`, error);
      }
    })();
    this.looking.add(look);
    void look.finally(() => this.looking.delete(look));
    return look;
  }

  private async look(plan: ReleasePlan): Promise<void> {
    const { service } = this;
    const now = service.now();
    const flag = await service.configOf(plan.flagKey, plan.environment).catch(() => undefined);
    if (!flag || flag.flag.value.archived) {
      const message = 'release plan aborted: the flag was deleted or archived';
      await service.runnerStep(plan, guardAudit(message), (tx, at, p) => service.steps.progressIn(tx, at, p, { status: 'aborted' }, { kind: 'aborted', message: 'the flag was deleted or archived' }, guardAudit(message)));
      return;
    }
    const { config } = flag;
    const step = plan.spec.steps[plan.currentStep]!;
    const expected = formatPercentage(step.percentage);
    const guard = plan.spec.guard;
    // Other rules and targets aside (a step keeps them): is the flag still at the plan's step?
    const stage = rampStage(config);
    if (stage !== expected || (guard !== null && !config.guarded)) {
      const reason = `paused: the flag was changed outside the plan (now ${stage}, the plan expects ${expected})`;
      await service.runnerStep(plan, guardAudit(reason), (tx, at, p) => service.steps.pauseIn(tx, at, p, guardAudit(''), reason));
      return;
    }
    const evidence = await service.evidence(plan);
    if (guard) {
      let regression: string | undefined;
      if (evidence.errors?.verdict === 'regression') regression = `the new variation's "${guard.errorEvent}" rate is significantly higher than the control's`;
      else if (evidence.latency?.verdict === 'regression') regression = `the new variation's p95 "${guard.latency!.event}" is more than ${Math.round(guard.latency!.maxRelativeIncrease * 100)}% above the control's`;
      if (regression !== undefined) {
        await service.runnerStep(plan, guardAudit(regression), (tx, at, p) => service.steps.rollbackIn(tx, at, p, regression, evidence));
        return;
      }
      const last = await service.lastExposureAt(plan.environment, plan.flagKey);
      const silentFor = last === null ? now - (plan.startedAt ?? now) : now - (last + METRICS_WINDOW_MS);
      if (silentFor > guard.maxSilenceMs) {
        const reason = `paused: no exposures for ${Math.round(silentFor / 1000)} s (are the SDKs sending metrics?)`;
        await service.runnerStep(plan, guardAudit(reason), (tx, at, p) => service.steps.pauseIn(tx, at, p, guardAudit(reason), reason, evidence));
        return;
      }
    }
    const elapsed = now - (plan.stepStartedAt ?? now);
    const enoughData = guard === null || (evidence.stepExposures >= step.minExposures && evidence.errors !== null && evidence.errors.verdict !== 'insufficient_data');
    if (elapsed >= step.minDurationMs && enoughData) {
      const why = guard ? `healthy for ${Math.round(elapsed / 1000)} s with ${evidence.stepExposures} exposures` : `${Math.round(elapsed / 1000)} s at ${expected}`;
      const ctx = { actor: GUARD_ACTOR, source: 'release-guard' as const };
      await service.runnerStep(plan, ctx, (tx, at, p) => service.steps.advanceIn(tx, at, p, ctx, why, evidence));
    }
  }
}
