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
