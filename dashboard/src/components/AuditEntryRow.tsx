import type { AuditEntry } from '../api/types.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { Link } from '../router.js';
import { DiffTable } from './DiffTable.js';
import { Guard } from './Guard.js';

/**
 * Whether reverting an entry means anything: a change of a flag or segment itself (not a release
 * plan, token or environment). The preview still has the last word (a later change may block it).
 */
export function revertible(entry: AuditEntry): boolean {
  return (entry.resourceType === 'flag' || entry.resourceType === 'segment') && entry.action.startsWith(`${entry.resourceType}.`) && (entry.before !== null || entry.after !== null);
}

interface Props {
  entry: AuditEntry;
  /** The global log names the flag (a link); the flag's own history does not. */
  showFlag: boolean;
  onRevert?(entry: AuditEntry): void;
  /** Why reverting is not allowed here (viewer, Git-managed), or undefined. */
  revertReason?: string;
  busy?: boolean;
}

/**
 * One change: the readable sentence, who, when and their comment, the field-by-field diff on
 * demand, and a revert. Every control is a sibling: a link or button inside the <summary> would be
 * an interactive element nested in another (axe's `nested-interactive`), which screen readers
 * announce as one control and keyboards cannot reach.
 */
export function AuditEntryRow({ entry, showFlag, onRevert, revertReason, busy }: Props) {
  // A revert's message starts "revert of audit entry #12": the sentence says that already.
  const comment = entry.action.endsWith('.reverted') ? entry.message?.replace(/^revert of audit entry #\d+(?:: )?/, '') : entry.message;
  return (
    <li class="audit-entry" data-entry={entry.id}>
      <p class="audit-line">
        {showFlag && entry.resourceType === 'flag' && (
          <>
            <Link href={`/flags/${encodeURIComponent(entry.resourceKey)}`} class="audit-flag mono">
              {entry.resourceKey}
            </Link>{' '}
          </>
        )}
        {showFlag && entry.resourceType === 'change_request' && (
          <>
            <Link href={`/change-requests/${encodeURIComponent(entry.resourceKey)}`} class="audit-flag mono">
              change request #{entry.resourceKey}
            </Link>{' '}
          </>
        )}
        <span class="audit-summary">{entry.summary}</span>
      </p>
      <p class="audit-meta">
        by <strong>{entry.actor}</strong> ·{' '}
        <time dateTime={entry.at} title={absoluteTime(entry.at)}>
          {relativeTime(entry.at)}
        </time>
        {entry.source !== 'api' && <> · via {entry.source}</>} · #{entry.id}
      </p>
      {comment && (
        <p class="audit-comment">
          <span class="visually-hidden">Comment: </span>“{comment}”
        </p>
      )}
      <div class="audit-actions">
        {onRevert && revertible(entry) && (
          <Guard reason={revertReason}>
            <button type="button" class="button small" disabled={revertReason !== undefined || busy} onClick={() => onRevert(entry)}>
              Revert #{entry.id}
            </button>
          </Guard>
        )}
        <details class="audit-fields">
          <summary>Fields changed</summary>
          <DiffTable before={entry.before} after={entry.after} scope={entry.environment ?? undefined} />
        </details>
      </div>
    </li>
  );
}
