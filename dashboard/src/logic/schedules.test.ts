import { describe, expect, it } from 'vitest';
import { testSchedule as schedule } from '../testing/schedules.js';
import { actionLabel, latePolicyLabel, latestFirst, newScheduleForm, nextCheckDelay, scheduleRequest, schedulePatch, scheduleToForm, soonestFirst, splitServerErrors, whoLabel, type ScheduleFormState } from './schedules.js';

const form = (over: Partial<ScheduleFormState> = {}): ScheduleFormState => ({ choice: '50%', percent: '', variation: '', when: '2026-12-08T10:00', onLate: 'run', message: '', ...over });

describe('the schedule form → request', () => {
  const cases = [
    { name: 'a ramp stage, Berlin time sent as UTC', form: form(), zone: 'Europe/Berlin', expected: { at: '2026-12-08T09:00:00.000Z', action: { type: 'stage', stage: '50%' }, onLate: 'run' } },
    { name: 'a kill, New York time', form: form({ choice: 'kill', when: '2026-12-08T04:00' }), zone: 'America/New_York', expected: { at: '2026-12-08T09:00:00.000Z', action: { type: 'kill' }, onLate: 'run' } },
    { name: 'a custom percentage', form: form({ choice: 'custom', percent: '25' }), zone: 'UTC', expected: { at: '2026-12-08T10:00:00.000Z', action: { type: 'stage', stage: '25%' }, onLate: 'run' } },
    { name: 'a variation, a message and skip', form: form({ variation: 'blue', message: '  launch ', onLate: 'skip' }), zone: 'UTC', expected: { at: '2026-12-08T10:00:00.000Z', action: { type: 'stage', stage: '50%', variation: 'blue' }, onLate: 'skip', message: 'launch' } },
    { name: 'no variation for off', form: form({ choice: 'off', variation: 'blue' }), zone: 'UTC', expected: { at: '2026-12-08T10:00:00.000Z', action: { type: 'stage', stage: 'off' }, onLate: 'run' } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(scheduleRequest(c.form, c.zone)).toEqual({ ok: true, request: c.expected });
    });
  }

  it('names the fields that are wrong, before asking the server', () => {
    const result = scheduleRequest(form({ choice: 'custom', percent: '250', when: '2026-03-29T02:30' }), 'Europe/Berlin');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.get('action.stage')).toBe('Enter a number from 0.001 to 100, with at most 3 decimals');
    expect(result.errors.get('at')).toMatch(/^2026-03-29 02:30 does not exist in Europe\/Berlin/);
  });

  it('says which of a twice-happening time it took', () => {
    const result = scheduleRequest(form({ when: '2026-11-01T01:30' }), 'America/New_York');
    expect(result).toMatchObject({ ok: true, request: { at: '2026-11-01T05:30:00.000Z' } });
    if (result.ok) expect(result.note).toBe('2026-11-01 01:30 happens twice in America/New_York (the clocks go back): this is the first, at UTC−04:00, not the second at UTC−05:00.');
  });
});

describe('editing', () => {
  it('fills the form with the time in the viewer’s zone', () => {
    expect(scheduleToForm(schedule(), 'Europe/Berlin')).toEqual({ choice: '50%', percent: '', variation: '', when: '2026-12-08T10:00', onLate: 'run', message: 'launch' });
    expect(scheduleToForm(schedule({ at: '2026-12-08T09:00:30.000Z', action: { type: 'stage', stage: '25%', variation: 'blue' } }), 'UTC')).toMatchObject({ choice: 'custom', percent: '25', variation: 'blue', when: '2026-12-08T09:00:30' });
    expect(scheduleToForm(schedule({ action: { type: 'kill' }, message: null }), 'UTC')).toMatchObject({ choice: 'kill', message: '' });
    expect(scheduleToForm(schedule({ action: { type: 'change_request', requestId: 7 } }), 'UTC')).toMatchObject({ fixed: { type: 'change_request', requestId: 7 } });
  });

  it('sends only what changed, never an unchanged action (that would re-baseline it)', () => {
    const original = schedule({ version: 4 });
    const same = scheduleRequest(scheduleToForm(original, 'Asia/Tokyo'), 'Asia/Tokyo');
    expect(same.ok).toBe(true);
    if (!same.ok) return;
    expect(schedulePatch(original, same.request)).toEqual({ version: 4 });
    expect(schedulePatch(original, { ...same.request, at: '2026-12-08T10:00:00.000Z' })).toEqual({ version: 4, at: '2026-12-08T10:00:00.000Z' });
    expect(schedulePatch(original, { ...same.request, action: { type: 'kill' }, onLate: 'skip' })).toEqual({ version: 4, action: { type: 'kill' }, onLate: 'skip' });
    expect(schedulePatch(original, { at: same.request.at, action: same.request.action, onLate: 'run' })).toEqual({ version: 4, message: null });
  });

  it('keeps a change request’s apply as it is: only its time and policies are edited', () => {
    const original = schedule({ action: { type: 'change_request', requestId: 7 }, version: 2 });
    const edited = scheduleRequest({ ...scheduleToForm(original, 'UTC'), choice: '50%', when: '2026-12-09T09:00' }, 'UTC');
    expect(edited).toMatchObject({ ok: true, request: { action: { type: 'change_request', requestId: 7 }, at: '2026-12-09T09:00:00.000Z' } });
    if (edited.ok) expect(schedulePatch(original, edited.request)).toEqual({ version: 2, at: '2026-12-09T09:00:00.000Z' });
  });
});

describe('a new form', () => {
  it('proposes the next stage up, at a full hour at least 10 minutes away', () => {
    const now = new Date('2026-12-08T08:55:00Z').getTime();
    expect(newScheduleForm(now, 'Europe/Berlin', '10%')).toEqual({ choice: '50%', percent: '', variation: '', when: '2026-12-08T11:00', onLate: 'run', message: '' });
    expect(newScheduleForm(new Date('2026-12-08T08:45:00Z').getTime(), 'UTC', 'off').when).toBe('2026-12-08T09:00');
    expect(newScheduleForm(now, 'UTC', 'off').choice).toBe('dogfood');
    expect(newScheduleForm(now, 'UTC', '100%').choice).toBe('off');
  });
});

describe('words and order', () => {
  it('labels actions, late policies and who', () => {
    expect(actionLabel({ type: 'stage', stage: '50%' })).toBe('Move to 50%');
    expect(actionLabel({ type: 'stage', stage: 'dogfood' })).toBe('Move to Dogfood');
    expect(actionLabel({ type: 'stage', stage: '0.5%', variation: 'blue' })).toBe('Move to 0.5% (variation blue)');
    expect(actionLabel({ type: 'kill' })).toBe('Kill');
    expect(actionLabel({ type: 'change_request', requestId: 7 })).toBe('Apply change request #7');
    expect(latePolicyLabel({ onLate: 'run', graceSeconds: 300 })).toBe('If over 5 min late: run anyway');
    expect(latePolicyLabel({ onLate: 'skip', graceSeconds: 90 })).toBe('If over 90 s late: skip');
    expect(whoLabel({ createdBy: 'alice', updatedBy: 'alice' })).toBe('scheduled by alice');
    expect(whoLabel({ createdBy: 'alice', updatedBy: 'bob' })).toBe('scheduled by alice, edited by bob');
  });

  it('sorts upcoming soonest first and finished latest first', () => {
    const a = schedule({ id: 1, at: '2026-12-08T09:00:00Z' });
    const b = schedule({ id: 2, at: '2026-12-07T09:00:00Z' });
    const c = schedule({ id: 3, at: '2026-12-08T09:00:00Z' });
    expect(soonestFirst([a, b, c]).map((s) => s.id)).toEqual([2, 1, 3]);
    const ran = schedule({ id: 4, at: '2026-12-01T09:00:00Z', executedAt: '2026-12-09T09:00:00Z' });
    expect(latestFirst([a, b, c, ran], 3).map((s) => s.id)).toEqual([4, 3, 1]);
  });

  it('looks again shortly after the soonest is due, within bounds', () => {
    const now = new Date('2026-12-08T09:00:00Z').getTime();
    expect(nextCheckDelay([], now)).toBeUndefined();
    expect(nextCheckDelay([{ at: '2026-12-08T09:00:03Z' }, { at: '2026-12-08T10:00:00Z' }], now)).toBe(5500);
    expect(nextCheckDelay([{ at: '2026-12-08T08:59:59Z' }], now)).toBe(1500);
    expect(nextCheckDelay([{ at: '2026-12-08T08:59:50Z' }], now)).toBe(1000);
    expect(nextCheckDelay([{ at: '2026-12-08T08:00:00Z' }], now)).toBe(15_000);
    expect(nextCheckDelay([{ at: '2026-12-09T08:00:00Z' }], now)).toBe(300_000);
  });
});

describe('server refusals', () => {
  it('puts field messages next to their fields, verbatim, and the rest on the form', () => {
    const past = '2026-12-01T09:00:00.000Z is in the past (the server\'s time is 2026-12-03T14:00:00.000Z); schedule a time in the future';
    expect(splitServerErrors(`body.at: ${past}`, [{ path: 'body.at', message: past }])).toEqual({ fields: new Map([['at', [past]]]), general: [] });
    expect(splitServerErrors('x', [{ path: 'body.action.variation', message: 'unknown variation "x"' }, { path: 'body.graceSeconds', message: 'too big' }])).toEqual({
      fields: new Map([['action.variation', ['unknown variation "x"']]]),
      general: ['graceSeconds: too big'],
    });
    const locked = 'flag "new-checkout" is managed by Git (flags/new-checkout.yaml): change it there';
    expect(splitServerErrors(locked, [])).toEqual({ fields: new Map(), general: [locked] });
  });
});
