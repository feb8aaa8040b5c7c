import { useEffect } from 'preact/hooks';
import { enc, get, post } from '../api/client.js';
import type { AuditEntry, AuditPage, Flag } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { DiffTable } from '../components/DiffTable.js';
import { Guard } from '../components/Guard.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { useCanEdit, useResource } from '../state.js';
import type { FlagActions } from './actions.js';

/** The flag's audit trail, newest first, each with its diff and a revert. */
export function History({ flag, tick, actions }: { flag: Flag; tick: number; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit(flag);
  const page = useResource(() => get<AuditPage>(`/api/flags/${enc(flag.key)}/audit?limit=50`), [flag.key]);
  useEffect(() => {
    if (tick > 0) void page.reload();
  }, [tick]);
  const revert = (entry: AuditEntry) =>
    actions.confirm({
      title: 'Revert to before this change?',
      body: (
        <p>
          {flag.name} goes back to how it was before "{entry.action}" by {entry.actor} ({absoluteTime(entry.at)}), in every environment. The revert is itself audited.
        </p>
      ),
      confirmLabel: 'Revert',
      onConfirm: () => void actions.run(`Reverted to before change #${entry.id}.`, () => post<{ flag: Flag | null }>(`/api/audit/${entry.id}/revert`, { version: flag.version }).then((r) => r.flag)),
    });
  return (
    <section class="card" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      {page.error && <Banner kind="error">Could not load the history: {page.error.message}</Banner>}
      {!page.data && !page.error && <Loading what="history" />}
      {page.data && page.data.items.length === 0 && <p class="empty">No changes recorded.</p>}
      <ol class="history">
        {page.data?.items.map((entry) => (
          <li key={entry.id}>
            <details>
              <summary>
                <span class="mono">{entry.action}</span>
                {entry.environment && <span class="tag">{entry.environment}</span>} by <strong>{entry.actor}</strong>{' '}
                <span title={absoluteTime(entry.at)}>{relativeTime(entry.at)}</span>
                {entry.source !== 'api' && <span class="hint"> via {entry.source}</span>}
                {entry.message && <span class="hint"> — {entry.message}</span>}
              </summary>
              <DiffTable before={entry.before} after={entry.after} scope={entry.environment ?? undefined} />
              {entry.before !== null && (
                <Guard reason={reason}>
                  <button type="button" class="button small" disabled={!canEdit || actions.busy} onClick={() => revert(entry)}>
                    Revert to before this change
                  </button>
                </Guard>
              )}
            </details>
          </li>
        ))}
      </ol>
    </section>
  );
}
