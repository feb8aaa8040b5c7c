import { useEffect } from 'preact/hooks';
import { get } from '../api/client.js';
import { useLive, useResource } from '../state.js';
import { Banner } from './Banner.js';

interface SyncStatus {
  mode: 'sync' | 'manual';
  path: string | null;
  lastSuccess?: boolean;
  lastError: { message: string } | null;
  drift: { resource: string; key: string }[];
}

const REFRESH_MS = 30_000;

/**
 * In sync mode (`serve --sync`), says loudly when the Git file is invalid (the server keeps the
 * last good state) or when the database has drifted from it. Silent otherwise.
 */
export function GitOpsStatus() {
  const status = useResource(() => get<SyncStatus>('/api/gitops/status'), []);
  useEffect(() => {
    const timer = setInterval(() => void status.reload(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [status.reload]);
  useLive(() => void status.reload());
  const s = status.data;
  if (!s || s.mode !== 'sync') return null;
  if (s.lastSuccess === false && s.lastError) {
    return (
      <Banner kind="error">
        The Git sync file {s.path} is invalid, so the server keeps its last good state: {s.lastError.message}
      </Banner>
    );
  }
  if (s.drift.length > 0) {
    const names = s.drift.slice(0, 5).map((d) => `${d.resource} ${d.key}`).join(', ');
    return (
      <Banner kind="warning">
        {s.drift.length} change{s.drift.length === 1 ? '' : 's'} in the database differ from the Git file {s.path} (drift): {names}
        {s.drift.length > 5 ? '…' : ''}
      </Banner>
    );
  }
  return null;
}
