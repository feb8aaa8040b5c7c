import type { AuditEntry } from '../domain/audit.js';
import type { Flag } from '../domain/flags.js';
import { DAY_MS, DEFAULT_LIFECYCLE_THRESHOLDS, launchedFor, lifecycleOf, servingChangedAt, type Lifecycle, type LifecycleThresholds } from '../domain/lifecycle.js';
import type { Tx } from '../store/ports.js';
import type { Writes } from './write.js';

/** The last evaluation of each flag in each environment (the evaluations store's `lastEvaluated`). */
export type LastEvaluatedSource = (tx: Tx) => Promise<readonly { flagKey: string; environment: string; at: number }[]>;

export interface LifecycleOptions {
  thresholds?: Partial<LifecycleThresholds>;
  /** Without it, evaluations are not tracked: no flag is concluded unused (see domain/lifecycle.ts). */
  lastEvaluated?: LastEvaluatedSource;
}

/** Audit entries read per settled flag: more than a flag sees in a month. */
const HISTORY_LIMIT = 200;

/**
 * Lifecycles of flags (domain/lifecycle.ts), from what the database knows: when each environment
 * reached what it serves (the audit log, read only for flags that serve one variation everywhere:
 * the others cannot be launched), the last evaluations, and the code references.
 */
export class LifecycleService {
  readonly thresholds: LifecycleThresholds;

  constructor(
    private readonly w: Writes,
    private readonly options: LifecycleOptions = {},
  ) {
    this.thresholds = { ...DEFAULT_LIFECYCLE_THRESHOLDS, ...options.thresholds };
  }

  /** Each flag's lifecycle, in a read of its own. */
  async forFlags(flags: readonly Flag[]): Promise<Map<string, Lifecycle>> {
    return this.w.read((tx) => this.of(tx, flags));
  }

  /** Each flag's lifecycle, read inside `tx`. */
  async of(tx: Tx, flags: readonly Flag[]): Promise<Map<string, Lifecycle>> {
    const { repos } = this.w;
    const now = this.w.now();
    // Only flags serving one variation everywhere can be launched: their histories, in one read.
    const windowStart = now - Math.max(this.thresholds.launchedAfterDays, this.thresholds.staleAfterDays) * DAY_MS;
    const settled = new Set(flags.filter((flag) => launchedFor({ flag, servingSince: {}, now }) !== undefined).map((flag) => flag.key));
    // The reads go out together (pipelined on PostgreSQL).
    const [evaluated, counts, scanned, histories] = await Promise.all([
      this.options.lastEvaluated?.(tx),
      repos.codeRefs.counts(tx),
      repos.codeRefs.hasUploads(tx),
      repos.audit.recentByResource(tx, 'flag', [...settled], windowStart, HISTORY_LIMIT),
    ]);
    const lastEvaluated = new Map<string, Record<string, number>>();
    for (const { flagKey, environment, at } of evaluated ?? []) {
      let byEnv = lastEvaluated.get(flagKey);
      if (!byEnv) lastEvaluated.set(flagKey, (byEnv = {}));
      byEnv[environment] = Math.max(at, byEnv[environment] ?? 0);
    }
    const result = new Map<string, Lifecycle>();
    for (const flag of flags) {
      result.set(
        flag.key,
        lifecycleOf({
          flag,
          servingSince: settled.has(flag.key) ? servingSince(flag, histories.get(flag.key) ?? [], windowStart) : {},
          lastEvaluatedAt: evaluated === undefined ? undefined : (lastEvaluated.get(flag.key) ?? {}),
          codeRefs: scanned ? { references: counts.get(flag.key) ?? 0 } : undefined,
          now,
          thresholds: this.thresholds,
        }),
      );
    }
    return result;
  }
}

/**
 * When each environment started serving what it serves, from the flag's newest audit entries in
 * the longest period a threshold looks at. Nothing found there: at least that long ago.
 */
function servingSince(flag: Flag, history: readonly AuditEntry[], windowStart: number): Record<string, number> {
  // A full page may not reach back to the window's start: then the oldest entry read is as far as we know.
  const floor = history.length === HISTORY_LIMIT ? history.at(-1)!.at : Math.min(flag.createdAt, windowStart);
  const since: Record<string, number> = {};
  for (const env of Object.keys(flag.environments)) since[env] = servingChangedAt(history, env) ?? floor;
  return since;
}
