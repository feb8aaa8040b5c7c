import { AppError } from '../domain/errors.js';
import { matchesFilter, plansByFlag, summarizeFlag, type FlagFilter, type FlagSummary } from '../domain/flag-summaries.js';
import { LISTED_PLAN_STATUSES } from '../domain/flag-summaries.js';
import type { Tx } from '../store/ports.js';
import type { Writes } from './write.js';

/**
 * The flag list as the dashboard's rows need it (see domain/flag-summaries.ts). Flags and their
 * active release plans are read in one transaction, so a row never shows a plan of another state.
 */
export class FlagSummariesService {
  constructor(private readonly w: Writes) {}

  /** `filter.environment` also narrows each summary to that environment, which must exist. */
  async list(filter: FlagFilter): Promise<FlagSummary[]> {
    return this.w.read(async (tx) => {
      await this.assertEnvironment(tx, filter.environment);
      const flags = await this.w.repos.flags.list(tx);
      const plans = plansByFlag(await this.w.repos.plans.list(tx, LISTED_PLAN_STATUSES));
      return flags.filter(({ value }) => matchesFilter(value, filter)).map(({ value, managedBy }) => summarizeFlag(value, managedBy, plans.get(value.key), filter.environment));
    });
  }

  async get(key: string, environment?: string): Promise<FlagSummary> {
    return this.w.read(async (tx) => {
      await this.assertEnvironment(tx, environment);
      const found = await this.w.repos.flags.get(tx, key);
      if (!found) throw AppError.notFound('flag', key);
      const plans = (await this.w.repos.plans.list(tx, LISTED_PLAN_STATUSES)).filter((plan) => plan.flagKey === key);
      return summarizeFlag(found.value, found.managedBy, plansByFlag(plans).get(key), environment);
    });
  }

  /** An unknown environment is the caller's mistake (a typo would otherwise look like "no flags"). */
  private async assertEnvironment(tx: Tx, environment: string | undefined): Promise<void> {
    if (environment !== undefined && !(await this.w.repos.environments.get(tx, environment))) {
      throw AppError.invalid('query.environment', `unknown environment "${environment}"`);
    }
  }
}
