import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api/client.js';
import type { Environment, LiveEvent, Me } from './api/types.js';

export interface AppState {
  me: Me;
  environments: Environment[];
  environment: string;
  setEnvironment(key: string): void;
  signOut(): void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const state = useContext(AppContext);
  if (!state) throw new Error('useApp outside the app');
  return state;
}

export const READ_ONLY_REASON = 'Read-only: your token has the viewer role. Sign in with an editor or admin token to make changes.';

export const managedReason = (path: string) => `Managed by Git (${path}): change it in the file and commit; the server applies it.`;

/**
 * Whether the signed-in token may change flags (and this flag, when given); when not, why (shown
 * as a tooltip). A flag managed by a Git sync file is read-only here — except for `emergency`
 * actions (the kill switch), which the server allows on managed flags too.
 */
export function useCanEdit(flag?: { managedBy?: string | null }, options: { emergency?: boolean } = {}): { canEdit: boolean; reason: string | undefined } {
  const { me } = useApp();
  if (me.role === 'viewer') return { canEdit: false, reason: READ_ONLY_REASON };
  if (flag?.managedBy && !options.emergency) return { canEdit: false, reason: managedReason(flag.managedBy) };
  return { canEdit: true, reason: undefined };
}

export function useCurrentEnvironment(): Environment | undefined {
  const { environments, environment } = useApp();
  return environments.find((e) => e.key === environment);
}

/** Live events from /api/events, fanned out to the screens that care. */
type LiveListener = (event: LiveEvent) => void;
const liveListeners = new Set<LiveListener>();
export function emitLive(event: LiveEvent): void {
  liveListeners.forEach((l) => l(event));
}

export function useLive(listener: LiveListener): void {
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => {
    const l: LiveListener = (e) => ref.current(e);
    liveListeners.add(l);
    return () => {
      liveListeners.delete(l);
    };
  }, []);
}

export interface Resource<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload(): Promise<void>;
  setData(value: T): void;
}

/** Load data, keep showing the last good value while reloading (live updates must not flash). */
export function useResource<T>(load: () => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const value = await load();
      if (mine !== generation.current) return;
      setData(value);
      setError(undefined);
    } catch (e) {
      if (mine !== generation.current) return;
      setError(e instanceof ApiError ? e : new ApiError(0, 'client', String(e)));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    setData(undefined);
    void reload();
  }, [reload]);
  return { data, error, loading, reload, setData };
}
