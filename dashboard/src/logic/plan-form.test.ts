import { describe, expect, it } from 'vitest';
import { DEFAULT_PLAN_FORM, hasPerStepValues, planBody, planFormValues, type SavedPlanSpec } from './plan-form.js';

const MINUTE = 60_000;
const GUARD = { errorEvent: 'checkout_error', alpha: 0.01, minRelativeIncrease: 0.07, minExposures: 500, tauRelative: 0.5, maxSilenceMs: 300_000, latency: { event: 'latency_ms', maxRelativeIncrease: 0.2, minSamples: 500 } };
const GUARDED: SavedPlanSpec = {
  strategy: 'guarded',
  variation: 'v2',
  steps: [
    { percentage: 5, minDurationMs: 15 * MINUTE, minExposures: 800 },
    { percentage: 25, minDurationMs: 15 * MINUTE, minExposures: 800 },
    { percentage: 100, minDurationMs: 15 * MINUTE, minExposures: 0 },
  ],
  guard: GUARD,
};

describe('plan form values', () => {
  it('are the defaults without a saved plan', () => {
    expect(planFormValues(null)).toEqual(DEFAULT_PLAN_FORM);
  });

  it('come from a saved guarded plan: steps, minutes, exposures and the decision rule', () => {
    expect(planFormValues(GUARDED)).toEqual({ ...DEFAULT_PLAN_FORM, steps: '5, 25, 100', minutes: '15', exposures: '800', errorEvent: 'checkout_error', alpha: '0.01', delta: '7' });
    expect(hasPerStepValues(GUARDED)).toBe(false);
  });

  it('come from a saved rolling plan', () => {
    const rolling: SavedPlanSpec = { strategy: 'rolling', steps: [{ percentage: 20, minDurationMs: 90_000, minExposures: 0 }], guard: null, rolling: { incrementPercent: 20, intervalMs: 90_000, capPercent: 60 } };
    expect(planFormValues(rolling)).toEqual({ ...DEFAULT_PLAN_FORM, strategy: 'rolling', minutes: '1.5', increment: '20', cap: '60' });
  });

  it('tell when saved steps differ from each other (the server default steps do)', () => {
    const defaults: SavedPlanSpec = {
      strategy: 'guarded',
      steps: [
        { percentage: 1, minDurationMs: 5 * MINUTE, minExposures: 200 },
        { percentage: 10, minDurationMs: 10 * MINUTE, minExposures: 1000 },
        { percentage: 100, minDurationMs: 0, minExposures: 0 },
      ],
      guard: GUARD,
    };
    expect(hasPerStepValues(defaults)).toBe(true);
    expect(planFormValues(defaults)).toMatchObject({ steps: '1, 10, 100', minutes: '5', exposures: '200' });
  });
});

describe('plan body', () => {
  it('for an unchanged saved plan is that plan: steps, the whole guard, the variation', () => {
    expect(planBody(planFormValues(GUARDED), 800, GUARDED)).toEqual({ strategy: 'guarded', variation: 'v2', steps: GUARDED.steps, guard: GUARD });
  });

  it('keeps per-step values unless steps, minutes or exposures change', () => {
    const uneven: SavedPlanSpec = { ...GUARDED, steps: [{ percentage: 5, minDurationMs: 5 * MINUTE, minExposures: 300 }, { percentage: 25, minDurationMs: 20 * MINUTE, minExposures: 3000 }, { percentage: 100, minDurationMs: 0, minExposures: 0 }] };
    const values = planFormValues(uneven);
    const edited = planBody({ ...values, errorEvent: 'js_error' }, 300, uneven);
    expect(edited).toMatchObject({ steps: uneven.steps, guard: { ...GUARD, errorEvent: 'js_error' } });
    const uniform = planBody({ ...values, minutes: '30' }, 300, uneven);
    expect(uniform.strategy === 'guarded' && uniform.steps).toEqual([
      { percentage: 5, minDurationMs: 30 * MINUTE, minExposures: 300 },
      { percentage: 25, minDurationMs: 30 * MINUTE, minExposures: 300 },
      { percentage: 100, minDurationMs: 30 * MINUTE, minExposures: 0 },
    ]);
  });

  it('sends changed α and δ, and the guard settings the form does not show as saved', () => {
    const body = planBody({ ...planFormValues(GUARDED), alpha: '0.02', delta: '15' }, 800, GUARDED);
    expect(body).toMatchObject({ guard: { ...GUARD, alpha: 0.02, minRelativeIncrease: 0.15 } });
  });

  it('for a new plan is what the form says, with the server defaulting the rest', () => {
    expect(planBody(DEFAULT_PLAN_FORM, 1000)).toEqual({
      strategy: 'guarded',
      steps: [1, 10, 50, 100].map((percentage) => ({ percentage, minDurationMs: 10 * MINUTE, minExposures: percentage >= 100 ? 0 : 1000 })),
      guard: { errorEvent: 'error', alpha: 0.05, minRelativeIncrease: 0.1 },
    });
    expect(planBody({ ...DEFAULT_PLAN_FORM, strategy: 'rolling', increment: '25', minutes: '2', cap: '75' }, 0)).toEqual({ strategy: 'rolling', incrementPercent: 25, intervalMs: 2 * MINUTE, capPercent: 75 });
  });

  it('drops a rolling plan for a guarded one without carrying anything over but the variation', () => {
    const rolling: SavedPlanSpec = { strategy: 'rolling', variation: 'v2', steps: [{ percentage: 50, minDurationMs: MINUTE, minExposures: 0 }, { percentage: 100, minDurationMs: MINUTE, minExposures: 0 }], guard: null };
    expect(planBody({ ...planFormValues(rolling), strategy: 'guarded' }, 1000, rolling)).toEqual({
      strategy: 'guarded',
      variation: 'v2',
      steps: [1, 10, 50, 100].map((percentage) => ({ percentage, minDurationMs: MINUTE, minExposures: percentage >= 100 ? 0 : 1000 })),
      guard: { errorEvent: 'error', alpha: 0.05, minRelativeIncrease: 0.1 },
    });
  });
});
