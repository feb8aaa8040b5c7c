import { buildSeries, percent, polyline, type MetricPoint } from '../logic/canary.js';

const WIDTH = 320;
const HEIGHT = 90;
const COLORS = ['#1c49ad', '#c0392b', '#17692f', '#8e44ad', '#b7791f'];

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
            <span class="swatch" style={{ background: COLORS[i % COLORS.length] }} /> {variation}: {total} exposures, {percent(total ? errors / total : null)} errors
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
        <rect x="0" y="0" width={WIDTH} height={HEIGHT} fill="#fafbfc" stroke="#e3e7ee" />
        {entries.map(([variation, s], i) => (
          <polyline key={variation} fill="none" stroke={COLORS[i % COLORS.length]} stroke-width="2" points={polyline(s.map(pick), max, WIDTH, HEIGHT)} />
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
