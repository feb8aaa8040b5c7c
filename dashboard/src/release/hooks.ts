import { useEffect, useState } from 'preact/hooks';
import { enc, get, onReachability } from '../api/client.js';
import type { FlagSummary, ReleasePlanSummary } from '../api/types.js';
import { useLive, useResource } from '../state.js';

/** The tooltip of controls disabled while the server is down. */
export const UNREACHABLE_REASON = 'The Switchyard server cannot be reached: changes cannot be saved until it is back.';
/** While unreachable, ask the server this often whether it is back (any answer, even 401, is "back"). */
const PROBE_MS = 3000;

let reachable = true;
let listening = false;
let probe: ReturnType<typeof setInterval> | undefined;
const subscribers = new Set<(reachable: boolean) => void>();

function setReachable(next: boolean): void {
  reachable = next;
  // The live stream reconnecting does not report through the API client: probe, so controls come
  // back by themselves once the server answers again.
  if (!next && probe === undefined) probe = setInterval(() => void get('/api/me').catch(() => undefined), PROBE_MS);
  if (next && probe !== undefined) {
    clearInterval(probe);
    probe = undefined;
  }
  subscribers.forEach((s) => s(next));
}

/** Whether the server answered the last API request (`onReachability` of the API client). */
export function useReachable(): boolean {
  const [value, setValue] = useState(reachable);
  useEffect(() => {
    // One listener for the page's lifetime, so a failure seen before this component mounted counts.
    if (!listening) {
      listening = true;
      onReachability(setReachable);
    }
    subscribers.add(setValue);
    setValue(reachable);
    return () => {
      subscribers.delete(setValue);
    };
  }, []);
  return value;
}

/**
 * The release plan under way for a flag in an environment (running or paused), from
 * `GET /api/flag-summaries/{key}`; re-read on every change to the flag (a plan's moves are flag
 * events too). `undefined` while loading or when it could not be read.
 */
export function useActivePlan(flagKey: string, environment: string | undefined, version: number): ReleasePlanSummary | null | undefined {
  const summary = useResource(() => get<FlagSummary>(`/api/flag-summaries/${enc(flagKey)}`), [flagKey, version]);
  useLive((e) => {
    if (e.type === 'flag' && e.key === flagKey) void summary.reload();
  });
  if (!summary.data || environment === undefined) return undefined;
  const plan = summary.data.environments[environment]?.releasePlan ?? null;
  // The list also shows a rolled-back canary; only a running or paused one is under way.
  return plan && (plan.status === 'running' || plan.status === 'paused') ? plan : null;
}
