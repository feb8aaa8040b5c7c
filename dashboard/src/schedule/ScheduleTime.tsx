import { relativeTime } from '../logic/time.js';
import { formatInZone, formatUtc } from '../logic/timezone.js';

/**
 * A schedule's time as the viewer reads it: their own zone first (with its short name), then UTC
 * as secondary text and in the tooltip, and (`relative`) how far away it is. `<time datetime>` holds
 * the UTC instant for machines.
 */
export function ScheduleTime({ at, timeZone, relative = true }: { at: string; timeZone: string; relative?: boolean }) {
  const ms = new Date(at).getTime();
  const utc = formatUtc(ms);
  const now = Date.now();
  const ahead = ms - now;
  const away = ahead > 0 && ahead < 45_000 ? 'in a few seconds' : relativeTime(ms, now);
  return (
    <span class="schedule-time">
      <time dateTime={new Date(ms).toISOString()} title={`${utc} (your time zone: ${timeZone})`} class="schedule-local">
        {formatInZone(ms, timeZone)}
      </time>{' '}
      <span class="small schedule-utc">
        {utc}
        {relative && ` · ${away}`}
      </span>
    </span>
  );
}
