import { buildSeries, percent, polyline, type MetricPoint } from '../logic/canary.js';

const WIDTH = 320;
const HEIGHT = 90;
/** Series colours: `.chart-series-N` (styles.css) takes them from --chart-N, light or dark. */
const SERIES = 5;
const seriesClass = (i: number) => `chart-series-${i % SERIES}`;

/**
 * Two small SVG charts: exposures and error rate per variation, per time window. Without data it
 * says so only while exposures are being collected (a guarded canary runs): other flags never get any,
 * and must not read as if they were waiting for some.
 */
export function MetricsChart({ points, errorEvent, collecting }: { points: MetricPoint[]; errorEvent: string; collecting: boolean }) {
  const series = buildSeries(points, errorEvent);
  if (series.size === 0) return collecting ? <p class="empty">The charts appear with the first exposures.</p> : null;
  const entries = [...series.entries()];
  const maxExposures = Math.max(1, ...entries.flatMap(([, s]) => s.map((p) => p.exposures)));
  const maxRate = Math.max(0.001, ...entries.flatMap(([, s]) => s.map((p) => p.rate ?? 0)));
  const legend = (
    <ul class="chart-legend">
      {entries.map(([variation, s], i) => {
        const total = s.reduce((a, p) => a + p.exposures, 0);
        const errors = s.reduce((a, p) => a + p.errors, 0);
        return (
          <li key={variation}>
            <span class={`swatch ${seriesClass(i)}`} /> {variation}: {total} exposures, {percent(total ? errors / total : null)} errors
          </li>
        );
      })}
    </ul>
  );
  const chart = (title: string, max: number, pick: (p: { exposures: number; rate: number | null }) => number | null, label: string) => (
    <figure class="chart">
      <figcaption class="small">
        {title} (max {label})
      </figcaption>
      <svg viewBox={`-2 -2 ${WIDTH + 4} ${HEIGHT + 4}`} role="img" aria-label={title} preserveAspectRatio="none">
        <rect class="chart-frame" x="0" y="0" width={WIDTH} height={HEIGHT} />
        {entries.map(([variation, s], i) => (
          <polyline key={variation} class={`chart-line ${seriesClass(i)}`} points={polyline(s.map(pick), max, WIDTH, HEIGHT)} />
        ))}
      </svg>
    </figure>
  );
  return (
    <div class="charts">
      {legend}
      {chart('Exposures per window', maxExposures, (p) => p.exposures, String(maxExposures))}
      {chart(`"${errorEvent}" rate per window`, maxRate, (p) => p.rate, percent(maxRate))}
    </div>
  );
}
