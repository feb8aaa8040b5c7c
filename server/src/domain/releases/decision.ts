/**
 * The guard's decision rule: is the new variation's error rate worse than the control's?
 *
 * Method: a mixture sequential probability ratio test (mSPRT; Robbins 1970, Johari et al. 2017,
 * "Always valid inference") on the margin-shifted difference of proportions
 *
 *   θ = p_t − (1 + δ)·p_c          (δ = the tolerated relative increase)
 *
 * with a normal approximation θ̂ ~ N(θ, V) and a N(0, τ²) mixing distribution over θ. The statistic
 *
 *   Λ = sqrt(V / (V + τ²)) · exp( τ²·θ̂² / (2·V·(V + τ²)) )
 *
 * is a non-negative martingale under θ = 0, so by Ville's inequality P(Λ ever ≥ 1/α) ≤ α however
 * often we look. We roll back at the first look where Λ ≥ 1/α and θ̂ > 0 (only increases matter,
 * which makes the false-rollback rate at most α, in practice about α/2). `1/Λ` is the always-valid
 * p-value of this look; the running minimum over looks is the plan's always-valid p-value.
 *
 * Rates are smoothed ((x + ½)/(n + 1)) inside V so zero-error arms give a finite, positive variance.
 * τ is relative to the pooled baseline (τ = τRel · p̄): the prior expects effects of the order of the
 * baseline itself (1% → 2% is τRel = 1), the size of regression a canary exists to catch.
 *
 * Pure: no clock, no I/O. The runner calls it on cumulative counts at every look.
 */

export interface ArmCounts {
  exposures: number;
  errors: number;
}

export interface GuardParams {
  /** Bound on the false-rollback probability over all looks. */
  alpha: number;
  /** Tolerated relative increase δ: 0.1 = roll back only when p_t is credibly above 1.1 × p_c. */
  minRelativeIncrease: number;
  /** Neither arm is tested before it has this many exposures (normal approximation, noise). */
  minExposures: number;
  /** Mixing scale relative to the pooled error rate. */
  tauRelative: number;
}

export const DEFAULT_GUARD: GuardParams = Object.freeze({ alpha: 0.05, minRelativeIncrease: 0.1, minExposures: 200, tauRelative: 1 });

export type Verdict = 'insufficient_data' | 'healthy' | 'regression';

export interface ArmStats extends ArmCounts {
  rate: number;
}

/** What the guard saw: enough to explain a rollback in an audit entry. */
export interface GuardEvidence {
  verdict: Verdict;
  control: ArmStats;
  treatment: ArmStats;
  /** p_t / p_c (null when the control has no errors yet). */
  relativeChange: number | null;
  /** θ̂ = p̂_t − (1 + δ)·p̂_c. */
  difference: number;
  /** log Λ, and the boundary log(1/α) it is compared with. */
  logLikelihoodRatio: number;
  boundary: number;
  /** Always-valid p-value of this look: min(1, 1/Λ). */
  pValue: number;
}

const rate = (arm: ArmCounts) => (arm.exposures > 0 ? arm.errors / arm.exposures : 0);
const smoothed = (arm: ArmCounts) => (arm.errors + 0.5) / (arm.exposures + 1);

/** log Λ of the mSPRT for the difference θ̂ with variance V and mixing variance τ². */
export function logMixtureLikelihoodRatio(difference: number, variance: number, tau2: number): number {
  if (!(variance > 0) || !(tau2 > 0)) return 0;
  return 0.5 * Math.log(variance / (variance + tau2)) + (tau2 * difference * difference) / (2 * variance * (variance + tau2));
}

/** Compare the treatment (new variation) with the control (everyone else) on cumulative counts. */
export function assessErrorRate(control: ArmCounts, treatment: ArmCounts, params: GuardParams = DEFAULT_GUARD): GuardEvidence {
  validCounts(control, 'control');
  validCounts(treatment, 'treatment');
  const margin = 1 + params.minRelativeIncrease;
  const pc = rate(control);
  const pt = rate(treatment);
  const difference = pt - margin * pc;
  const boundary = Math.log(1 / params.alpha);
  const base = {
    control: { ...control, rate: pc },
    treatment: { ...treatment, rate: pt },
    relativeChange: pc > 0 ? pt / pc : null,
    difference,
    boundary,
  };
  if (control.exposures < params.minExposures || treatment.exposures < params.minExposures) {
    return { ...base, verdict: 'insufficient_data', logLikelihoodRatio: 0, pValue: 1 };
  }
  const sc = smoothed(control);
  const st = smoothed(treatment);
  const variance = (st * (1 - st)) / treatment.exposures + (margin * margin * sc * (1 - sc)) / control.exposures;
  const pooled = (control.errors + treatment.errors + 1) / (control.exposures + treatment.exposures + 2);
  const tau = params.tauRelative * pooled;
  const logLikelihoodRatio = logMixtureLikelihoodRatio(difference, variance, tau * tau);
  const regression = difference > 0 && logLikelihoodRatio >= boundary;
  return { ...base, verdict: regression ? 'regression' : 'healthy', logLikelihoodRatio, pValue: Math.min(1, Math.exp(-logLikelihoodRatio)) };
}

function validCounts(arm: ArmCounts, name: string): void {
  if (!Number.isFinite(arm.exposures) || !Number.isFinite(arm.errors) || arm.exposures < 0 || arm.errors < 0) {
    throw new RangeError(`${name} counts must be finite and non-negative`);
  }
}

/** Latency: p95 of a histogram (see `latencyBucket`) and a simple relative guard (not sequential). */
export interface LatencyGuard {
  maxRelativeIncrease: number;
  minSamples: number;
}

export interface LatencyEvidence {
  verdict: Verdict;
  controlP95: number | null;
  treatmentP95: number | null;
  controlSamples: number;
  treatmentSamples: number;
}

/** The upper bound (ms) of the histogram bucket holding the q-quantile, or null when empty. */
export function quantile(histogram: Readonly<Record<string, number>>, q: number, upperBound: (bucket: number) => number): number | null {
  const entries = Object.entries(histogram)
    .map(([bucket, count]) => [Number(bucket), count] as const)
    .filter(([, count]) => count > 0)
    .sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return null;
  const target = q * total;
  let seen = 0;
  for (const [bucket, count] of entries) {
    seen += count;
    if (seen >= target) return upperBound(bucket);
  }
  return upperBound(entries[entries.length - 1]![0]);
}

export function assessLatency(
  control: { samples: number; p95: number | null },
  treatment: { samples: number; p95: number | null },
  guard: LatencyGuard,
): LatencyEvidence {
  const evidence = { controlP95: control.p95, treatmentP95: treatment.p95, controlSamples: control.samples, treatmentSamples: treatment.samples };
  if (control.samples < guard.minSamples || treatment.samples < guard.minSamples || control.p95 === null || treatment.p95 === null) {
    return { ...evidence, verdict: 'insufficient_data' };
  }
  return { ...evidence, verdict: treatment.p95 > control.p95 * (1 + guard.maxRelativeIncrease) ? 'regression' : 'healthy' };
}
