/**
 * Wall-clock time in a named time zone ↔ UTC instants, for scheduling: the viewer types a date and
 * time in their own zone, the server stores UTC. Everything takes the zone as an explicit IANA name
 * (`Europe/Berlin`) and works through Intl, so it is testable for any zone on any machine.
 *
 * A wall-clock time maps to one instant, except around daylight-saving changes: in the spring gap
 * (02:30 on the day clocks jump from 02:00 to 03:00) it names no instant at all, and in the autumn
 * overlap (01:30 on the day clocks go back from 02:00 to 01:00) it names two. The first is refused
 * with the reason; the second takes the earlier instant and says so.
 */

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Year, month (1-12), day, hour (0-23), minute, second: a time on a wall clock, without a zone. */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

// One formatter per zone: building one costs far more than using it.
const partsFormatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = partsFormatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    partsFormatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Whether `timeZone` is an IANA zone name this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    partsFormatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The viewer's zone as the browser reports it (UTC when it reports none). */
export function viewerTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** What a wall clock in `timeZone` shows at the instant `utcMs` (seconds; milliseconds dropped). */
export function wallTimeAt(utcMs: number, timeZone: string): WallTime {
  const parts = partsFormatter(timeZone).formatToParts(utcMs);
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? NaN);
  const bc = parts.find((p) => p.type === 'era')?.value === 'BC';
  return { year: bc ? 1 - get('year') : get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second') };
}

const wallAsUtc = (w: WallTime) => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);

/** The zone's offset from UTC at an instant, in minutes (Berlin in winter: 60; New York in summer: -240). */
export function offsetMinutesAt(utcMs: number, timeZone: string): number {
  const whole = Math.floor(utcMs / 1000) * 1000;
  return Math.round((wallAsUtc(wallTimeAt(whole, timeZone)) - whole) / MINUTE);
}

/** `UTC+01:00`, `UTC−04:00`, `UTC+05:45`, `UTC` (minus as U+2212, as typeset). */
export function formatOffset(minutes: number): string {
  if (minutes === 0) return 'UTC';
  const abs = Math.abs(minutes);
  return `UTC${minutes < 0 ? '−' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** `+01:00` / `-04:00` / `Z`: the suffix of an ISO-8601 time. */
export function isoOffset(minutes: number): string {
  if (minutes === 0) return 'Z';
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

const LOCAL_INPUT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?$/;

/** Read `2026-12-08T09:00` or `2026-12-08T09:00:30` (what `<input type="datetime-local">` gives). */
export function parseWallTime(text: string): WallTime | { error: string } {
  const m = LOCAL_INPUT.exec(text.trim());
  if (!m) return { error: text.trim() === '' ? 'Enter a date and time' : `"${text}" is not a date and time (YYYY-MM-DD HH:MM)` };
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  const wall = { year, month, day, hour, minute, second };
  const roundTrip = new Date(wallAsUtc(wall));
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 || roundTrip.getUTCDate() !== day || roundTrip.getUTCMonth() !== month - 1) {
    return { error: `${text.trim()} is not a valid date and time` };
  }
  return wall;
}

/** The value for `<input type="datetime-local" step="1">`: `2026-12-08T10:00:00`, as the zone's clock shows `utcMs`. */
export function toWallInput(utcMs: number, timeZone: string): string {
  const w = wallTimeAt(utcMs, timeZone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
}

export type ZonedResult =
  | {
      ok: true;
      /** The instant, epoch milliseconds. */
      utcMs: number;
      /** The zone's offset at that instant, minutes. */
      offsetMinutes: number;
      /** Set when the wall time happens twice (clocks go back): the earlier one was taken. */
      ambiguous?: { later: number; laterOffsetMinutes: number };
    }
  | { ok: false; error: string };

const sameWall = (a: WallTime, b: WallTime) => a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute && a.second === b.second;

/**
 * The UTC instant at which a clock in `timeZone` shows `local` (`2026-12-08T10:00`). A time that
 * does not exist there (the spring-forward gap) is an error saying so; one that happens twice (the
 * autumn overlap) is the earlier instant, with the later one reported.
 */
export function zonedToUtc(local: string, timeZone: string): ZonedResult {
  if (!isValidTimeZone(timeZone)) return { ok: false, error: `unknown time zone "${timeZone}"` };
  const wall = parseWallTime(local);
  if ('error' in wall) return { ok: false, error: wall.error };
  const naive = wallAsUtc(wall);
  // Offsets in force around that wall time: a transition within a day either side changes them.
  const offsets = new Set([offsetMinutesAt(naive - DAY, timeZone), offsetMinutesAt(naive, timeZone), offsetMinutesAt(naive + DAY, timeZone)]);
  const candidates = [...new Set([...offsets].map((o) => naive - o * MINUTE))].filter((t) => sameWall(wallTimeAt(t, timeZone), wall)).sort((a, b) => a - b);
  const first = candidates[0];
  if (first === undefined) {
    const before = offsetMinutesAt(naive - DAY, timeZone);
    const after = offsetMinutesAt(naive + DAY, timeZone);
    const shift = Math.abs(after - before);
    return {
      ok: false,
      error: `${formatWall(wall)} does not exist in ${timeZone}: clocks jump ${shift ? `${shift} minutes ` : ''}forward then (${formatOffset(before)} → ${formatOffset(after)}). Choose a later time.`,
    };
  }
  const last = candidates[candidates.length - 1]!;
  return {
    ok: true,
    utcMs: first,
    offsetMinutes: offsetMinutesAt(first, timeZone),
    ...(last !== first ? { ambiguous: { later: last, laterOffsetMinutes: offsetMinutesAt(last, timeZone) } } : {}),
  };
}

const formatWall = (w: WallTime) => `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}${w.second ? `:${pad(w.second)}` : ''}`;

/** `2026-12-08 09:00 UTC` (seconds only when there are some): the unambiguous form, for a tooltip or secondary text. */
export function formatUtc(utcMs: number): string {
  return `${formatWall(wallTimeAt(utcMs, 'UTC'))} UTC`;
}

/** The same as ISO-8601 with the zone's offset: `2026-12-08T10:00:00+01:00`. */
export function toZonedIso(utcMs: number, timeZone: string): string {
  return `${toWallInput(utcMs, timeZone)}${isoOffset(offsetMinutesAt(utcMs, timeZone))}`;
}

const displayFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * `Tue, Dec 8, 2026, 10:00 GMT+1` / `Tue, Dec 8, 2026, 4:00 AM EST`: the time as a viewer in
 * `timeZone` reads it, with the zone's short name. Seconds show only when there are some.
 */
export function formatInZone(utcMs: number, timeZone: string, locale = 'en-US'): string {
  const seconds = Math.floor(utcMs / 1000) % 60 !== 0;
  const key = `${locale}|${timeZone}|${seconds}`;
  let formatter = displayFormatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(locale, {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: 'numeric',
      minute: '2-digit',
      ...(seconds ? { second: '2-digit' } : {}),
      timeZoneName: 'short',
    });
    displayFormatters.set(key, formatter);
  }
  return formatter.format(utcMs);
}
