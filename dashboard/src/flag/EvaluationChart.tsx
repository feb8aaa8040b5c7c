import { useState } from 'preact/hooks';
import { enc, get } from '../api/client.js';
import type { Flag, FlagInsights } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { useResource } from '../state.js';

/** The windows the chart offers: a day, a week. */
const WINDOWS = [
  { hours: 24, label: '24 hours' },
  { hours: 168, label: '7 days' },
] as const;
/** Variations beyond this many share the last colour. */
const COLOURS = 4;

const hourLabel = (hour: number) => new Date(hour).toLocaleString('en', { weekday: 'short', hour: '2-digit', minute: '2-digit' });

/** Variations ordered as the flag lists them, then any others the counts name. */
function variationsOf(flag: Flag, insights: FlagInsights): string[] {
  const seen = new Set<string>();
  for (const h of insights.hours) for (const v of Object.keys(h.variations)) seen.add(v);
  const ordered = flag.variations.map((v) => v.key).filter((k) => seen.has(k));
  return [...ordered, ...[...seen].filter((v) => !ordered.includes(v))];
}

/**
 * How often SDKs evaluated the flag in one environment, per hour and variation (stacked bars, inline
 * SVG: no chart library), over the last day or week, and when it was last evaluated.
 */
export function EvaluationChart({ flag, environment }: { flag: Flag; environment: string }) {
  const [hours, setHours] = useState<number>(WINDOWS[0].hours);
  const insights = useResource(() => get<FlagInsights>(`/api/flags/${enc(flag.key)}/insights?environment=${enc(environment)}&hours=${hours}`), [flag.key, environment, hours]);
  const data = insights.data;
  const total = data?.hours.reduce((sum, h) => sum + h.total, 0) ?? 0;
  const max = data ? Math.max(1, ...data.hours.map((h) => h.total)) : 1;
  const variations = data ? variationsOf(flag, data) : [];
  const colour = (variation: string) => `insight-v${Math.min(variations.indexOf(variation), COLOURS - 1)}`;
  const window = WINDOWS.find((w) => w.hours === hours)!;
  return (
    <section class="card insights" aria-labelledby="insights-title">
      <h2 id="insights-title">Evaluations in {environment}</h2>
      <div class="insights-windows" role="group" aria-label="Time window">
        {WINDOWS.map((w) => (
          <button key={w.hours} type="button" class={w.hours === hours ? 'button small active' : 'button small'} aria-pressed={w.hours === hours} onClick={() => setHours(w.hours)}>
            {w.label}
          </button>
        ))}
      </div>
      {insights.error && <Banner kind="error">Could not load the evaluations: {insights.error.message}</Banner>}
      {!data && !insights.error && <Loading what="evaluations" />}
      {data && (
        <>
          <p data-testid="last-evaluated">
            {data.lastEvaluatedAt === null ? (
              'No SDK has reported evaluating this flag here.'
            ) : (
              <>
                Last evaluated <span title={absoluteTime(data.lastEvaluatedAt)}>{relativeTime(data.lastEvaluatedAt)}</span>.
              </>
            )}{' '}
            <span data-testid="evaluation-total">
              {total.toLocaleString('en')} evaluation{total === 1 ? '' : 's'} in the last {window.label}
            </span>
            {variations.length > 0 && ': '}
            {variations.map((v, i) => (
              <span key={v} class="insight-legend">
                <span class={`insight-swatch ${colour(v)}`} aria-hidden="true" />
                {v} {data.hours.reduce((sum, h) => sum + (h.variations[v] ?? 0), 0).toLocaleString('en')}
                {i < variations.length - 1 ? ', ' : ''}
              </span>
            ))}
            .
          </p>
          <svg class="insights-chart" viewBox={`0 0 ${data.hours.length} 100`} preserveAspectRatio="none" role="img" aria-label={`Evaluations per hour in the last ${window.label}, ${total.toLocaleString('en')} in all`}>
            {data.hours.map((h, i) => {
              let y = 100;
              return (
                <g key={h.hour} data-hour={h.hour} data-total={h.total}>
                  <title>{`${hourLabel(h.hour)}: ${h.total.toLocaleString('en')}${variations.filter((v) => h.variations[v]).map((v) => ` · ${v} ${h.variations[v]!.toLocaleString('en')}`).join('')}`}</title>
                  <rect class="insight-slot" x={i} y={0} width={1} height={100} />
                  {variations.map((v) => {
                    const n = h.variations[v] ?? 0;
                    if (n === 0) return null;
                    const height = (n / max) * 100;
                    y -= height;
                    return <rect key={v} class={colour(v)} x={i + 0.1} y={y} width={0.8} height={height} />;
                  })}
                </g>
              );
            })}
          </svg>
          <div class="insights-axis small hint" aria-hidden="true">
            <span>{data.hours[0] && hourLabel(data.hours[0].hour)}</span>
            <span>now</span>
          </div>
        </>
      )}
    </section>
  );
}
