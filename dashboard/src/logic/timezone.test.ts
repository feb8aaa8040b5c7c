import { describe, expect, it } from 'vitest';
import { formatInZone, formatOffset, formatUtc, isValidTimeZone, offsetMinutesAt, parseWallTime, toWallInput, toZonedIso, wallTimeAt, zonedToUtc } from './timezone.js';

const utc = (iso: string) => new Date(iso).getTime();

describe('local wall time → UTC', () => {
  const cases = [
    { name: 'Berlin in winter (UTC+1)', local: '2026-12-08T10:00', zone: 'Europe/Berlin', expected: '2026-12-08T09:00:00.000Z', offset: 60 },
    { name: 'Berlin in summer (UTC+2)', local: '2026-07-01T10:00', zone: 'Europe/Berlin', expected: '2026-07-01T08:00:00.000Z', offset: 120 },
    { name: 'New York in winter (UTC−5)', local: '2026-12-08T04:00', zone: 'America/New_York', expected: '2026-12-08T09:00:00.000Z', offset: -300 },
    { name: 'New York in summer (UTC−4)', local: '2026-06-15T23:30', zone: 'America/New_York', expected: '2026-06-16T03:30:00.000Z', offset: -240 },
    { name: 'UTC itself', local: '2026-12-08T09:00', zone: 'UTC', expected: '2026-12-08T09:00:00.000Z', offset: 0 },
    { name: 'Kathmandu (UTC+5:45)', local: '2026-12-08T14:45', zone: 'Asia/Kathmandu', expected: '2026-12-08T09:00:00.000Z', offset: 345 },
    { name: 'Chatham in southern summer (UTC+13:45)', local: '2027-01-01T00:00', zone: 'Pacific/Chatham', expected: '2026-12-31T10:15:00.000Z', offset: 825 },
    { name: 'with seconds', local: '2026-12-08T10:00:30', zone: 'Europe/Berlin', expected: '2026-12-08T09:00:30.000Z', offset: 60 },
    { name: 'a space instead of T', local: '2026-12-08 10:00', zone: 'Europe/Berlin', expected: '2026-12-08T09:00:00.000Z', offset: 60 },
    { name: 'midnight crossing the date line backwards', local: '2026-03-01T00:30', zone: 'Pacific/Honolulu', expected: '2026-03-01T10:30:00.000Z', offset: -600 },
    { name: 'just after the spring gap (Berlin 03:00)', local: '2026-03-29T03:00', zone: 'Europe/Berlin', expected: '2026-03-29T01:00:00.000Z', offset: 120 },
    { name: 'just before the spring gap (Berlin 01:59)', local: '2026-03-29T01:59', zone: 'Europe/Berlin', expected: '2026-03-29T00:59:00.000Z', offset: 60 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = zonedToUtc(c.local, c.zone);
      expect(result).toMatchObject({ ok: true, offsetMinutes: c.offset });
      if (!result.ok) return;
      expect(new Date(result.utcMs).toISOString()).toBe(c.expected);
      expect(result.ambiguous).toBeUndefined();
    });
  }

  it('refuses a time inside the spring-forward gap, saying why (Berlin 02:30 on 29 March 2026)', () => {
    const result = zonedToUtc('2026-03-29T02:30', 'Europe/Berlin');
    expect(result).toEqual({ ok: false, error: '2026-03-29 02:30 does not exist in Europe/Berlin: clocks jump 60 minutes forward then (UTC+01:00 → UTC+02:00). Choose a later time.' });
  });

  it('refuses the gap in New York too (02:00–02:59 on 8 March 2026)', () => {
    for (const local of ['2026-03-08T02:00', '2026-03-08T02:59:59']) expect(zonedToUtc(local, 'America/New_York').ok).toBe(false);
    expect(zonedToUtc('2026-03-08T03:00', 'America/New_York')).toMatchObject({ ok: true, utcMs: utc('2026-03-08T07:00Z') });
  });

  it('refuses Lord Howe Island’s half-hour gap, naming 30 minutes', () => {
    const result = zonedToUtc('2026-10-04T02:15', 'Australia/Lord_Howe');
    expect(result).toMatchObject({ ok: false });
    if (!result.ok) expect(result.error).toContain('clocks jump 30 minutes forward');
  });

  it('takes the earlier of a time that happens twice (Berlin 02:30 on 25 October 2026), and reports the later', () => {
    const result = zonedToUtc('2026-10-25T02:30', 'Europe/Berlin');
    expect(result).toEqual({ ok: true, utcMs: utc('2026-10-25T00:30Z'), offsetMinutes: 120, ambiguous: { later: utc('2026-10-25T01:30Z'), laterOffsetMinutes: 60 } });
  });

  it('the New York overlap (01:30 on 1 November 2026) is EDT first, EST second', () => {
    const result = zonedToUtc('2026-11-01T01:30', 'America/New_York');
    expect(result).toMatchObject({ ok: true, utcMs: utc('2026-11-01T05:30Z'), offsetMinutes: -240, ambiguous: { later: utc('2026-11-01T06:30Z'), laterOffsetMinutes: -300 } });
  });

  it('refuses what is not a date and time, and dates that do not exist', () => {
    expect(zonedToUtc('', 'UTC')).toEqual({ ok: false, error: 'Enter a date and time' });
    expect(zonedToUtc('tomorrow', 'UTC')).toEqual({ ok: false, error: '"tomorrow" is not a date and time (YYYY-MM-DD HH:MM)' });
    expect(zonedToUtc('2026-02-30T10:00', 'UTC')).toEqual({ ok: false, error: '2026-02-30T10:00 is not a valid date and time' });
    expect(zonedToUtc('2026-12-08T24:00', 'UTC')).toEqual({ ok: false, error: '2026-12-08T24:00 is not a valid date and time' });
    expect(zonedToUtc('2026-12-08T10:00', 'Mars/Olympus')).toEqual({ ok: false, error: 'unknown time zone "Mars/Olympus"' });
  });

  it('accepts 29 February in a leap year only', () => {
    expect(parseWallTime('2028-02-29T12:00')).toMatchObject({ year: 2028, month: 2, day: 29 });
    expect(parseWallTime('2027-02-29T12:00')).toHaveProperty('error');
  });
});

describe('UTC → local wall time', () => {
  it('fills a datetime-local input in the viewer’s zone', () => {
    expect(toWallInput(utc('2026-12-08T09:00Z'), 'Europe/Berlin')).toBe('2026-12-08T10:00:00');
    expect(toWallInput(utc('2026-12-08T03:00Z'), 'America/Los_Angeles')).toBe('2026-12-07T19:00:00');
    expect(toWallInput(utc('2026-12-31T23:59:59Z'), 'Asia/Tokyo')).toBe('2027-01-01T08:59:59');
  });

  it('round-trips times of a whole year, and every 5 minutes around each DST change (the gap is never on a clock)', () => {
    const zones = [
      { zone: 'Europe/Berlin', changes: ['2026-03-29T01:00Z', '2026-10-25T01:00Z'] },
      { zone: 'America/New_York', changes: ['2026-03-08T07:00Z', '2026-11-01T06:00Z'] },
      { zone: 'Australia/Sydney', changes: ['2026-04-04T16:00Z', '2026-10-03T16:00Z'] },
    ];
    for (const { zone, changes } of zones) {
      const instants: number[] = [];
      for (let t = utc('2026-01-01T00:00Z'); t < utc('2027-01-01T00:00Z'); t += 367 * 60_000) instants.push(t);
      for (const change of changes) for (let t = utc(change) - 6 * 3_600_000; t <= utc(change) + 6 * 3_600_000; t += 5 * 60_000) instants.push(t);
      let overlaps = 0;
      for (const t of instants) {
        const back = zonedToUtc(toWallInput(t, zone), zone);
        expect(back.ok).toBe(true);
        if (!back.ok) continue;
        // In the overlap the earlier instant is chosen: the later one maps back to the earlier.
        if (back.ambiguous) {
          overlaps++;
          expect([back.utcMs, back.ambiguous.later]).toContain(t);
        } else expect(back.utcMs).toBe(t);
      }
      // Both instants of each wall time in the hour that happens twice (12 five-minute marks, twice).
      expect(overlaps).toBeGreaterThanOrEqual(24);
    }
  });

  it('offsets follow DST', () => {
    expect(offsetMinutesAt(utc('2026-03-29T00:59Z'), 'Europe/Berlin')).toBe(60);
    expect(offsetMinutesAt(utc('2026-03-29T01:00Z'), 'Europe/Berlin')).toBe(120);
    expect(offsetMinutesAt(utc('2026-07-01T00:00Z'), 'Australia/Sydney')).toBe(600);
    expect(offsetMinutesAt(utc('2026-01-01T00:00Z'), 'Australia/Sydney')).toBe(660);
    expect(wallTimeAt(utc('2026-10-25T00:30Z'), 'Europe/Berlin')).toEqual(wallTimeAt(utc('2026-10-25T01:30Z'), 'Europe/Berlin'));
  });
});

describe('formatting', () => {
  it('formats offsets and zoned ISO times', () => {
    expect(formatOffset(0)).toBe('UTC');
    expect(formatOffset(60)).toBe('UTC+01:00');
    expect(formatOffset(-240)).toBe('UTC−04:00');
    expect(formatOffset(345)).toBe('UTC+05:45');
    expect(formatOffset(-570)).toBe('UTC−09:30');
    expect(toZonedIso(utc('2026-12-08T09:00Z'), 'Europe/Berlin')).toBe('2026-12-08T10:00:00+01:00');
    expect(toZonedIso(utc('2026-07-08T09:00Z'), 'America/New_York')).toBe('2026-07-08T05:00:00-04:00');
    expect(toZonedIso(utc('2026-07-08T09:00Z'), 'UTC')).toBe('2026-07-08T09:00:00Z');
  });

  it('formats UTC for the secondary text, seconds only when there are some', () => {
    expect(formatUtc(utc('2026-12-08T09:00Z'))).toBe('2026-12-08 09:00 UTC');
    expect(formatUtc(utc('2026-12-08T09:00:05Z'))).toBe('2026-12-08 09:00:05 UTC');
  });

  it('shows the viewer’s zone by its short name, with the weekday of that zone', () => {
    const at = utc('2026-12-08T03:00Z');
    expect(formatInZone(at, 'America/New_York')).toMatch(/^Mon, Dec 7, 2026, 10:00\sPM EST$/);
    expect(formatInZone(at, 'UTC')).toMatch(/^Tue, Dec 8, 2026, 3:00\sAM UTC$/);
    expect(formatInZone(utc('2026-07-08T03:00:09Z'), 'America/New_York')).toMatch(/^Tue, Jul 7, 2026, 11:00:09\sPM EDT$/);
    expect(formatInZone(at, 'Europe/Berlin', 'en-GB')).toMatch(/^Tue,? 8 Dec 2026,? 04:00 (CET|GMT\+1)$/);
  });

  it('knows valid zone names', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Not/AZone')).toBe(false);
  });
});
