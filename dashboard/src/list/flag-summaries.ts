import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, enc, get, onReachability } from '../api/client.js';
import type { FlagSummary } from '../api/types.js';
import { removeEntry, toEntry, upsertEntry, type ListEntry } from '../logic/flag-list.js';
import { useLive } from '../state.js';

export interface FlagSummaries {
  /** Undefined until the first load succeeds. */
  entries: ListEntry[] | undefined;
  /** The last list load's failure; cleared by any later success (a load, or a row read for a live event). */
  error: ApiError | undefined;
  reload(): void;
}

/** Waits between automatic retries of a failed list load (the last one repeats). */
const RETRY_MS = [1000, 2000, 3000, 5000] as const;

const retryable = (error: ApiError) => error.status === 0 || error.status >= 500;

/**
 * The flag list's data: `GET /api/flag-summaries` once, then one `GET /api/flag-summaries/{key}`
 * per live change, replacing that row only (404 or archived: the row leaves). A failed load is
 * retried — at once when the server answers again (any request, or live updates reconnecting),
 * else with backoff — so an outage never leaves a stale "could not load" beside fresh data.
 */
export function useFlagSummaries(): FlagSummaries {
  const [entries, setEntries] = useState<ListEntry[] | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const loaded = useRef(false);
  const failed = useRef<ApiError | undefined>(undefined);
  const generation = useRef(0);
  /** Flags changed while the list was loading: the response may predate them, so they are re-read after it. */
  const changedDuringLoad = useRef<Set<string> | null>(null);
  /** The newest row request per flag: an older answer arriving late must not overwrite a newer one. */
  const rowRequests = useRef(new Map<string, number>());
  const rowRequestCount = useRef(0);

  const fail = (e: unknown) => {
    const err = e instanceof ApiError ? e : new ApiError(0, 'client', String(e));
    failed.current = err;
    setError(err);
  };
  const succeed = () => {
    failed.current = undefined;
    setError(undefined);
  };

  const load = useCallback(async (): Promise<void> => {
    const mine = ++generation.current;
    changedDuringLoad.current ??= new Set();
    try {
      const { items } = await get<{ items: FlagSummary[] }>('/api/flag-summaries');
      if (mine !== generation.current) return;
      const changed = changedDuringLoad.current;
      changedDuringLoad.current = null;
      loaded.current = true;
      setEntries(items.map(toEntry));
      succeed();
      changed?.forEach((key) => void refreshRow(key));
    } catch (e) {
      if (mine !== generation.current) return;
      // A retry reloads the whole list, changes included.
      changedDuringLoad.current = null;
      fail(e);
    }
  }, []);

  const refreshRow = async (key: string): Promise<void> => {
    const id = ++rowRequestCount.current;
    rowRequests.current.set(key, id);
    try {
      const summary = await get<FlagSummary>(`/api/flag-summaries/${enc(key)}`);
      if (rowRequests.current.get(key) !== id) return;
      setEntries((current) => current && upsertEntry(current, summary));
    } catch (e) {
      if (rowRequests.current.get(key) !== id) return;
      if (!(e instanceof ApiError) || e.status !== 404) return; // the reachability banner speaks for the server
      setEntries((current) => current && removeEntry(current, key));
    } finally {
      if (rowRequests.current.get(key) === id) rowRequests.current.delete(key);
    }
    // The server answered: an old failure is stale now, and a list that never loaded can load.
    if (!loaded.current) void load();
    else if (failed.current) succeed();
  };

  useEffect(() => {
    void load();
  }, [load]);

  useLive((event) => {
    // A new or removed environment changes every row.
    if (event.type === 'environment') void load();
    if (event.type !== 'flag') return;
    if (changedDuringLoad.current) changedDuringLoad.current.add(event.key);
    else void refreshRow(event.key);
  });

  // While the last load failed: retry when the server answers again, and on a backoff meanwhile.
  useEffect(
    () =>
      onReachability((reachable) => {
        if (reachable && failed.current && retryable(failed.current) && !changedDuringLoad.current) void load();
      }),
    [load],
  );
  const attempt = useRef(0);
  useEffect(() => {
    if (!error) {
      attempt.current = 0;
      return;
    }
    if (!retryable(error)) return;
    const wait = RETRY_MS[Math.min(attempt.current++, RETRY_MS.length - 1)];
    const timer = setTimeout(() => void load(), wait);
    return () => clearTimeout(timer);
  }, [error, load]);

  return { entries, error, reload: () => void load() };
}
