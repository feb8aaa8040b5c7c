import { AppError } from '../domain/errors.js';
import { matchesFilter, plansByFlag, summarizeFlag, type FlagFilter, type FlagSummary } from '../domain/flag-summaries.js';
import { LISTED_PLAN_STATUSES } from '../domain/flag-summaries.js';
import type { Tx } from '../store/ports.js';
import type { LifecycleService } from './lifecycle.service.js';
import type { Writes } from './write.js';

/**
 * The flag list as the dashboard's rows need it (see domain/flag-summaries.ts). Flags and their
 * active release plans are read in one transaction, so a row never shows a plan of another state.
 */
export class FlagSummariesService {
  constructor(
    private readonly w: Writes,
    private readonly lifecycle: LifecycleService,
  ) {}

  /** `filter.environment` also narrows each summary to that environment, which must exist. */
  async list(filter: FlagFilter): Promise<FlagSummary[]> {
    return this.w.read(async (tx) => {
      await this.assertEnvironment(tx, filter.environment);
      const flags = await this.w.repos.flags.list(tx);
      const plans = plansByFlag(await this.w.repos.plans.list(tx, LISTED_PLAN_STATUSES));
      const matching = flags.filter(({ value }) => matchesFilter(value, filter));
      const lifecycles = await this.lifecycle.of(tx, matching.map((f) => f.value));
      const evaluated = await this.lastEvaluated(tx, filter.environment);
      return matching
        .map(({ value, managedBy }) => ({ ...withLastEvaluated(summarizeFlag(value, managedBy, plans.get(value.key), filter.environment), evaluated), lifecycle: lifecycles.get(value.key)! }))
        .filter((summary) => filter.lifecycle === undefined || summary.lifecycle === filter.lifecycle);
    });
  }

  async get(key: string, environment?: string): Promise<FlagSummary> {
    return this.w.read(async (tx) => {
      await this.assertEnvironment(tx, environment);
      const found = await this.w.repos.flags.get(tx, key);
      if (!found) throw AppError.notFound('flag', key);
      const plans = (await this.w.repos.plans.list(tx, LISTED_PLAN_STATUSES)).filter((plan) => plan.flagKey === key);
      const lifecycle = (await this.lifecycle.of(tx, [found.value])).get(key)!;
      const evaluated = await this.lastEvaluated(tx, environment);
      return { ...withLastEvaluated(summarizeFlag(found.value, found.managedBy, plansByFlag(plans).get(key), environment), evaluated), lifecycle };
    });
  }

  /** Last evaluations by flag key and environment (`JSON.stringify([flag, environment])`). */
  private async lastEvaluated(tx: Tx, environment: string | undefined): Promise<Map<string, number>> {
    const rows = await this.w.repos.evaluations.lastEvaluated(tx, environment);
    return new Map(rows.map((r) => [JSON.stringify([r.flagKey, r.environment]), r.at]));
  }

  /** An unknown environment is the caller's mistake (a typo would otherwise look like "no flags"). */
  private async assertEnvironment(tx: Tx, environment: string | undefined): Promise<void> {
    if (environment !== undefined && !(await this.w.repos.environments.get(tx, environment))) {
      throw AppError.invalid('query.environment', `unknown environment "${environment}"`);
    }
  }
}

/** Each environment's last evaluation (evaluation insights) filled in. */
function withLastEvaluated<S extends Pick<FlagSummary, 'key' | 'environments'>>(summary: S, evaluated: ReadonlyMap<string, number>): S {
  for (const [environment, entry] of Object.entries(summary.environments)) entry.lastEvaluatedAt = evaluated.get(JSON.stringify([summary.key, environment])) ?? null;
  return summary;
}
