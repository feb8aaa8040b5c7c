import type { Guard, Step } from '../release/types.js';

/**
 * The release-plan form's fields and the PUT body they make. Editing a saved plan starts from that
 * plan (not from the defaults), and what the form cannot show travels on untouched: the guard's
 * other settings (minExposures, the latency guard, …), the variation, and per-step durations and
 * exposures unless the steps, minutes or exposures fields are changed.
 */
const MINUTE = 60_000;

export interface PlanFormValues {
  strategy: 'guarded' | 'rolling';
  /** "1, 10, 50, 100" */
  steps: string;
  /** Guarded: the minimum per step; rolling: the interval. */
  minutes: string;
  exposures: string;
  increment: string;
  cap: string;
  errorEvent: string;
  alpha: string;
  /** δ in percent: minRelativeIncrease × 100. */
  delta: string;
}

/** A new plan's fields (the guard's defaults are the server's). */
export const DEFAULT_PLAN_FORM: Readonly<PlanFormValues> = Object.freeze({
  strategy: 'guarded',
  steps: '1, 10, 50, 100',
  minutes: '10',
  exposures: '1000',
  increment: '10',
  cap: '100',
  errorEvent: 'error',
  alpha: '0.05',
  delta: '10',
});

/** What GET …/release-plan answers as `plan.spec` (server PlanSpec), as far as the form needs it. */
export interface SavedPlanSpec {
  strategy: 'guarded' | 'rolling';
  variation?: string;
  steps: Step[];
  guard: Guard | null;
  rolling?: { incrementPercent: number; intervalMs: number; capPercent: number };
}

/** A number as the form shows it: no float noise (0.07 × 100 is "7", not "7.000000000000001"). */
const show = (n: number) => String(Number(n.toPrecision(12)));
const minutesOf = (ms: number) => show(ms / MINUTE);

/** The form's fields for a saved plan; the defaults without one. */
export function planFormValues(spec: SavedPlanSpec | null | undefined): PlanFormValues {
  if (!spec || spec.steps.length === 0) return { ...DEFAULT_PLAN_FORM };
  const first = spec.steps[0]!;
  if (spec.strategy === 'rolling') {
    const rolling = spec.rolling ?? { incrementPercent: first.percentage, intervalMs: first.minDurationMs, capPercent: spec.steps.at(-1)!.percentage };
    return { ...DEFAULT_PLAN_FORM, strategy: 'rolling', minutes: minutesOf(rolling.intervalMs), increment: show(rolling.incrementPercent), cap: show(rolling.capPercent) };
  }
  // The form has one duration and one exposure minimum for every step (the last, at 100%, needs no exposures).
  const gated = spec.steps.find((s) => s.percentage < 100) ?? first;
  const guard = spec.guard;
  return {
    ...DEFAULT_PLAN_FORM,
    strategy: 'guarded',
    steps: spec.steps.map((s) => show(s.percentage)).join(', '),
    minutes: minutesOf(gated.minDurationMs),
    exposures: String(gated.minExposures),
    ...(guard ? { errorEvent: guard.errorEvent, alpha: show(guard.alpha), delta: show(guard.minRelativeIncrease * 100) } : {}),
  };
}

/** True when the saved guarded steps differ in duration or exposures, which the form's single fields cannot show. */
export function hasPerStepValues(spec: SavedPlanSpec | null | undefined): boolean {
  if (!spec || spec.strategy !== 'guarded') return false;
  const values = planFormValues(spec);
  return spec.steps.some((s) => minutesOf(s.minDurationMs) !== values.minutes || (s.percentage < 100 ? String(s.minExposures) !== values.exposures : s.minExposures !== 0));
}

export type PlanBody =
  | { strategy: 'guarded'; variation?: string; steps: Step[]; guard: Partial<Guard> & Pick<Guard, 'errorEvent' | 'alpha' | 'minRelativeIncrease'> }
  | { strategy: 'rolling'; variation?: string; incrementPercent: number; intervalMs: number; capPercent: number };

/**
 * The PUT body for the form's values. `exposures` is the checked "Min exposures per step"
 * (guarded plans). With a saved plan, a field left as it was prefilled sends the saved value
 * itself, and the guard's settings the form does not show are sent back as they were.
 */
export function planBody(values: PlanFormValues, exposures: number, saved?: SavedPlanSpec | null): PlanBody {
  const before = saved ? planFormValues(saved) : undefined;
  const variation = saved?.variation ? { variation: saved.variation } : {};
  if (values.strategy === 'rolling') {
    return { strategy: 'rolling', ...variation, incrementPercent: Number(values.increment), intervalMs: Math.round(Number(values.minutes) * MINUTE), capPercent: Number(values.cap) };
  }
  const sameAsSaved = saved?.strategy === 'guarded' && before !== undefined;
  const keepSteps = sameAsSaved && values.steps === before.steps && values.minutes === before.minutes && values.exposures === before.exposures;
  const steps = keepSteps
    ? saved.steps.map((s) => ({ ...s }))
    : values.steps
        .split(',')
        .map((s) => Number(s.trim().replace('%', '')))
        .map((percentage) => ({ percentage, minDurationMs: Math.round(Number(values.minutes) * MINUTE), minExposures: percentage >= 100 ? 0 : exposures }));
  const savedGuard = sameAsSaved ? saved.guard : null;
  const guard = {
    ...(savedGuard ?? {}),
    errorEvent: values.errorEvent.trim(),
    alpha: savedGuard && values.alpha === before?.alpha ? savedGuard.alpha : Number(values.alpha),
    minRelativeIncrease: savedGuard && values.delta === before?.delta ? savedGuard.minRelativeIncrease : Number(values.delta) / 100,
  };
  return { strategy: 'guarded', ...variation, steps, guard };
}
