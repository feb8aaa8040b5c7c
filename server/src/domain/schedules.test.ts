import { describe, expect, it } from 'vitest';
import type { FlagEnvironment } from './flags.js';
import { baselineOf, changedFields, describeAction, formatDuration, lateness, parseInstant, timeProblem, type ScheduleAction } from './schedules.js';
import { applyStage } from './stages.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0);

describe('parseInstant', () => {
  const valid = [
    { name: 'UTC with Z, no seconds', text: '2026-12-08T09:00Z', expected: Date.UTC(2026, 11, 8, 9, 0) },
    { name: 'UTC with seconds and milliseconds', text: '2026-12-08T09:00:30.250Z', expected: Date.UTC(2026, 11, 8, 9, 0, 30, 250) },
    { name: 'positive offset with colon', text: '2026-12-08T10:00:00+01:00', expected: Date.UTC(2026, 11, 8, 9, 0) },
    { name: 'negative offset without colon', text: '2026-12-08T04:00-0500', expected: Date.UTC(2026, 11, 8, 9, 0) },
    { name: 'hours-only offset', text: '2026-12-08T14:30+05', expected: Date.UTC(2026, 11, 8, 9, 30) },
    { name: 'half-hour offset across midnight', text: '2026-12-08T00:30+05:30', expected: Date.UTC(2026, 11, 7, 19, 0) },
    { name: 'leap day', text: '2028-02-29T00:00Z', expected: Date.UTC(2028, 1, 29) },
    { name: 'surrounding spaces', text: ' 2026-12-08T09:00Z ', expected: Date.UTC(2026, 11, 8, 9, 0) },
  ];
  for (const { name, text, expected } of valid) {
    it(`reads ${name}`, () => expect(parseInstant(text)).toBe(expected));
  }

  const invalid = [
    { name: 'no zone (the server would have to guess one)', text: '2026-12-08T09:00' },
    { name: 'a date only', text: '2026-12-08' },
    { name: 'words', text: 'next tuesday' },
    { name: 'February 30', text: '2026-02-30T09:00Z' },
    { name: 'February 29 of a common year', text: '2027-02-29T09:00Z' },
    { name: 'hour 24', text: '2026-12-08T24:00Z' },
    { name: 'month 13', text: '2026-13-08T09:00Z' },
    { name: 'offset of 25 hours', text: '2026-12-08T09:00+25:00' },
    { name: 'an epoch number', text: '1796547600000' },
    { name: 'empty', text: '' },
  ];
  for (const { name, text } of invalid) {
    it(`refuses ${name}`, () => expect(typeof parseInstant(text)).toBe('string'));
  }

  it('says what a good time looks like', () => {
    expect(parseInstant('2026-12-08 09:00')).toMatch(/not an ISO-8601 time with a zone, such as 2026-12-08T09:00Z/);
  });
});

describe('timeProblem', () => {
  it('refuses the past and now, naming the server time', () => {
    expect(timeProblem(NOW - 1, NOW)).toBe('2026-12-01T11:59:59.999Z is in the past (the server\'s time is 2026-12-01T12:00:00.000Z); schedule a time in the future');
    expect(timeProblem(NOW, NOW)).toMatch(/in the past/);
  });
  it('accepts the future up to five years ahead', () => {
    expect(timeProblem(NOW + 1, NOW)).toBeUndefined();
    expect(timeProblem(NOW + 6 * 366 * 24 * 3600_000, NOW)).toMatch(/more than 5 years ahead/);
  });
});

const config: FlagEnvironment = {
  on: false,
  killed: false,
  offVariation: 'false',
  targets: [],
  rules: [],
  defaultServe: { variation: 'false' },
  salt: 'salt',
  bucketBy: 'userId',
};
const at10 = applyStage(config, '10%', 'true');
const stage50: ScheduleAction = { type: 'stage', stage: '50%' };
const kill: ScheduleAction = { type: 'kill' };

describe('conflicts: the fields an action touches, then and now', () => {
  const cases = [
    { name: 'nothing changed', action: stage50, then: at10, now: at10, expected: [] },
    { name: 'the ramp moved', action: stage50, then: at10, now: applyStage(at10, '25%', 'true'), expected: ['defaultServe'] },
    { name: 'killed meanwhile', action: stage50, then: at10, now: applyStage(at10, 'kill', 'true'), expected: ['on', 'killed'] },
    { name: 'back to off', action: stage50, then: at10, now: applyStage(at10, 'off', 'true'), expected: ['on', 'defaultServe', 'dogfoodRule'] },
    {
      name: 'another rule added (a stage change keeps it)',
      action: stage50,
      then: at10,
      now: { ...at10, rules: [...at10.rules, { id: 'pro', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'true' } }] },
      expected: [],
    },
    { name: 'targets added', action: stage50, then: at10, now: { ...at10, targets: [{ variation: 'true', values: ['u1'] }] }, expected: [] },
    { name: 'a kill does not care about the ramp', action: kill, then: at10, now: applyStage(at10, '25%', 'true'), expected: [] },
    { name: 'a kill of a flag killed meanwhile', action: kill, then: at10, now: applyStage(at10, 'kill', 'true'), expected: ['on', 'killed'] },
  ] satisfies { name: string; action: ScheduleAction; then: FlagEnvironment; now: FlagEnvironment; expected: string[] }[];
  for (const { name, action, then, now, expected } of cases) {
    it(name, () => expect(changedFields(action, baselineOf(action, then), now)).toEqual(expected));
  }

  it('ignores key order (PostgreSQL jsonb reorders keys)', () => {
    const baseline = JSON.parse(JSON.stringify(baselineOf(stage50, at10), (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)));
    expect(changedFields(stage50, baseline, at10)).toEqual([]);
  });
});

describe('lateness and words', () => {
  it('is late only past the grace period', () => {
    expect(lateness({ at: NOW, graceMs: 60_000 }, NOW + 60_000)).toEqual({ lateByMs: 60_000, late: false });
    expect(lateness({ at: NOW, graceMs: 60_000 }, NOW + 60_001)).toEqual({ lateByMs: 60_001, late: true });
    expect(lateness({ at: NOW, graceMs: 0 }, NOW - 5)).toEqual({ lateByMs: 0, late: false });
  });
  it('formats durations for people', () => {
    expect([40_000, 5 * 60_000, 2 * 3600_000 + 5 * 60_000, 3 * 24 * 3600_000 + 3600_000].map(formatDuration)).toEqual(['40 s', '5 min', '2 h 5 min', '3 days 1 h']);
  });
  it('describes actions', () => {
    expect([describeAction(stage50), describeAction(kill), describeAction({ type: 'stage', stage: '100%', variation: 'blue' })]).toEqual(['move to 50%', 'kill', 'move to 100% (variation blue)']);
  });
});
