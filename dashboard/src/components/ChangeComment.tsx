import { COMMENT_LIMIT } from '../api/client.js';

/**
 * "Why?" for the audit log, next to a control that writes: optional, stored with the change's audit
 * entry and shown in the log beside who and when.
 */
export function ChangeComment({ id, value, onChange, disabled, hint = 'Saved with the change in the audit log.' }: { id: string; value: string; onChange(value: string): void; disabled?: boolean; hint?: string }) {
  return (
    <div class="field change-comment">
      <label for={id}>Comment for the audit log (optional)</label>
      <input id={id} type="text" maxLength={COMMENT_LIMIT} value={value} disabled={disabled} placeholder="e.g. ramp after a clean day" aria-describedby={`${id}-hint`} onInput={(e) => onChange(e.currentTarget.value)} />
      <span id={`${id}-hint`} class="hint">
        {hint}
      </span>
    </div>
  );
}
