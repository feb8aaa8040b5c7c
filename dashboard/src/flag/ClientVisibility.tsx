import { enc, patch } from '../api/client.js';
import type { Flag } from '../api/types.js';
import { ActionMessage } from '../components/ActionMessage.js';
import { Guard } from '../components/Guard.js';
import { useCanEdit } from '../state.js';
import type { FlagActions } from './actions.js';

/**
 * The per-flag switch that lets client keys (public, shipped in browsers and mobile apps) receive
 * this flag's evaluated value. Off for new flags: a flag name can leak a product plan, so
 * exposing one is a decision. Saved at once, with the version shown (409 on a stale page).
 */
export function ClientVisibility({ flag, actions }: { flag: Flag; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit(flag);
  const toggle = (visible: boolean) =>
    void actions.run(visible ? `${flag.name} is visible to client keys.` : `${flag.name} is hidden from client keys.`, () =>
      patch<Flag>(`/api/flags/${enc(flag.key)}`, { version: flag.version, clientVisible: visible }),
    );
  return (
    <section class="card" aria-labelledby="client-visibility-title">
      <h2 id="client-visibility-title">Client keys</h2>
      <Guard reason={reason}>
        <label class="switch">
          <input
            type="checkbox"
            role="switch"
            checked={flag.clientVisible}
            disabled={!canEdit || actions.busy}
            aria-describedby={reason ? 'client-visibility-hint client-visibility-reason' : 'client-visibility-hint'}
            onChange={(e) => toggle(e.currentTarget.checked)}
          />
          <span>Visible to client keys (browsers, mobile apps)</span>
        </label>
      </Guard>
      <ActionMessage actions={actions} />
      <p id="client-visibility-hint" class="hint">
        Client keys receive this flag's evaluated value for the user who asks — never its rules, targets or segments.
      </p>
      {reason && (
        <p id="client-visibility-reason" class="visually-hidden">
          {reason}
        </p>
      )}
    </section>
  );
}
