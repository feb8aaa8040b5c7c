const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

// One formatter of each kind: building an Intl formatter costs ~0.4 ms in Chromium, which a list of
// a few hundred rows would pay on every keystroke.
let relative: Intl.RelativeTimeFormat | undefined;
let absolute: Intl.DateTimeFormat | undefined;

const millis = (time: string | number) => (typeof time === 'number' ? time : new Date(time).getTime());

/** "3 minutes ago" for recent changes (an ISO time or epoch milliseconds); exact time belongs in a title/tooltip. */
export function relativeTime(time: string | number, now: number = Date.now()): string {
  const seconds = Math.round((millis(time) - now) / 1000);
  if (!Number.isFinite(seconds)) return String(time);
  if (Math.abs(seconds) < 45) return 'just now';
  relative ??= new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds / 60), 'minute');
}

export function absoluteTime(time: string | number): string {
  const ms = millis(time);
  absolute ??= new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'medium' });
  return Number.isNaN(ms) ? String(time) : absolute.format(ms);
}
