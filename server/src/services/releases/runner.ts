import { deriveStage, formatPercentage } from '../../domain/stages.js';
import { METRICS_WINDOW_MS } from './evidence.js';
import type { ReleasePlan } from '../../domain/releases/plans.js';
import { GUARD_ACTOR, guardAudit, type ReleasesService } from './releases.service.js';

export interface RunnerOptions {
  /** How often every running plan is looked at (also on each metrics upload for its flag). */
  tickMs?: number;
  /** Metrics older than this are pruned. */
  retentionMs?: number;
  log?: (message: string, error?: unknown) => void;
}

const DEFAULT_TICK_MS = 5000;
const DEFAULT_RETENTION_MS = 30 * 24 * 60 * 60_000;

/**
 * Runs release plans by themselves: at every look, a running plan is rolled back on a regression,
 * paused when its flag was changed behind its back or its data stopped, and advanced when its step
 * is healthy for long enough. All state is in the database, so `start()` after a restart resumes.
 */
export class ReleaseRunner {
  private timer: NodeJS.Timeout | undefined;
  private readonly poked = new Set<string>();
  private pokeScheduled = false;
  private ticking: Promise<void> | null = null;
  private lastPrune = 0;

  constructor(
    private readonly service: ReleasesService,
    private readonly options: RunnerOptions = {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.options.tickMs ?? DEFAULT_TICK_MS);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /** New metrics for a flag: look at its plan soon (coalesced). */
  poke(environment: string, flagKey: string): void {
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
    this.ticking ??= (async () => {
      try {
        const plans = await this.service.store.listPlans(['running']);
        await Promise.all(plans.map((p) => this.lookAt(p.flagKey, p.environment)));
        const now = this.service.deps.now();
        if (now - this.lastPrune > 60 * 60_000) {
          this.lastPrune = now;
          await this.service.store.pruneMetrics(now - (this.options.retentionMs ?? DEFAULT_RETENTION_MS));
        }
      } catch (error) {
        this.options.log?.('release runner tick failed', error);
      } finally {
        this.ticking = null;
      }
    })();
    return this.ticking;
  }

  /** One look at one plan, under its lock. Errors are logged, never thrown into timers. */
  async lookAt(flagKey: string, environment: string): Promise<void> {
    try {
      await this.service.locked(flagKey, environment, async () => {
        const plan = await this.service.store.getPlan(flagKey, environment);
        if (plan?.status === 'running') await this.look(plan);
      });
    } catch (error) {
      this.options.log?.(`release plan ${flagKey}/${environment}: look failed`, error);
    }
  }

  private async look(plan: ReleasePlan): Promise<void> {
    const { service } = this;
    const now = service.deps.now();
    const flag = await service.deps.store.getFlag(plan.flagKey);
    const config = flag?.environments[plan.environment];
    if (!flag || !config || flag.archived) {
      await service.record(plan, { status: 'aborted' }, { kind: 'aborted', message: 'the flag was deleted or archived' }, guardAudit('release plan aborted: the flag was deleted or archived'));
      return;
    }
    const step = plan.spec.steps[plan.currentStep]!;
    const expected = formatPercentage(step.percentage);
    const guard = plan.spec.guard;
    const stage = deriveStage(config);
    if (stage !== expected || (guard !== null && !config.guarded)) {
      await service.pauseNow(plan.flagKey, plan.environment, guardAudit(''), `paused: the flag was changed outside the plan (now ${stage}, the plan expects ${expected})`);
      return;
    }
    const evidence = await service.evidence(plan);
    if (guard) {
      if (evidence.errors?.verdict === 'regression') {
        await service.rollbackNow(plan, `the new variation's "${guard.errorEvent}" rate is significantly higher than the control's`, evidence);
        return;
      }
      if (evidence.latency?.verdict === 'regression') {
        await service.rollbackNow(plan, `the new variation's p95 "${guard.latency!.event}" is more than ${Math.round(guard.latency!.maxRelativeIncrease * 100)}% above the control's`, evidence);
        return;
      }
      const last = await service.store.lastExposureAt(plan.environment, plan.flagKey);
      const silentFor = last === null ? now - (plan.startedAt ?? now) : now - (last + METRICS_WINDOW_MS);
      if (silentFor > guard.maxSilenceMs) {
        const reason = `paused: no exposures for ${Math.round(silentFor / 1000)} s (are the SDKs sending metrics?)`;
        await service.pauseNow(plan.flagKey, plan.environment, guardAudit(reason), reason, evidence);
        return;
      }
    }
    const elapsed = now - (plan.stepStartedAt ?? now);
    const enoughData = guard === null || (evidence.stepExposures >= step.minExposures && evidence.errors !== null && evidence.errors.verdict !== 'insufficient_data');
    if (elapsed >= step.minDurationMs && enoughData) {
      const why = guard ? `healthy for ${Math.round(elapsed / 1000)} s with ${evidence.stepExposures} exposures` : `${Math.round(elapsed / 1000)} s at ${expected}`;
      await service.advanceNow(plan, { actor: GUARD_ACTOR, source: 'release-guard' }, why, evidence);
    }
  }
}
