import { useState } from 'preact/hooks';
import { COMMENT_LIMIT } from '../api/client.js';
import type { ApprovalPolicy } from '../api/types.js';
import { policyNotice } from '../logic/change-requests.js';
import { Link } from '../router.js';
import { useApp } from '../state.js';

/** An admin's choice to apply a change at once, skipping approvals, where the policy allows it. */
export interface Bypass {
  on: boolean;
  reason: string;
}

export interface BypassState {
  bypass: Bypass;
  setBypass(next: Bypass): void;
  error: string | undefined;
  /**
   * What to do with a write now: `direct` (no policy), `request` (open a change request), or
   * `bypass` with the reason; undefined when a bypass was chosen without a reason (the field says so).
   */
  decide(policy: Pick<ApprovalPolicy, 'required'> | undefined): { mode: 'direct' } | { mode: 'request' } | { mode: 'bypass'; reason: string } | undefined;
  reset(): void;
}

export function useBypass(): BypassState {
  const [bypass, setBypassState] = useState<Bypass>({ on: false, reason: '' });
  const [error, setError] = useState<string | undefined>(undefined);
  return {
    bypass,
    error,
    setBypass(next) {
      setBypassState(next);
      if (!next.on || next.reason.trim()) setError(undefined);
    },
    decide(policy) {
      if (!policy?.required) return { mode: 'direct' };
      if (!bypass.on) return { mode: 'request' };
      const reason = bypass.reason.trim();
      if (!reason) {
        setError('Give a reason for bypassing approvals: it is recorded in the audit log.');
        return undefined;
      }
      return { mode: 'bypass', reason };
    },
    reset() {
      setBypassState({ on: false, reason: '' });
      setError(undefined);
    },
  };
}

/**
 * Said before the click, next to a control whose writes an approval policy governs: "Production
 * requires 1 approval: this opens a change request instead of changing the flag." Admins, where the
 * policy lets them, may instead apply at once by giving a reason (mandatory, audited).
 */
export function GovernedNotice({ id, policy, envName, what, state, disabled }: { id: string; policy: ApprovalPolicy | Pick<ApprovalPolicy, 'required' | 'approvals' | 'adminBypass'> | undefined; envName: string; what?: string; state: BypassState; disabled?: boolean }) {
  const { me } = useApp();
  const notice = policyNotice(policy, envName, what);
  if (!notice || !policy) return null;
  const canBypass = me.role === 'admin' && policy.adminBypass;
  const { bypass, setBypass, error } = state;
  return (
    <div class="governed" data-governed={id}>
      <p class="governed-notice" id={`${id}-notice`}>
        <span aria-hidden="true">⚖ </span>
        {bypass.on ? `${envName} requires approval; as an admin you apply this at once, bypassing it (audited, with your reason).` : notice}{' '}
        <Link href="/change-requests">See change requests</Link>
      </p>
      {canBypass && (
        <div class="governed-bypass">
          <label class="check">
            <input type="checkbox" checked={bypass.on} disabled={disabled} onChange={(e) => setBypass({ ...bypass, on: e.currentTarget.checked })} /> Apply at once, bypassing approvals (admin)
          </label>
          {bypass.on && (
            <div class="field">
              <label for={`${id}-bypass-reason`}>Reason for bypassing approvals (required)</label>
              <input
                id={`${id}-bypass-reason`}
                type="text"
                required
                maxLength={COMMENT_LIMIT}
                value={bypass.reason}
                disabled={disabled}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? `${id}-bypass-error` : undefined}
                onInput={(e) => setBypass({ ...bypass, reason: e.currentTarget.value })}
              />
              {error && (
                <span id={`${id}-bypass-error`} class="field-error" role="alert">
                  {error}
                </span>
              )}
            </div>
          )}
        </div>
      )}
    </div>
  );
}
