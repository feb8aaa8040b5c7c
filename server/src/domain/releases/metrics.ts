/** SDK metrics for guarded rollouts: counts per flag variation, aggregated per time window. */

/** The exposure pseudo-metric: how many times an SDK served a variation of a guarded flag. */
export const EXPOSURE_METRIC = '$exposure';

/** Metrics are aggregated per window of server receipt time. */
export const METRICS_WINDOW_MS = 10_000;
export const windowStart = (at: number, windowMs = METRICS_WINDOW_MS) => Math.floor(at / windowMs) * windowMs;

/**
 * The most one upload may report for one flag variation and metric: what one SDK instance can
 * plausibly count between two flushes. The SDK (sdk/src/metrics.ts) counts one exposure per
 * evaluation of a guarded flag and flushes every 5 s by default. A busy Node process answers about
 * 10,000 requests/s (a bare Fastify route reaches 16.7k/s on our benchmark machine, real handlers
 * much less), so evaluating the flag on every request counts 10,000/s × 5 s = 50,000. Anything
 * larger is not one instance's interval and is refused (400 naming the field), never clipped: the
 * reported forgery was one upload of 100,000 exposures per variation.
 */
export const MAX_UPLOAD_COUNT = 50_000;

/**
 * A source is the SDK key an upload was made with. (Uploads carry no SDK instance id, and one
 * named by the uploader would let a single key holder pose as any number of sources.)
 */
export interface MetricSource {
  keyId: number;
  keyName: string;
}

/** One source's count for one variation and metric, summed over the windows the guard looks at. */
export interface SourceCount extends MetricSource {
  variation: string;
  metric: string;
  count: number;
}

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
