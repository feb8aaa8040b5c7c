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

/*
 * Plain language for the console: what the plan is doing, what it waits for, why it stopped, and
 * who gets what now. The statistics stay available behind a toggle; these sentences come first.
 */

/**
 * The guard's default minimum (`DEFAULT_GUARD.minExposures` in server/src/domain/releases/decision.ts):
 * no verdict while either arm — the new variation, or everyone else — has fewer exposures than this
 * (`exposures < minExposures` is "insufficient data"), so a step cannot advance before it either.
 */
export const GUARD_MIN_EXPOSURES = 200;
/** `stepSchema.minExposures`' upper bound (server/src/domain/releases/plans.ts). */
export const MAX_STEP_EXPOSURES = 100_000_000;

/** The form's "Min exposures per step": a whole number the guard does not silently override. */
export function checkStepExposures(text: string, minimum: number = GUARD_MIN_EXPOSURES): { value: number } | { error: string } {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (trimmed === '' || !Number.isFinite(value)) return { error: 'Enter a number of exposures' };
  if (!Number.isInteger(value)) return { error: 'Enter a whole number of exposures' };
  if (value < minimum) return { error: `At least ${minimum}: the guard needs ${minimum} exposures per variation before it can decide, so a smaller number would not count` };
  if (value > MAX_STEP_EXPOSURES) return { error: `At most ${MAX_STEP_EXPOSURES.toLocaleString('en')}` };
  return { value };
}

/** What the console needs of a plan (release/types.ts `ReleasePlan`). */
export interface PlanState {
  status: 'ready' | 'running' | 'paused' | 'completed' | 'rolled_back' | 'aborted';
  currentStep: number;
  variation: string | null;
  stepStartedAt: string | null;
  spec: { steps: readonly { percentage: number; minDurationMs: number; minExposures: number }[]; guard: { minExposures?: number } | null };
}

/** What the console needs of the guard's evidence (PlanEvidence on the server). */
export interface EvidenceState {
  errors: { verdict: string; control: { exposures: number; errors: number; rate: number }; treatment: { exposures: number; errors: number; rate: number } } | null;
  latency?: { verdict: string; controlP95: number | null; treatmentP95: number | null } | null;
  stepExposures: number;
}

/** 0.086 → "8.6%", 0.0025 → "0.25%", 0.5 → "50%": short, for sentences (the statistics keep 2 decimals). */
export function shortPercent(rate: number): string {
  const value = rate * 100;
  if (value === 0) return '0%';
  return `${Number(value >= 1 ? value.toFixed(1) : value.toPrecision(2))}%`;
}

/** How many more exposures the guard needs (on the arm that is furthest short); 0 when it can decide. */
export function exposuresToDecide(plan: PlanState, evidence: EvidenceState | null): number {
  const errors = evidence?.errors;
  if (!plan.spec.guard || !errors) return 0;
  const minimum = plan.spec.guard.minExposures ?? GUARD_MIN_EXPOSURES;
  return Math.max(0, minimum - errors.treatment.exposures, minimum - errors.control.exposures);
}

/** Local "14:05" (24 h) for a step's end. */
export const clockTime = (ms: number, timeZone?: string): string => new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', timeZone });

const stepPercent = (p: number) => `${Number(p.toFixed(3))}%`;

/**
 * Where the plan is, in one line: "Step 2 of 4: 25% until 14:05", "Paused at step 2 of 4 (25%)",
 * "Not started: 1% → 10% → 50% → 100%", "Completed at 100%". Rolled back and aborted plans are
 * described by `stoppedText`, which needs the flag.
 */
export function stepText(plan: PlanState, now: number, formatTime: (ms: number) => string = clockTime): string {
  const steps = plan.spec.steps;
  const step = steps[plan.currentStep];
  const position = step ? `step ${plan.currentStep + 1} of ${steps.length}` : '';
  switch (plan.status) {
    case 'ready':
      return `Not started: ${steps.map((s) => stepPercent(s.percentage)).join(' → ')}`;
    case 'running': {
      if (!step) return 'Running';
      const until = plan.stepStartedAt ? Date.parse(plan.stepStartedAt) + step.minDurationMs : NaN;
      const head = `Step ${plan.currentStep + 1} of ${steps.length}: ${stepPercent(step.percentage)}`;
      return Number.isFinite(until) && until > now ? `${head} until ${formatTime(until)}` : head;
    }
    case 'paused':
      return step ? `Paused at ${position} (${stepPercent(step.percentage)})` : 'Paused';
    case 'completed':
      return step ? `Completed at ${stepPercent(step.percentage)}` : 'Completed';
    case 'rolled_back':
      return 'Rolled back';
    case 'aborted':
      return 'Aborted';
  }
}

/**
 * What a running guarded plan waits for, if anything: "No exposures reported yet…", "Waiting for
 * 140 more exposures before it can decide", "Waiting for 300 more exposures of on in this step".
 */
export function waitingText(plan: PlanState, evidence: EvidenceState | null): string | undefined {
  if (plan.status !== 'running' || !plan.spec.guard) return undefined;
  const errors = evidence?.errors;
  if (!errors || errors.treatment.exposures + errors.control.exposures === 0) return 'No exposures reported yet: the SDKs send them every few seconds.';
  const decide = exposuresToDecide(plan, evidence);
  if (decide > 0) return `Waiting for ${decide} more exposures before it can decide`;
  const step = plan.spec.steps[plan.currentStep];
  const inStep = step ? step.minExposures - (evidence?.stepExposures ?? 0) : 0;
  if (inStep > 0) return `Waiting for ${inStep} more exposures of ${plan.variation ?? 'the new version'} in this step before the next one`;
  return undefined;
}

/**
 * Why the guard rolled back, from the decision's evidence (the `rolled_back` event's):
 * "Rolled back: 8.6% errors on the new version vs 2.9%".
 */
export function rollbackText(evidence: unknown): string {
  const e = evidence as Partial<EvidenceState> | null | undefined;
  const errors = e?.errors;
  if (errors?.verdict === 'regression') return `Rolled back: ${shortPercent(errors.treatment.rate)} errors on the new version vs ${shortPercent(errors.control.rate)}`;
  const latency = e?.latency;
  if (latency?.verdict === 'regression' && latency.treatmentP95 !== null && latency.controlP95 !== null) {
    return `Rolled back: p95 latency ${Math.round(latency.treatmentP95)} ms on the new version vs ${Math.round(latency.controlP95)} ms`;
  }
  return 'Rolled back';
}

/** What the console needs of a flag's configuration in the environment (api/types.ts `FlagEnvironment`). */
export interface TargetingState {
  on: boolean;
  killed: boolean;
  offVariation: string;
  targets: readonly { values: readonly unknown[] }[];
  rules: readonly { id: string; clauses: readonly { operator: string; values: readonly unknown[] }[]; serve: { variation: string } | { rollout: { variations: readonly { variation: string; weight: number }[] } } }[];
  defaultServe: { variation: string } | { rollout: { variations: readonly { variation: string; weight: number }[] } };
  stageSummary?: string;
}

/** The rule a stage change writes (server/src/domain/stages.ts): `internal` segment → the release variation. */
const DOGFOOD_RULE_ID = 'dogfood';
const DOGFOOD_SEGMENT = 'internal';
/** Weights are in 1/100 000 (sdk/src/bucket.ts `BUCKETS`). */
const BUCKETS = 100_000;

/** The variation the dogfood rule gives internal users, when it releases one. */
export function dogfoodVariation(config: TargetingState): string | undefined {
  const rule = config.rules.find((r) => r.id === DOGFOOD_RULE_ID && r.clauses.length === 1 && r.clauses[0]!.operator === 'in_segment' && r.clauses[0]!.values.length === 1 && r.clauses[0]!.values[0] === DOGFOOD_SEGMENT);
  if (!rule || !('variation' in rule.serve) || rule.serve.variation === config.offVariation) return undefined;
  return rule.serve.variation;
}

/**
 * Who gets what now, from the flag's targeting: "Internal users get on; everyone else gets off",
 * "99% off / 1% on; internal users always get on", "Killed: everyone gets off". Other rules and
 * individual targets are named, not hidden.
 */
export function audienceText(config: TargetingState): string {
  if (!config.on) return `${config.killed ? 'Killed' : 'Off'}: everyone gets ${config.offVariation}`;
  const dogfood = dogfoodVariation(config);
  const serve = config.defaultServe;
  let text: string;
  if ('variation' in serve) {
    if (serve.variation === config.offVariation) text = dogfood ? `Internal users get ${dogfood}; everyone else gets ${config.offVariation}` : `Everyone gets ${config.offVariation}`;
    else text = dogfood && dogfood !== serve.variation ? `Everyone gets ${serve.variation}; internal users get ${dogfood}` : `Everyone gets ${serve.variation}`;
  } else {
    const split = serve.rollout.variations.filter((v) => v.weight > 0).map((v) => ({ variation: v.variation, percentage: (v.weight * 100) / BUCKETS }));
    text = `${splitText(split)}${dogfood ? `; internal users always get ${dogfood}` : ''}`;
  }
  const rules = config.rules.length - (dogfood ? 1 : 0);
  const targets = config.targets.reduce((sum, t) => sum + t.values.length, 0);
  const extras = [rules > 0 ? `${rules} other rule${rules === 1 ? '' : 's'}` : '', targets > 0 ? `${targets} individual target${targets === 1 ? '' : 's'}` : ''].filter(Boolean);
  return extras.length > 0 ? `${text} (and ${extras.join(' and ')} apply first)` : text;
}

/**
 * A stopped plan (rolled back or aborted), said as what is true of the flag now — not "100% off"
 * while internal users still have it: "Rolled back to Dogfood: internal users still get it (on);
 * everyone else gets off". If someone moved the flag since, it says where the flag is instead.
 */
export function stoppedText(status: 'rolled_back' | 'aborted', config: TargetingState): string {
  const verb = status === 'rolled_back' ? 'Rolled back' : 'Aborted';
  const dogfood = dogfoodVariation(config);
  const serve = config.defaultServe;
  const atDogfood = config.on && dogfood !== undefined && 'variation' in serve && serve.variation === config.offVariation;
  if (atDogfood) return `${verb}${status === 'aborted' ? ' and rolled back' : ''} to Dogfood: internal users still get it (${dogfood}); everyone else gets ${config.offVariation}`;
  return `${verb}; now: ${audienceText(config)}`;
}
