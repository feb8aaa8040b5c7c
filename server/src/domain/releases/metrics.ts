/** SDK metrics for guarded rollouts: counts per flag variation, aggregated per time window. */

/** The exposure pseudo-metric: how many times an SDK served a variation of a guarded flag. */
export const EXPOSURE_METRIC = '$exposure';

/** Metrics are aggregated per window of server receipt time. */
export const METRICS_WINDOW_MS = 10_000;
export const windowStart = (at: number, windowMs = METRICS_WINDOW_MS) => Math.floor(at / windowMs) * windowMs;

export interface MetricCount {
  flagKey: string;
  variation: string;
  metric: string;
  count: number;
  sum: number;
  /** Value histogram (latency): bucket index → count. */
  histogram?: Record<string, number>;
}

export interface MetricTotals {
  variation: string;
  metric: string;
  count: number;
  sum: number;
  histogram: Record<string, number>;
}

export interface MetricPoint {
  windowStart: number;
  variation: string;
  metric: string;
  count: number;
}

/**
 * One count per (flag, variation, metric): an upload may name the same one twice, and adding
 * counts in place (ON CONFLICT … DO UPDATE) takes each key once per statement.
 */
export function aggregateCounts(counts: readonly MetricCount[]): MetricCount[] {
  const byKey = new Map<string, MetricCount>();
  for (const c of counts) {
    const key = `${c.flagKey}\u0000${c.variation}\u0000${c.metric}`;
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, { ...c, histogram: c.histogram ? { ...c.histogram } : undefined });
      continue;
    }
    seen.count += c.count;
    seen.sum += c.sum;
    if (c.histogram) {
      seen.histogram ??= {};
      for (const [bucket, n] of Object.entries(c.histogram)) seen.histogram[bucket] = (seen.histogram[bucket] ?? 0) + n;
    }
  }
  return [...byKey.values()];
}
