import { useState } from 'preact/hooks';
import { ApiError, get, post } from '../api/client.js';
import type { ChangeRequest, Flag } from '../api/types.js';
import { Banner } from '../components/Banner.js';
import { ChangeComment } from '../components/ChangeComment.js';
import { ConfirmDialog, type ConfirmRequest } from '../components/ConfirmDialog.js';
import { Guard } from '../components/Guard.js';
import { promoteDisabledReason, promoteLabel, promotionUrl, type CompareSelection, type PromotionPreview } from '../logic/compare.js';
import { GovernedNotice, useBypass } from '../requests/GovernedNotice.js';
import { policiesSettled, requiredPolicy, usePolicies } from '../requests/policies.js';
import { Link } from '../router.js';
import { useCanEdit, useResource } from '../state.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

interface Outcome {
  kind: 'success' | 'error';
  text: string;
  seq: number;
  /** The change request the promotion opened, linked from the message. */
  request?: ChangeRequest;
}

/**
 * "Promote Staging → Production" on the compare page: A's targeting becomes B's in one audited
 * change. The server's preview is the diff the dialog shows, and its version is sent back, so what
 * was confirmed is what is written (a change in between is refused, not promoted unseen). A
 * critical target says so, like every other production change; viewers, Git-managed flags and
 * refusals (a kill, a running release plan) see the button disabled with the reason.
 *
 * Where the target's approval policy requires review, the panel says before the click that the
 * button opens a change request holding the promotion (nothing changes until it is approved and
 * applied), and links to the request it opened; an admin may bypass where the policy allows it,
 * giving a reason (audited).
 */
export function PromotePanel({ flag, selection, onPromoted }: { flag: Flag; selection: CompareSelection; onPromoted(): void }) {
  const rights = useCanEdit(flag);
  const [comment, setComment] = useState('');
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const policies = usePolicies();
  const policy = requiredPolicy(policies.data, selection.b);
  const bypass = useBypass();
  const same = selection.a === selection.b;
  const preview = useResource(
    async () => (same ? undefined : get<PromotionPreview>(promotionUrl(flag.key, selection.a, selection.b))),
    [flag.key, flag.version, selection.a, selection.b],
  );
  // A preview of another flag or pair (still loading the new one) must not be confirmed.
  const current = preview.data && preview.data.flag === flag.key && preview.data.from.key === selection.a && preview.data.to.key === selection.b ? preview.data : undefined;
  // Whether the click promotes or proposes depends on the target's policy: not before it is known.
  const reason = promoteDisabledReason(current, selection, rights.reason) ?? (policiesSettled(policies) ? undefined : 'Reading the approval policies…');
  const fromName = current?.from.name ?? selection.a;
  const toName = current?.to.name ?? selection.b;
  // Said on the button too: where a policy governs the target, the click proposes rather than promotes.
  const proposing = Boolean(policy) && !bypass.bypass.on;
  const label = proposing ? `Request: ${promoteLabel(fromName, toName)}` : promoteLabel(fromName, toName);

  const promote = async (p: PromotionPreview, message: string, mode: 'direct' | 'request' | 'bypass', bypassReason?: string) => {
    setBusy(true);
    const url = `/api/flags/${encodeURIComponent(p.flag)}/promote`;
    const body = { from: p.from.key, to: p.to.key, version: p.version, ...(message ? { message } : {}) };
    try {
      if (mode === 'request') {
        const request = await post<ChangeRequest>(`${url}?changeRequest=true`, body);
        const needs = request.approvalsNeeded > 0 ? `it has ${plural(request.approvalsNeeded, 'approval')} and is applied` : 'it is applied';
        setOutcome({ kind: 'success', text: `Nothing changes in ${p.to.name} until ${needs}.`, request, seq: Date.now() });
      } else {
        await post(url, { ...body, ...(bypassReason ? { bypassApproval: bypassReason } : {}) });
        setOutcome({ kind: 'success', text: `Promoted: ${flag.name} in ${p.to.name} now has ${p.from.name}'s targeting${bypassReason ? ' (approvals bypassed, recorded in the audit log)' : ''}.`, seq: Date.now() });
      }
      setComment('');
      bypass.reset();
      onPromoted();
    } catch (error) {
      const text = error instanceof ApiError ? (error.conflict ? `${flag.name} changed since this page loaded (now version ${error.conflict.currentVersion}); check the comparison again, then promote.` : error.message) : String(error);
      setOutcome({ kind: 'error', text: `Not ${mode === 'request' ? 'proposed' : 'promoted'}: ${text}`, seq: Date.now() });
      // A policy set (or lifted) since the page loaded: read it again, so the notice says what now applies.
      if (error instanceof ApiError && error.code === 'approval_required') void policies.reload();
      onPromoted();
    } finally {
      setBusy(false);
    }
  };

  const ask = () => {
    if (!current || reason || busy) return;
    const decision = bypass.decide(policy);
    if (!decision) return;
    const message = comment.trim();
    const request = decision.mode === 'request';
    setOutcome(undefined);
    setConfirm({
      title: request ? `Open a change request: ${promoteLabel(current.from.name, current.to.name)}?` : `${label}?`,
      body: (
        <>
          <p>
            {request ? (
              <>
                This opens a change request holding the promotion: nothing changes in <strong>{current.to.name}</strong> until it has {plural(policy?.approvals ?? 1, 'approval')} and is applied. Then {flag.name} in {current.to.name} gets {current.from.name}'s targeting, in one change:{' '}
                {current.stage.before} → {current.stage.after}.
              </>
            ) : (
              <>
                {current.to.critical && (
                  <>
                    <strong>{current.to.name}</strong> is a critical environment.{' '}
                  </>
                )}
                {flag.name} in {current.to.name} gets {current.from.name}'s targeting {current.to.critical ? 'for real users ' : ''}right away, in one change: {current.stage.before} → {current.stage.after}.
                {decision.mode === 'bypass' && ` Approvals are bypassed: “${decision.reason}” is recorded in the audit log.`}
              </>
            )}
          </p>
          <ul class="promote-diff" aria-label="What changes">
            {current.changes.map((c, i) => (
              <li key={i} class={`promote-${c.kind}`}>
                {c.text}
              </li>
            ))}
          </ul>
          {current.kept.length > 0 && (
            <p class="hint">
              Stays as it is in {current.to.name}: {current.kept.map((k) => k.text).join('; ')}.
            </p>
          )}
          {message && <p>{request ? 'Title' : 'Comment'}: “{message}”.</p>}
        </>
      ),
      confirmLabel: request ? 'Open change request' : label,
      onConfirm: () => void promote(current, message, decision.mode, decision.mode === 'bypass' ? decision.reason : undefined),
    });
  };

  if (same) return null;
  return (
    <section class="promote-panel" aria-labelledby="promote-title">
      <h2 id="promote-title">Promote</h2>
      <p class="hint">
        Make {toName}'s targeting of this flag what {fromName}'s is: on/off, rules in order, the default rule, the off variation and individual targets. {toName} keeps its salt, kill switch and
        release plan; segments are shared, so only the flag's configuration moves.
      </p>
      {preview.error && <Banner kind="error">Could not preview the promotion: {preview.error.message}</Banner>}
      {current && !current.upToDate && <p class="promote-summary">Would change in {toName}: {current.summary}.</p>}
      <GovernedNotice id="promote" policy={policy} envName={toName} what={`${toName}'s targeting`} state={bypass} disabled={!rights.canEdit} />
      <div class="promote-actions">
        <Guard reason={reason}>
          <button type="button" class="button primary" disabled={Boolean(reason)} aria-disabled={busy ? 'true' : undefined} onClick={ask}>
            {label}
          </button>
        </Guard>
        {reason && current && (
          <span class="hint promote-reason" id="promote-reason">
            {reason}
          </span>
        )}
      </div>
      <ChangeComment
        id="promote-comment"
        value={comment}
        onChange={setComment}
        disabled={!rights.canEdit}
        hint={proposing ? 'The change request’s title (default: “Promote this flag from … to …”).' : 'Saved with the promotion in the audit log.'}
      />
      {outcome && (
        <div key={outcome.seq} class="action-message">
          <Banner kind={outcome.kind}>
            {outcome.request && (
              <>
                <Link href={`/change-requests/${outcome.request.id}`}>Change request #{outcome.request.id}</Link> opened.{' '}
              </>
            )}
            {outcome.text}
          </Banner>
        </div>
      )}
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </section>
  );
}
