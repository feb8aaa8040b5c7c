import { assessErrorRate, assessLatency, quantile, type GuardEvidence, type LatencyEvidence } from './decision.js';
import { latencyUpperBound } from './latency.js';
import { EXPOSURE_METRIC, type MetricTotals } from './metrics.js';
import type { ReleasePlan } from './plans.js';
import { byKey, type KeyContribution, type SourceContribution } from './sources.js';

export interface PlanEvidence {
  errors: GuardEvidence | null;
  latency: LatencyEvidence | null;
  /** Exposures of the released variation in the current step (for its minimum). */
  stepExposures: number;
  /** Exposures per variation since the plan started. */
  exposures: Record<string, number>;
  /** The SDK keys whose counts these are (ids and names, never secrets): reported and counted. */
  sources: KeyContribution[];
}

function sumWhere(totals: readonly MetricTotals[], metric: string, treatment: boolean | null, variation: string) {
  let count = 0;
  const histogram: Record<string, number> = {};
  for (const t of totals) {
    if (t.metric !== metric) continue;
    if (treatment !== null && (t.variation === variation) !== treatment) continue;
    count += t.count;
    for (const [k, v] of Object.entries(t.histogram)) histogram[k] = (histogram[k] ?? 0) + v;
  }
  return { count, histogram };
}

export const NO_EVIDENCE: PlanEvidence = Object.freeze({ errors: null, latency: null, stepExposures: 0, exposures: {}, sources: [] });

/**
 * What the guard sees for a plan: cumulative counts since the plan started (`totals`; treatment =
 * the released variation, control = every other variation served), and the current step's
 * exposures (`stepTotals`: counts since the step started). Both are already capped per source
 * (`sources.ts`); `contributions` (since the plan started) are listed in the evidence.
 */
export function planEvidence(plan: ReleasePlan, totals: readonly MetricTotals[], stepTotals: readonly MetricTotals[], contributions: readonly SourceContribution[] = []): PlanEvidence {
  const empty: PlanEvidence = { ...NO_EVIDENCE, exposures: {}, sources: byKey(contributions) };
  if (plan.startedAt === null || plan.variation === null) return empty;
  const variation = plan.variation;
  const exposures: Record<string, number> = {};
  for (const t of totals) if (t.metric === EXPOSURE_METRIC) exposures[t.variation] = (exposures[t.variation] ?? 0) + t.count;
  const stepExposures = sumWhere(stepTotals, EXPOSURE_METRIC, true, variation).count;
  const guard = plan.spec.guard;
  if (!guard) return { ...empty, stepExposures, exposures };
  const arm = (treatment: boolean) => ({
    exposures: sumWhere(totals, EXPOSURE_METRIC, treatment, variation).count,
    // More errors than exposures happens when an SDK flushes events before exposures; cap it.
    errors: sumWhere(totals, guard.errorEvent, treatment, variation).count,
  });
  const capped = (a: { exposures: number; errors: number }) => ({ exposures: a.exposures, errors: Math.min(a.errors, a.exposures) });
  const errors = assessErrorRate(capped(arm(false)), capped(arm(true)), guard);
  let latency: LatencyEvidence | null = null;
  if (guard.latency) {
    const side = (treatment: boolean) => {
      const { count, histogram } = sumWhere(totals, guard.latency!.event, treatment, variation);
      return { samples: count, p95: quantile(histogram, 0.95, latencyUpperBound) };
    };
    latency = assessLatency(side(false), side(true), guard.latency);
  }
  return { ...empty, errors, latency, stepExposures, exposures };
}

const pct = (rate: number) => `${(rate * 100).toFixed(2)}%`;

/** One line for an audit message: counts, rates and the statistic. */
export function describeEvidence(evidence: PlanEvidence): string {
  const e = evidence.errors;
  if (!e) return `${evidence.stepExposures} exposures in this step${describeSources(evidence.sources)}`;
  const parts = [
    `new variation ${e.treatment.errors}/${e.treatment.exposures} errors (${pct(e.treatment.rate)})`,
    `control ${e.control.errors}/${e.control.exposures} (${pct(e.control.rate)})`,
    `mSPRT log Λ = ${e.logLikelihoodRatio.toFixed(2)} vs boundary ${e.boundary.toFixed(2)}, always-valid p = ${e.pValue.toPrecision(3)}`,
  ];
  const l = evidence.latency;
  if (l && l.controlP95 !== null && l.treatmentP95 !== null) parts.push(`p95 ${l.treatmentP95.toFixed(0)} ms vs ${l.controlP95.toFixed(0)} ms`);
  return parts.join('; ') + describeSources(evidence.sources);
}

/** `; from SDK keys "web" (#3) 1200 exposures, "x" (#7) 100000 exposures (98800 over its share ignored)`. */
function describeSources(sources: readonly KeyContribution[]): string {
  if (sources.length === 0) return '';
  const keys = sources.map((k) => {
    const exposures = k.counts.filter((c) => c.metric === EXPOSURE_METRIC);
    const count = exposures.reduce((sum, c) => sum + c.count, 0);
    const ignored = k.counts.reduce((sum, c) => sum + c.count - c.counted, 0);
    return `"${k.keyName}" (#${k.keyId}) ${count} exposures${ignored > 0 ? ` (${ignored} counts over its share ignored)` : ''}`;
  });
  return `; from SDK keys ${keys.join(', ')}`;
}
