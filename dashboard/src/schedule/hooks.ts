import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Schedule } from '../api/schedules.js';
import { nextCheckDelay } from '../logic/schedules.js';
import { viewerTimeZone } from '../logic/timezone.js';
import { useLive } from '../state.js';

/** The viewer's IANA zone, read once per mount. */
export function useViewerTimeZone(): string {
  return useMemo(() => viewerTimeZone(), []);
}

/**
 * Keep a schedule list current: reload shortly after the soonest pending one is due (it runs, is
 * skipped or fails on the server, which pushes no event for the two last), and on live changes of
 * the flags shown (`flagKey`, or any flag). Re-renders every `tickMs` so "in 2 minutes" stays true.
 */
export function useScheduleRefresh(pending: readonly Schedule[] | undefined, reload: () => Promise<void>, flagKey?: string, tickMs = 30_000): number {
  const [now, setNow] = useState(Date.now());
  useLive((e) => {
    if (e.type === 'flag' && (flagKey === undefined || e.key === flagKey)) void reload();
  });
  useEffect(() => {
    const delay = pending ? nextCheckDelay(pending, Date.now()) : undefined;
    if (delay === undefined) return;
    const timer = setTimeout(() => void reload(), delay);
    return () => clearTimeout(timer);
  }, [pending, reload]);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), tickMs);
    return () => clearInterval(timer);
  }, [tickMs]);
  return now;
}
