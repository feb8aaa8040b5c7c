import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api/client.js';
import type { AuditEntry, RevertConflict, RevertPreview, RevertResult } from '../api/types.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { useApp } from '../state.js';
import { Banner, Loading } from './Banner.js';
import { ChangeComment } from './ChangeComment.js';

interface Props {
  /** The entry to revert; null: the dialog is closed. */
  entry: AuditEntry | null;
  /** Why the signed-in token may not revert (viewer, Git-managed), or undefined. */
  reason?: string;
  onClose(): void;
  /** After the revert was applied: the flag or segment as it is now. */
  onReverted(result: RevertResult, entry: AuditEntry): void;
}

/**
 * Revert one audit entry: first the server's preview — exactly which fields go back, in which
 * environment, the stage moves, and any later change that blocks it — then apply with the version
 * the preview saw (a change meanwhile is refused, never overwritten) and an optional comment.
 * Everything the entry did not change stays as it is now.
 */
export function RevertDialog({ entry, reason, onClose, onReverted }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const [preview, setPreview] = useState<RevertPreview | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | undefined>(undefined);
  const [applyError, setApplyError] = useState<string | undefined>(undefined);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const { environments } = useApp();
  const envName = (key: string) => environments.find((e) => e.key === key)?.name ?? key;

  const load = async (id: number): Promise<RevertPreview | undefined> => {
    try {
      const next = await get<RevertPreview>(`/api/audit/${id}/revert`);
      setPreview(next);
      setLoadError(undefined);
      return next;
    } catch (e) {
      setLoadError(e instanceof Error ? e.message : String(e));
      return undefined;
    }
  };

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (entry) {
      setPreview(undefined);
      setLoadError(undefined);
      setApplyError(undefined);
      setComment('');
      if (!dialog.open) dialog.showModal();
      void load(entry.id);
    } else if (dialog.open) {
      dialog.close();
    }
  }, [entry?.id]);

  const apply = async () => {
    if (!entry || !preview) return;
    setBusy(true);
    setApplyError(undefined);
    try {
      const message = comment.trim();
      const result = await post<RevertResult>(`/api/audit/${entry.id}/revert`, { ...(preview.version !== null ? { version: preview.version } : {}), ...(message ? { message } : {}) });
      onReverted(result, entry);
      onClose();
    } catch (e) {
      // Something changed since the preview: show what the revert would do now, and say why once.
      const now = await load(entry.id);
      const why = e instanceof ApiError ? e.message : String(e);
      setApplyError(now && !now.canApply ? 'Not reverted: something changed since the preview (below).' : `Not reverted: ${why}`);
    } finally {
      setBusy(false);
    }
  };

  /** "production: on false → true" reads "Production: on false → true". */
  const changeText = (environment: string | null, text: string) => (environment !== null && text.startsWith(`${environment}: `) ? `${envName(environment)}: ${text.slice(environment.length + 2)}` : text);
  const cannot = preview && !preview.canApply;

  return (
    <dialog ref={ref} class="dialog revert-dialog" aria-labelledby="revert-title" onClose={onClose} onCancel={onClose}>
      {entry && (
        <form method="dialog" onSubmit={(e) => e.preventDefault()}>
          <h2 id="revert-title">Revert change #{entry.id}?</h2>
          <p class="revert-entry">
            <strong>{entry.summary}</strong>
            <br />
            <span class="hint">
              {entry.resourceType} {entry.resourceKey} · by {entry.actor} · <span title={absoluteTime(entry.at)}>{relativeTime(entry.at)}</span>
              {entry.message && <> · “{entry.message}”</>}
            </span>
          </p>
          {applyError && <Banner kind="error">{applyError}</Banner>}
          {loadError && <Banner kind="error">Cannot preview this revert: {loadError}</Banner>}
          {!preview && !loadError && <Loading what="what the revert would change" />}
          {preview && (
            <div class="dialog-body" data-testid="revert-preview">
              {preview.stages.length > 0 && (
                <>
                  <h3>Release stage</h3>
                  <ul class="revert-lines">
                    {preview.stages.map((s) => (
                      <li key={s.environment}>
                        {envName(s.environment)}: {s.current} → {s.reverted}
                      </li>
                    ))}
                  </ul>
                </>
              )}
              <h3>{preview.operation === 'update' ? 'Set back' : 'What happens'}</h3>
              <ul class="revert-lines">
                {preview.operation === 'update' && preview.changes.length > 0
                  ? preview.changes.map((c) => <li key={`${c.environment ?? ''}.${c.field}`}>{changeText(c.environment, c.text)}</li>)
                  : preview.summary.map((line) => <li key={line}>{line}</li>)}
              </ul>
              {preview.operation === 'update' && <p class="hint">Only these fields change. Everything else — other environments, later changes to other fields — stays as it is now.</p>}
              {cannot && preview.refusal && (
                <Banner kind="error">
                  <span class="revert-refusal">This change cannot be reverted: {preview.refusal.message}</span>
                  {preview.conflicts.length > 0 && <Conflicts conflicts={preview.conflicts} envName={envName} />}
                </Banner>
              )}
              {!cannot && <ChangeComment id="revert-comment" value={comment} onChange={setComment} disabled={reason !== undefined} hint={`Saved as "revert of audit entry #${entry.id}: …"`} />}
            </div>
          )}
          {reason && preview && !cannot && <p class="hint">{reason}</p>}
          <div class="dialog-actions">
            <button type="button" class="button" onClick={onClose} autofocus>
              {cannot ? 'Close' : 'Cancel'}
            </button>
            {!cannot && (
              <button type="button" class="button primary" disabled={!preview || busy || reason !== undefined} onClick={() => void apply()}>
                {busy ? 'Reverting…' : 'Revert'}
              </button>
            )}
          </div>
        </form>
      )}
    </dialog>
  );
}

function Conflicts({ conflicts, envName }: { conflicts: RevertConflict[]; envName(key: string): string }) {
  const field = (f: { environment: string | null; field: string }) => (f.environment === null ? f.field : `${envName(f.environment)} ${f.field}`);
  return (
    <ul class="revert-lines">
      {conflicts.map((c, i) => (
        <li key={c.entry?.id ?? `gone-${i}`}>
          {c.entry ? (
            <>
              Change #{c.entry.id} by <strong>{c.entry.actor}</strong> ({absoluteTime(c.entry.at)})
            </>
          ) : (
            'A change the audit log no longer shows'
          )}{' '}
          {c.fields.length > 0 ? `changed ${c.fields.map(field).join(', ')} afterwards.` : 'came afterwards.'}
        </li>
      ))}
    </ul>
  );
}
