import { useState } from 'preact/hooks';
import { ApiError, COMMENT_LIMIT, enc, get, post } from '../api/client.js';
import type { ChangeRequest, Flag, Segment } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { DiffTable } from '../components/DiffTable.js';
import { Guard } from '../components/Guard.js';
import { approvalProgress, baseText, changeTitle, diffSides, isPending, movedResources, requestControls, resourceKey, staleChanges, type Control, type MovedResource } from '../logic/change-requests.js';
import { absoluteTime } from '../logic/time.js';
import { Link } from '../router.js';
import { useApp, useLive, useResource } from '../state.js';
import { pageTitle, usePageTitle } from '../title.js';
import { RequestStatus } from './ChangeRequestsPage.js';
import { ScheduleApply } from '../requests/ScheduleApply.js';

/** The current version of everything a request changes (null: deleted), to tell before Apply whether it would conflict. */
async function currentVersions(request: ChangeRequest): Promise<Map<string, number | null>> {
  const keys = [...new Set(request.changes.map(resourceKey))];
  const entries = await Promise.all(
    keys.map(async (key): Promise<[string, number | null]> => {
      const [type, name] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
      try {
        const current = await get<Flag | Segment>(type === 'segment' ? `/api/segments/${enc(name)}` : `/api/flags/${enc(name)}`);
        return [key, current.version];
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return [key, null];
        throw e;
      }
    }),
  );
  return new Map(entries);
}

type Outcome = { kind: 'success' | 'error'; text: string } | { kind: 'conflict'; text: string; moved: MovedResource[] };

/**
 * One change request: what it changes (a diff per change), who approved it, its comments, and the
 * actions the signed-in person may take now. An apply refused because something moved shows a
 * conflict banner with Rebase; every other refusal is the server's message as it said it.
 */
export function ChangeRequestPage({ id }: { id: string }) {
  const { me, environments } = useApp();
  const request = useResource(() => get<ChangeRequest>(`/api/change-requests/${enc(id)}`), [id]);
  const r = request.data;
  const versions = useResource(() => (r && isPending(r.status) ? currentVersions(r) : Promise.resolve(new Map<string, number | null>())), [r?.id, r?.version, r?.status]);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [rejecting, setRejecting] = useState(false);
  const [rejectReason, setRejectReason] = useState('');
  const [bypassing, setBypassing] = useState(false);
  const [bypassReason, setBypassReason] = useState('');
  const [comment, setComment] = useState('');
  const [formError, setFormError] = useState<string | undefined>(undefined);
  useLive(() => {
    void request.reload();
    void versions.reload();
  });
  usePageTitle(r ? pageTitle(`#${r.id} ${r.title}`, 'Change requests') : undefined);

  if (request.error && !r) {
    return (
      <section>
        <p class="back">
          <Link href="/change-requests">← All change requests</Link>
        </p>
        <Banner kind="error">{request.error.status === 404 ? `There is no change request #${id}.` : `Could not load the change request: ${request.error.message}`}</Banner>
      </section>
    );
  }
  if (!r) return <Loading what="the change request" />;

  const stale = versions.data ? staleChanges(r, versions.data) : [];
  const conflict = outcome?.kind === 'conflict';
  const controls = requestControls(r, me, stale.length > 0 || conflict);
  const envName = environments.find((e) => e.key === r.environment)?.name ?? r.environment;

  const act = async (label: string, path: string, body: unknown, after?: () => void) => {
    setBusy(true);
    setOutcome(undefined);
    setFormError(undefined);
    try {
      const updated = await post<ChangeRequest>(`/api/change-requests/${r.id}/${path}`, body);
      request.setData(updated);
      void versions.reload();
      setOutcome({ kind: 'success', text: label });
      after?.();
    } catch (e) {
      const moved = e instanceof ApiError ? movedResources(e) : undefined;
      if (moved && e instanceof ApiError) setOutcome({ kind: 'conflict', text: e.message, moved });
      else setOutcome({ kind: 'error', text: e instanceof Error ? e.message : String(e) });
      void request.reload();
    } finally {
      setBusy(false);
    }
  };
  const reject = (e: Event) => {
    e.preventDefault();
    if (!rejectReason.trim()) return setFormError('Give a reason for rejecting: the author sees it.');
    void act(`Rejected change request #${r.id}.`, 'reject', { reason: rejectReason.trim() }, () => (setRejecting(false), setRejectReason('')));
  };
  const bypass = (e: Event) => {
    e.preventDefault();
    if (!bypassReason.trim()) return setFormError('Give a reason for bypassing approvals: it is recorded in the audit log.');
    void act(`Applied change request #${r.id}, approvals bypassed.`, 'apply', { bypassReason: bypassReason.trim() }, () => (setBypassing(false), setBypassReason('')));
  };
  const addComment = (e: Event) => {
    e.preventDefault();
    if (!comment.trim()) return;
    void act('Comment added.', 'comments', { body: comment.trim() }, () => setComment(''));
  };

  return (
    <article aria-labelledby="request-title" class="request-page">
      <p class="back">
        <Link href="/change-requests">← All change requests</Link>
      </p>
      <header class="page-head">
        <div>
          <h1 id="request-title">
            #{r.id} {r.title}
          </h1>
          <p class="request-facts">
            By <strong>{r.author}</strong> in <strong>{envName}</strong> · opened {absoluteTime(r.createdAt)} · <span data-testid="approval-progress">{approvalProgress(r)}</span>
          </p>
        </div>
        <div class="head-badges">
          <RequestStatus status={r.status} />
        </div>
      </header>
      {r.description && <p class="desc">{r.description}</p>}
      {r.status === 'applied' && (
        <Banner kind="success">
          Applied by {r.resolvedBy ?? 'someone'} at {r.resolvedAt ? absoluteTime(r.resolvedAt) : 'an unknown time'}
          {r.bypassed ? `, bypassing approvals: “${r.reason ?? ''}”` : ''}.
        </Banner>
      )}
      {(r.status === 'rejected' || r.status === 'withdrawn') && (
        <Banner kind="info">
          {r.status === 'rejected' ? 'Rejected' : 'Withdrawn'} by {r.resolvedBy ?? 'someone'}
          {r.resolvedAt ? ` at ${absoluteTime(r.resolvedAt)}` : ''}
          {r.reason ? `: “${r.reason}”` : '.'}
        </Banner>
      )}
      {outcome?.kind === 'conflict' ? (
        <div class="banner banner-warning request-conflict" role="alert">
          <p>
            <strong>Conflict: not applied.</strong> {outcome.text}
          </p>
          <RebaseButton control={controls.rebase} busy={busy} onRebase={() => void act(`Rebased change request #${r.id} onto the current versions: its approvals start over.`, 'rebase', undefined)} />
        </div>
      ) : (
        outcome && <Banner kind={outcome.kind}>{outcome.text}</Banner>
      )}
      {!conflict && stale.length > 0 && isPending(r.status) && (
        <div class="banner banner-warning request-stale" role="status">
          <p>
            {stale.map((s) => s.replace(':', ' ')).join(', ')} changed since this request was made: applying it would be refused. Rebase it onto the current state to review the new diff; its approvals then start over.
          </p>
          <RebaseButton control={controls.rebase} busy={busy} onRebase={() => void act(`Rebased change request #${r.id} onto the current versions: its approvals start over.`, 'rebase', undefined)} />
        </div>
      )}

      <div class="request-actions" role="group" aria-label="Actions">
        <ActionButton control={controls.approve} busy={busy} primary onClick={() => void act(`Approved change request #${r.id}.`, 'approve', undefined)}>
          Approve
        </ActionButton>
        <ActionButton control={controls.apply} busy={busy} primary onClick={() => void act(`Applied change request #${r.id}: the changes are live in ${envName}.`, 'apply', undefined)}>
          Apply
        </ActionButton>
        <ActionButton control={controls.reject} busy={busy} onClick={() => (setRejecting(true), setFormError(undefined))}>
          Reject…
        </ActionButton>
        <ActionButton control={controls.withdraw} busy={busy} onClick={() => void act(`Withdrew change request #${r.id}.`, 'withdraw', undefined)}>
          Withdraw
        </ActionButton>
        <ActionButton control={controls.bypass} busy={busy} onClick={() => (setBypassing(true), setFormError(undefined))}>
          Apply without approvals…
        </ActionButton>
      </div>
      {controls.apply.show && controls.apply.disabledReason && <p class="hint request-waiting">{controls.apply.disabledReason}</p>}
      {rejecting && controls.reject.show && (
        <ReasonForm name="Reject" id="reject-reason" label="Why reject it? (required)" value={rejectReason} onInput={setRejectReason} error={formError} busy={busy} submitLabel="Reject request" onSubmit={reject} onCancel={() => setRejecting(false)} />
      )}
      {bypassing && controls.bypass.show && (
        <ReasonForm
          name="Apply without approvals"
          hint="As an admin you may apply this without its approvals; the reason is recorded in the audit log."
          id="bypass-reason"
          label="Reason for bypassing approvals (required)"
          value={bypassReason}
          onInput={setBypassReason}
          error={formError}
          busy={busy}
          submitLabel="Apply now"
          onSubmit={bypass}
          onCancel={() => setBypassing(false)}
        />
      )}

      <ScheduleApply request={r} onRan={() => void request.reload()} />

      <section class="card" aria-labelledby="changes-title">
        <h2 id="changes-title">Changes</h2>
        {r.changes.map((change, i) => {
          const sides = diffSides(change.diff);
          return (
            <div key={i} class="request-change">
              <h3>
                {changeTitle(change)}
                {change.flag && (
                  <>
                    {' '}
                    <Link href={`/flags/${enc(change.flag)}`} class="small">
                      open flag
                    </Link>
                  </>
                )}
              </h3>
              <p class="hint">{baseText(change)}</p>
              {change.diff.length > 0 && (
                <ul class="request-diff-lines" aria-label={`What ${changeTitle(change)} changes`}>
                  {change.diff.map((line) => (
                    <li key={line.field}>{line.text}</li>
                  ))}
                </ul>
              )}
              <DiffTable before={sides.before} after={sides.after} />
            </div>
          );
        })}
      </section>

      <section class="card" aria-labelledby="approvals-title">
        <h2 id="approvals-title">Approvals</h2>
        <p class="hint">
          {r.policy.required
            ? `Needs ${r.approvalsNeeded} from ${r.policy.approverRoles.join(' or ') || 'nobody (only an admin bypass applies)'}, not the author.`
            : 'No approval policy applies now: it can be applied as it is.'}
        </p>
        {r.approvals.length === 0 ? (
          <p class="empty">No approvals yet.</p>
        ) : (
          <ul class="request-approvals">
            {r.approvals.map((a) => (
              <li key={a.actor + a.at}>
                <span aria-hidden="true">✓ </span>
                {a.actor} ({a.role}) at {absoluteTime(a.at)}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section class="card" aria-labelledby="comments-title">
        <h2 id="comments-title">Comments</h2>
        {r.comments.length === 0 ? (
          <p class="empty">No comments yet.</p>
        ) : (
          <ol class="request-comments">
            {r.comments.map((c, i) => (
              <li key={i}>
                <p class="hint">
                  {c.actor} at {absoluteTime(c.at)}
                </p>
                <p class="request-comment-body">{c.body}</p>
              </li>
            ))}
          </ol>
        )}
        {me.role !== 'viewer' && (
          <form class="request-comment-form" onSubmit={addComment}>
            <div class="field">
              <label for="request-comment">Add a comment</label>
              <textarea id="request-comment" rows={2} maxLength={COMMENT_LIMIT} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
            </div>
            <button type="submit" class="button" disabled={busy || !comment.trim()}>
              Comment
            </button>
          </form>
        )}
      </section>
    </article>
  );
}

function ActionButton({ control, busy, primary, onClick, children }: { control: Control; busy: boolean; primary?: boolean; onClick(): void; children: string }) {
  if (!control.show) return null;
  return (
    <Guard reason={control.disabledReason}>
      <button type="button" class={primary ? 'button primary' : 'button'} disabled={busy || control.disabledReason !== undefined} onClick={onClick}>
        {children}
      </button>
    </Guard>
  );
}

function RebaseButton({ control, busy, onRebase }: { control: Control; busy: boolean; onRebase(): void }) {
  if (!control.show) return null;
  return (
    <button type="button" class="button" disabled={busy} onClick={onRebase}>
      Rebase onto the current state
    </button>
  );
}

interface ReasonFormProps {
  /** The form's accessible name. */
  name: string;
  hint?: string;
  /** The input's id. */
  id: string;
  label: string;
  value: string;
  onInput(value: string): void;
  error: string | undefined;
  busy: boolean;
  submitLabel: string;
  onSubmit(e: Event): void;
  onCancel(): void;
}

/** An action that needs a reason (reject, bypass approvals): the reason, the error when it is missing, and the buttons. */
function ReasonForm({ name, hint, id, label, value, onInput, error, busy, submitLabel, onSubmit, onCancel }: ReasonFormProps) {
  return (
    <form class="card request-form" aria-label={name} onSubmit={onSubmit}>
      {hint && <p class="hint">{hint}</p>}
      <div class="field">
        <label for={id}>{label}</label>
        <input id={id} maxLength={COMMENT_LIMIT} value={value} aria-invalid={error ? true : undefined} onInput={(e) => onInput(e.currentTarget.value)} />
        {error && (
          <span class="field-error" role="alert">
            {error}
          </span>
        )}
      </div>
      <div class="actions">
        <button type="submit" class="button danger" disabled={busy}>
          {submitLabel}
        </button>
        <button type="button" class="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
