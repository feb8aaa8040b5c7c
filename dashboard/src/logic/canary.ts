/**
 * Pure helpers for the canary console: the split as words, and the chart's series from the
 * metrics endpoint's points (exposures and error rate per variation per time window).
 */

export const EXPOSURE_METRIC = '$exposure';

export interface MetricPoint {
  windowStart: number;
  variation: string;
  metric: string;
  count: number;
}

export interface SeriesPoint {
  at: number;
  exposures: number;
  errors: number;
  /** errors / exposures in this window; null without exposures. */
  rate: number | null;
}

/** "90% off / 10% on" (largest share first). */
export function splitText(split: readonly { variation: string; percentage: number }[]): string {
  return [...split]
    .sort((a, b) => b.percentage - a.percentage)
    .map((s) => `${Number(s.percentage.toFixed(3))}% ${s.variation}`)
    .join(' / ');
}

/** One series per variation, windows in time order, missing windows as zero exposures. */
export function buildSeries(points: readonly MetricPoint[], errorEvent: string): Map<string, SeriesPoint[]> {
  const windows = [...new Set(points.map((p) => p.windowStart))].sort((a, b) => a - b);
  const variations = [...new Set(points.filter((p) => p.metric === EXPOSURE_METRIC).map((p) => p.variation))].sort();
  const series = new Map<string, SeriesPoint[]>();
  for (const variation of variations) {
    series.set(
      variation,
      windows.map((at) => {
        const pick = (metric: string) => points.filter((p) => p.windowStart === at && p.variation === variation && p.metric === metric).reduce((s, p) => s + p.count, 0);
        const exposures = pick(EXPOSURE_METRIC);
        const errors = pick(errorEvent);
        return { at, exposures, errors, rate: exposures > 0 ? errors / exposures : null };
      }),
    );
  }
  return series;
}

/** Map values onto an SVG polyline's points in a width × height box (y grows downwards). */
export function polyline(values: readonly (number | null)[], max: number, width: number, height: number): string {
  if (values.length === 0) return '';
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const scale = max > 0 ? height / max : 0;
  return values
    .map((v, i) => (v === null ? null : `${(i * step).toFixed(1)},${(height - v * scale).toFixed(1)}`))
    .filter((p): p is string => p !== null)
    .join(' ');
}

export const percent = (rate: number | null | undefined, digits = 2) => (rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(digits)}%`);

/** 90 s → "1.5 min", 3 600 000 ms → "60 min", 500 ms → "0.5 s". */
export function duration(ms: number): string {
  if (ms >= 60_000) return `${Number((ms / 60_000).toFixed(1))} min`;
  return `${Number((ms / 1000).toFixed(1))} s`;
}
