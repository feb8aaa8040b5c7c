import type { FlagConfig } from '@switchyard/sdk';
import { EXPOSURE_METRIC, type MetricCount } from './metrics.js';

/**
 * Which counts of an SDK metrics upload the guard may use: only counts for a flag under a running
 * guarded plan in the key's environment, for a variation that flag serves now. The rest is dropped
 * and reported back, so an SDK (or a person with curl) can see why.
 */

export const REJECT_REASONS = ['unknown_flag', 'no_running_plan', 'unknown_variation', 'variation_not_served', 'reserved_metric'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Rejection {
  flag: string;
  variation: string;
  metric: string;
  reason: RejectReason;
}

/**
 * What an honest SDK can send by lag alone: a plan that just ended or a stage that just moved
 * (its rule set is a moment old). Anything else only a hand-made upload produces.
 */
const LAG: ReadonlySet<RejectReason> = new Set(['no_running_plan', 'variation_not_served']);

/** The variations a flag's configuration can serve right now. */
export function servedVariations(config: FlagConfig): Set<string> {
  if (!config.on) return new Set([config.offVariation]);
  const served = new Set<string>(config.targets.map((t) => t.variation));
  for (const serve of [...config.rules.map((r) => r.serve), config.defaultServe]) {
    if ('variation' in serve) served.add(serve.variation);
    else for (const v of serve.rollout.variations) if (v.weight > 0) served.add(v.variation);
  }
  return served;
}

export interface ScreenedUpload {
  accepted: MetricCount[];
  rejected: Rejection[];
  /** Nothing accepted, and nothing an honest SDK could have sent: refuse the upload as a whole. */
  garbage: boolean;
}

/** An uploaded count; `event` marks a tracked event (whose name may not be the exposure pseudo-metric). */
export type UploadedCount = MetricCount & { event?: boolean };

/**
 * Sort an upload's counts. `flags`: the environment's rule-set flags; `guarded`: the flags with a
 * running guarded plan there. Zero counts carry nothing and are skipped.
 */
export function screenUpload(counts: readonly UploadedCount[], flags: Readonly<Record<string, FlagConfig>>, guarded: ReadonlySet<string>): ScreenedUpload {
  const accepted: MetricCount[] = [];
  const rejected = new Map<string, Rejection>();
  const served = new Map<string, Set<string>>();
  const reject = (c: MetricCount, reason: RejectReason) => {
    const r = { flag: c.flagKey, variation: c.variation, metric: c.metric, reason };
    rejected.set(JSON.stringify(r), r);
  };
  let sent = 0;
  for (const { event, ...c } of counts) {
    if (c.count <= 0) continue;
    sent++;
    const config = Object.hasOwn(flags, c.flagKey) ? flags[c.flagKey] : undefined;
    if (event === true && c.metric === EXPOSURE_METRIC) reject(c, 'reserved_metric');
    else if (!config) reject(c, 'unknown_flag');
    else if (!config.variations.some((v) => v.key === c.variation)) reject(c, 'unknown_variation');
    else if (!guarded.has(c.flagKey)) reject(c, 'no_running_plan');
    else {
      let variations = served.get(c.flagKey);
      if (!variations) served.set(c.flagKey, (variations = servedVariations(config)));
      if (variations.has(c.variation)) accepted.push(c);
      else reject(c, 'variation_not_served');
    }
  }
  const list = [...rejected.values()];
  return { accepted, rejected: list, garbage: sent > 0 && accepted.length === 0 && !list.some((r) => LAG.has(r.reason)) };
}
