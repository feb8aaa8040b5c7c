import { assessErrorRate, assessLatency, quantile, type GuardEvidence, type LatencyEvidence } from './decision.js';
import { latencyUpperBound } from './latency.js';
import { EXPOSURE_METRIC, type MetricTotals } from './metrics.js';
import type { ReleasePlan } from './plans.js';

export interface PlanEvidence {
  errors: GuardEvidence | null;
  latency: LatencyEvidence | null;
  /** Exposures of the released variation in the current step (for its minimum). */
  stepExposures: number;
  /** Exposures per variation since the plan started. */
  exposures: Record<string, number>;
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

export const NO_EVIDENCE: PlanEvidence = Object.freeze({ errors: null, latency: null, stepExposures: 0, exposures: {} });

/**
 * What the guard sees for a plan: cumulative counts since the plan started (`totals`; treatment =
 * the released variation, control = every other variation served), and the current step's
 * exposures (`stepTotals`: counts since the step started).
 */
export function planEvidence(plan: ReleasePlan, totals: readonly MetricTotals[], stepTotals: readonly MetricTotals[]): PlanEvidence {
  const empty: PlanEvidence = { ...NO_EVIDENCE, exposures: {} };
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
  return { errors, latency, stepExposures, exposures };
}

const pct = (rate: number) => `${(rate * 100).toFixed(2)}%`;

/** One line for an audit message: counts, rates and the statistic. */
export function describeEvidence(evidence: PlanEvidence): string {
  const e = evidence.errors;
  if (!e) return `${evidence.stepExposures} exposures in this step`;
  const parts = [
    `new variation ${e.treatment.errors}/${e.treatment.exposures} errors (${pct(e.treatment.rate)})`,
    `control ${e.control.errors}/${e.control.exposures} (${pct(e.control.rate)})`,
    `mSPRT log Λ = ${e.logLikelihoodRatio.toFixed(2)} vs boundary ${e.boundary.toFixed(2)}, always-valid p = ${e.pValue.toPrecision(3)}`,
  ];
  const l = evidence.latency;
  if (l && l.controlP95 !== null && l.treatmentP95 !== null) parts.push(`p95 ${l.treatmentP95.toFixed(0)} ms vs ${l.controlP95.toFixed(0)} ms`);
  return parts.join('; ');
}
