import { useState } from 'preact/hooks';
import { api, ApiError, enc } from '../api/client.js';
import type { ApprovalPolicy, ApproverRole } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { describePolicy, MAX_APPROVALS, policyBody, toPolicyDraft, type PolicyDraft } from '../logic/change-requests.js';
import { absoluteTime } from '../logic/time.js';
import { useApp } from '../state.js';
import { usePolicies } from './policies.js';

const ROLES: readonly ApproverRole[] = ['editor', 'admin'];

/**
 * Every environment's approval policy; admins edit one in place (audited by the server). Viewers
 * and editors read them: they say why a stage move opens a change request.
 */
export function PolicySettings() {
  const { me, environments } = useApp();
  const policies = usePolicies();
  const [editing, setEditing] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const nameOf = (key: string) => environments.find((e) => e.key === key)?.name ?? key;
  return (
    <section class="card policies" aria-labelledby="policies-title">
      <h2 id="policies-title">Approval policies</h2>
      <p class="hint">Where a policy is on, stage moves, targeting edits and segment edits open a change request that someone else approves. The kill switch always works directly.</p>
      {notice && <Banner kind="success">{notice}</Banner>}
      {policies.error && <Banner kind="error">Could not load the approval policies: {policies.error.message}</Banner>}
      {!policies.data && !policies.error && <Loading what="approval policies" />}
      <ul class="policy-list" aria-label="Approval policy per environment">
        {(policies.data ?? []).map((p) => (
          <li key={p.environment} class="policy-item" data-environment={p.environment}>
            <div class="policy-head">
              <strong>{nameOf(p.environment)}</strong>{' '}
              <span class={p.required ? 'badge policy-on' : 'badge policy-off'}>{p.required ? 'Approval required' : 'Direct'}</span>
              {me.role === 'admin' && editing !== p.environment && (
                <button type="button" class="button small" aria-label={`Edit the approval policy of ${nameOf(p.environment)}`} onClick={() => (setEditing(p.environment), setNotice(undefined))}>
                  Edit
                </button>
              )}
            </div>
            <p class="policy-text">{describePolicy(p)}</p>
            {p.updatedBy && p.updatedAt && <p class="hint">Set by {p.updatedBy} at {absoluteTime(p.updatedAt)}.</p>}
            {editing === p.environment && (
              <PolicyForm
                policy={p}
                envName={nameOf(p.environment)}
                onCancel={() => setEditing(null)}
                onSaved={(saved) => {
                  setEditing(null);
                  setNotice(`Saved the approval policy of ${nameOf(saved.environment)}: ${describePolicy(saved)}`);
                  policies.setData((policies.data ?? []).map((p) => (p.environment === saved.environment ? saved : p)));
                }}
              />
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function PolicyForm({ policy, envName, onCancel, onSaved }: { policy: ApprovalPolicy; envName: string; onCancel(): void; onSaved(p: ApprovalPolicy): void }) {
  const [draft, setDraft] = useState<PolicyDraft>(() => toPolicyDraft(policy));
  const [fieldError, setFieldError] = useState<{ field: string; error: string } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const id = `policy-${policy.environment}`;
  const submit = async (e: Event) => {
    e.preventDefault();
    const result = policyBody(draft, policy.version);
    if ('error' in result) return setFieldError(result);
    setFieldError(undefined);
    setError(undefined);
    setBusy(true);
    try {
      onSaved(await api<ApprovalPolicy>('PUT', `/api/environments/${enc(policy.environment)}/approval-policy`, result.body));
    } catch (err) {
      setError(err instanceof ApiError || err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const toggleRole = (role: ApproverRole, on: boolean) => setDraft({ ...draft, approverRoles: on ? [...new Set([...draft.approverRoles, role])] : draft.approverRoles.filter((r) => r !== role) });
  return (
    <form class="policy-form" aria-label={`Approval policy of ${envName}`} onSubmit={submit}>
      {error && <Banner kind="error">{error}</Banner>}
      <label class="check">
        <input type="checkbox" checked={draft.required} onChange={(e) => setDraft({ ...draft, required: e.currentTarget.checked })} /> Changes in {envName} need approval
      </label>
      <fieldset disabled={!draft.required}>
        <div class="field">
          <label for={`${id}-approvals`}>Approvals needed (1–{MAX_APPROVALS}, from people other than the author)</label>
          <input
            id={`${id}-approvals`}
            inputMode="numeric"
            value={draft.approvals}
            aria-invalid={fieldError?.field === 'approvals' ? true : undefined}
            aria-describedby={fieldError?.field === 'approvals' ? `${id}-approvals-error` : undefined}
            onInput={(e) => setDraft({ ...draft, approvals: e.currentTarget.value })}
          />
          {fieldError?.field === 'approvals' && (
            <span id={`${id}-approvals-error`} class="field-error" role="alert">
              {fieldError.error}
            </span>
          )}
        </div>
        <div class="field" role="group" aria-labelledby={`${id}-roles`}>
          <span id={`${id}-roles`} class="label">
            Whose approval counts
          </span>
          {ROLES.map((role) => (
            <label key={role} class="check">
              <input type="checkbox" checked={draft.approverRoles.includes(role)} onChange={(e) => toggleRole(role, e.currentTarget.checked)} /> {role}
            </label>
          ))}
          {fieldError?.field === 'approverRoles' && (
            <span class="field-error" role="alert">
              {fieldError.error}
            </span>
          )}
        </div>
        <label class="check">
          <input type="checkbox" checked={draft.adminBypass} onChange={(e) => setDraft({ ...draft, adminBypass: e.currentTarget.checked })} /> Admins may apply without approvals, giving a reason (audited)
        </label>
      </fieldset>
      <div class="actions">
        <button type="submit" class="button primary" disabled={busy}>
          Save policy
        </button>
        <button type="button" class="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
