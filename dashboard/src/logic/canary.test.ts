import { describe, expect, it } from 'vitest';
import {
  audienceText,
  buildSeries,
  checkStepExposures,
  duration,
  exposuresToDecide,
  polyline,
  rollbackText,
  shortPercent,
  splitText,
  stepText,
  stoppedText,
  waitingText,
  type EvidenceState,
  type PlanState,
  type TargetingState,
} from './canary.js';

describe('canary console logic', () => {
  it('says the split largest first', () => {
    expect(splitText([{ variation: 'v2', percentage: 10 }, { variation: 'v1', percentage: 90 }])).toBe('90% v1 / 10% v2');
  });

  it('builds per-variation series with error rates, zero-filling missing windows', () => {
    const series = buildSeries(
      [
        { windowStart: 0, variation: 'on', metric: '$exposure', count: 100 },
        { windowStart: 0, variation: 'on', metric: 'error', count: 5 },
        { windowStart: 0, variation: 'off', metric: '$exposure', count: 900 },
        { windowStart: 10, variation: 'off', metric: '$exposure', count: 1000 },
      ],
      'error',
    );
    expect(series.get('on')).toEqual([
      { at: 0, exposures: 100, errors: 5, rate: 0.05 },
      { at: 10, exposures: 0, errors: 0, rate: null },
    ]);
    expect(series.get('off')![1]).toEqual({ at: 10, exposures: 1000, errors: 0, rate: 0 });
  });

  it('says durations in seconds or minutes', () => {
    expect(duration(500)).toBe('0.5 s');
    expect(duration(90_000)).toBe('1.5 min');
    expect(duration(3_600_000)).toBe('60 min');
  });

  it('maps values into the box, skipping gaps', () => {
    expect(polyline([0, 5, null, 10], 10, 30, 100)).toBe('0.0,100.0 10.0,50.0 30.0,0.0');
    expect(polyline([], 1, 10, 10)).toBe('');
  });

  // ---- plain language ----

  const MINUTE = 60_000;
  const STEPS = [1, 10, 25, 100].map((percentage) => ({ percentage, minDurationMs: 10 * MINUTE, minExposures: percentage < 100 ? 1000 : 0 }));
  const plan = (over: Partial<PlanState> = {}): PlanState => ({
    status: 'running',
    currentStep: 2,
    variation: 'on',
    stepStartedAt: '2026-03-01T13:55:00.000Z',
    spec: { steps: STEPS, guard: { minExposures: 200 } },
    ...over,
  });
  const evidence = (treatment: number, control: number, stepExposures = 0, over: Partial<NonNullable<EvidenceState['errors']>> = {}): EvidenceState => ({
    errors: { verdict: 'insufficient_data', treatment: { exposures: treatment, errors: 0, rate: 0 }, control: { exposures: control, errors: 0, rate: 0 }, ...over },
    stepExposures,
  });
  const utc = (ms: number) => new Date(ms).toISOString().slice(11, 16);

  it('says where a running plan is and until when its step lasts', () => {
    const now = Date.parse('2026-03-01T14:00:00.000Z');
    expect(stepText(plan(), now, utc)).toBe('Step 3 of 4: 25% until 14:05');
    // The step's minimum time is over: no "until" in the past.
    expect(stepText(plan(), now + 6 * MINUTE, utc)).toBe('Step 3 of 4: 25%');
    expect(stepText(plan({ status: 'paused' }), now, utc)).toBe('Paused at step 3 of 4 (25%)');
    expect(stepText(plan({ status: 'ready', currentStep: -1, stepStartedAt: null }), now, utc)).toBe('Not started: 1% → 10% → 25% → 100%');
    expect(stepText(plan({ status: 'completed', currentStep: 3 }), now, utc)).toBe('Completed at 100%');
  });

  it('counts the exposures the guard still needs on the arm furthest short, as the server decides (< minimum)', () => {
    expect(exposuresToDecide(plan(), evidence(60, 5000))).toBe(140);
    expect(exposuresToDecide(plan(), evidence(5000, 150))).toBe(50);
    expect(exposuresToDecide(plan(), evidence(200, 200))).toBe(0);
    expect(exposuresToDecide(plan({ spec: { steps: STEPS, guard: { minExposures: 500 } } }), evidence(60, 5000))).toBe(440);
    expect(exposuresToDecide(plan({ spec: { steps: STEPS, guard: null } }), evidence(0, 0))).toBe(0);
  });

  it('says what a running guarded plan waits for', () => {
    expect(waitingText(plan(), evidence(60, 5000))).toBe('Waiting for 140 more exposures before it can decide');
    expect(waitingText(plan(), evidence(0, 0))).toMatch(/^No exposures reported yet/);
    expect(waitingText(plan(), null)).toMatch(/^No exposures reported yet/);
    expect(waitingText(plan(), evidence(700, 9000, 700, { verdict: 'healthy' }))).toBe('Waiting for 300 more exposures of on in this step before the next one');
    expect(waitingText(plan(), evidence(1200, 9000, 1200, { verdict: 'healthy' }))).toBeUndefined();
    // Only a running guarded plan collects exposures: nothing to wait for otherwise.
    expect(waitingText(plan({ status: 'paused' }), evidence(0, 0))).toBeUndefined();
    expect(waitingText(plan({ spec: { steps: STEPS, guard: null } }), evidence(0, 0))).toBeUndefined();
  });

  it('says why the guard rolled back, from the decision’s evidence', () => {
    const decision = evidence(1400, 90_000, 0, { verdict: 'regression', treatment: { exposures: 1400, errors: 120, rate: 120 / 1400 }, control: { exposures: 90_000, errors: 2610, rate: 0.029 } });
    expect(rollbackText(decision)).toBe('Rolled back: 8.6% errors on the new version vs 2.9%');
    expect(rollbackText({ errors: null, latency: { verdict: 'regression', treatmentP95: 420.4, controlP95: 300 } })).toBe('Rolled back: p95 latency 420 ms on the new version vs 300 ms');
    expect(rollbackText(null)).toBe('Rolled back');
    expect(shortPercent(0.0025)).toBe('0.25%');
    expect(shortPercent(0.5)).toBe('50%');
    expect(shortPercent(0)).toBe('0%');
  });

  const DOGFOOD_RULE = { id: 'dogfood', clauses: [{ operator: 'in_segment', values: ['internal'] }], serve: { variation: 'on' } };
  const targeting = (over: Partial<TargetingState> = {}): TargetingState => ({ on: true, killed: false, offVariation: 'off', targets: [], rules: [DOGFOOD_RULE], defaultServe: { variation: 'off' }, ...over });

  it('says who gets what from the targeting, dogfood users included', () => {
    expect(audienceText(targeting())).toBe('Internal users get on; everyone else gets off');
    const rollout = { rollout: { variations: [{ variation: 'on', weight: 1000 }, { variation: 'off', weight: 99_000 }] } };
    expect(audienceText(targeting({ defaultServe: rollout }))).toBe('99% off / 1% on; internal users always get on');
    expect(audienceText(targeting({ defaultServe: { variation: 'on' } }))).toBe('Everyone gets on');
    expect(audienceText(targeting({ on: false, killed: true }))).toBe('Killed: everyone gets off');
    expect(audienceText(targeting({ rules: [] }))).toBe('Everyone gets off');
    const pro = { id: 'pro', clauses: [{ operator: 'in', values: ['pro'] }], serve: { variation: 'on' } };
    expect(audienceText(targeting({ rules: [DOGFOOD_RULE, pro], targets: [{ values: ['u1', 'u2'] }] }))).toBe('Internal users get on; everyone else gets off (and 1 other rule and 2 individual targets apply first)');
  });

  it('says a rolled-back plan left dogfood users with the new variation, not "100% off"', () => {
    expect(stoppedText('rolled_back', targeting())).toBe('Rolled back to Dogfood: internal users still get it (on); everyone else gets off');
    expect(stoppedText('aborted', targeting())).toBe('Aborted and rolled back to Dogfood: internal users still get it (on); everyone else gets off');
    // Moved since (here: killed): what is true now, not what the rollback once set.
    expect(stoppedText('rolled_back', targeting({ on: false, killed: true }))).toBe('Rolled back; now: Killed: everyone gets off');
  });

  it('refuses fewer step exposures than the guard needs before it decides', () => {
    expect(checkStepExposures('200')).toEqual({ value: 200 });
    expect(checkStepExposures(' 1000 ')).toEqual({ value: 1000 });
    expect(checkStepExposures('199')).toEqual({ error: expect.stringMatching(/^At least 200: the guard needs 200 exposures per variation/) });
    expect(checkStepExposures('0')).toHaveProperty('error');
    expect(checkStepExposures('250.5')).toEqual({ error: 'Enter a whole number of exposures' });
    expect(checkStepExposures('')).toEqual({ error: 'Enter a number of exposures' });
    expect(checkStepExposures('1e9')).toEqual({ error: 'At most 100,000,000' });
  });
});
