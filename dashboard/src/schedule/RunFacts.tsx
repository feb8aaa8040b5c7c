import type { Schedule } from '../api/schedules.js';
import { whoLabel } from '../logic/schedules.js';
import { relativeTime } from '../logic/time.js';
import { formatInZone } from '../logic/timezone.js';

/** Of a finished schedule: who scheduled it, when it ran (how long ago; the time in the viewer's zone as its tooltip) and how late. */
export function RunFacts({ schedule: s, timeZone }: { schedule: Schedule; timeZone: string }) {
  return (
    <div class="small">
      {whoLabel(s)}
      {s.executedAt && (
        <>
          {' '}
          · {s.status === 'executed' ? 'ran' : s.status} <span title={formatInZone(new Date(s.executedAt).getTime(), timeZone)}>{relativeTime(s.executedAt)}</span>
        </>
      )}
      {s.lateBySeconds !== null && <> · {s.lateBySeconds} s late</>}
    </div>
  );
}
