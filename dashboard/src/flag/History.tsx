import { useEffect, useState } from 'preact/hooks';
import { enc, get } from '../api/client.js';
import type { AuditEntry, AuditPage, Flag, RevertResult } from '../api/types.js';
import { ActionMessage } from '../components/ActionMessage.js';
import { AuditEntryRow } from '../components/AuditEntryRow.js';
import { Banner, Loading } from '../components/Banner.js';
import { RevertDialog } from '../components/RevertDialog.js';
import { Link } from '../router.js';
import { useCanEdit, useResource } from '../state.js';
import type { FlagActions } from './actions.js';

/**
 * The flag's audit trail, newest first, as sentences with who, when and why; each revertible
 * through the same preview-first dialog as the audit log (only that change's fields go back).
 */
export function History({ flag, tick, actions }: { flag: Flag; tick: number; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit(flag);
  const page = useResource(() => get<AuditPage>(`/api/flags/${enc(flag.key)}/audit?limit=50`), [flag.key]);
  const [reverting, setReverting] = useState<AuditEntry | null>(null);
  useEffect(() => {
    if (tick > 0) void page.reload();
  }, [tick]);
  // The revert already happened in the dialog: hand its result to the page like any other write.
  const reverted = (result: RevertResult, entry: AuditEntry) => void actions.run(`Reverted change #${entry.id} (${entry.summary}).`, () => Promise.resolve(result.flag ?? null));
  return (
    <section class="card" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <ActionMessage actions={actions} />
      {page.error && <Banner kind="error">Could not load the history: {page.error.message}</Banner>}
      {!page.data && !page.error && <Loading what="history" />}
      {page.data && page.data.items.length === 0 && <p class="empty">No changes recorded.</p>}
      <ol class="history audit-log" aria-label={`Changes to ${flag.name}`}>
        {page.data?.items.map((entry) => (
          <AuditEntryRow key={entry.id} entry={entry} showFlag={false} onRevert={setReverting} revertReason={canEdit ? undefined : reason} busy={actions.busy} />
        ))}
      </ol>
      {page.data?.nextCursor && (
        <p class="hint">
          Older changes: <Link href={`/audit?flag=${enc(flag.key)}`}>the full history in the audit log</Link>.
        </p>
      )}
      <RevertDialog entry={reverting} reason={canEdit ? undefined : reason} onClose={() => setReverting(null)} onReverted={reverted} />
    </section>
  );
}
