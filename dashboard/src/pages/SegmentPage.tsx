import { useEffect, useState } from 'preact/hooks';
import { ApiError, del, enc, get, patch, post } from '../api/client.js';
import type { ChangeRequest, ConflictDetails, Segment, SegmentUse } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { ChangeComment } from '../components/ChangeComment.js';
import { ConfirmDialog, type ConfirmRequest } from '../components/ConfirmDialog.js';
import { ConflictBanner } from '../components/ConflictBanner.js';
import { Guard } from '../components/Guard.js';
import { segmentPolicy } from '../logic/change-requests.js';
import { toFieldErrors, type FieldErrors } from '../logic/field-errors.js';
import { GovernedNotice, useBypass } from '../requests/GovernedNotice.js';
import { policiesSettled, usePolicies } from '../requests/policies.js';
import { fromSegmentDraft, segmentFieldErrors, toSegmentDraft, type SegmentDraft } from '../logic/segment-form.js';
import { absoluteTime } from '../logic/time.js';
import { Link, navigate } from '../router.js';
import { SegmentFields } from '../segment/SegmentForm.js';
import { flashNotice } from '../segment/notice.js';
import { useApp, useCanEdit, useLive, useResource } from '../state.js';
import { pageTitle, usePageTitle } from '../title.js';

const P = 'segment';
const DOGFOOD_SEGMENT = 'internal';

/**
 * `/segments/{key}`: edit a segment (pinned to the version the edit started from: a change made
 * meanwhile gets a 409 and a reload, never an overwrite), see which flags use it, delete it.
 */
export function SegmentPage({ segmentKey }: { segmentKey: string }) {
  const { canEdit, reason } = useCanEdit();
  const segment = useResource(() => get<Segment>(`/api/segments/${enc(segmentKey)}`), [segmentKey]);
  const usage = useResource(() => get<{ items: SegmentUse[] }>(`/api/segments/${enc(segmentKey)}/usage`).then((r) => r.items), [segmentKey]);
  // Any flag change may add or remove a use; a segment change may be this one.
  useLive((e) => {
    if (e.type === 'flag') void usage.reload();
    if (e.type === 'segment' && e.key === segmentKey) void segment.reload();
  });

  const [draft, setDraft] = useState<SegmentDraft | undefined>(undefined);
  const [base, setBase] = useState<number | undefined>(undefined);
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>(new Map());
  const [conflict, setConflict] = useState<ConflictDetails | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [comment, setComment] = useState('');
  const [deleteComment, setDeleteComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  // Segments reach every environment: where any has an approval policy, a save opens a change request.
  const { environments, environment } = useApp();
  const policies = usePolicies();
  const governing = segmentPolicy(policies.data ?? []);
  const bypass = useBypass();
  const [proposed, setProposed] = useState<ChangeRequest | undefined>(undefined);

  // Follow the server while there are no unsaved edits.
  const current = segment.data;
  useEffect(() => {
    if (current && !dirty) {
      setDraft(toSegmentDraft(current));
      setBase(current.version);
    }
  }, [current?.version, current?.key]);

  // The segment's name once loaded (the route's "Segments" until then).
  usePageTitle(current ? pageTitle(current.name, 'Segments') : undefined);

  if (segment.error && !current) {
    return (
      <section>
        <p>
          <Link href="/segments">← All segments</Link>
        </p>
        <Banner kind="error">{segment.error.status === 404 ? `There is no segment "${segmentKey}".` : `Could not load the segment: ${segment.error.message}`}</Banner>
      </section>
    );
  }
  // Saving proposes where a policy governs: the policies must be known before the form is offered.
  if (!current || !draft || !policiesSettled(policies)) return <Loading what="the segment" />;

  const edit = (next: SegmentDraft) => {
    setDraft(next);
    setDirty(true);
  };
  // After a 409: drop the edits and show what is stored now (the version the next save pins).
  const reloadLatest = async () => {
    setConflict(undefined);
    setError(undefined);
    setErrors(new Map());
    try {
      const latest = await get<Segment>(`/api/segments/${enc(segmentKey)}`);
      segment.setData(latest);
      setDraft(toSegmentDraft(latest));
      setBase(latest.version);
      setDirty(false);
    } catch (err) {
      fail(err, 'Could not reload');
    }
    void usage.reload();
  };
  const fail = (err: unknown, what: string) => {
    if (err instanceof ApiError && err.conflict) {
      setConflict(err.conflict);
      return;
    }
    setError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  };

  /** A save refused: an approval policy may have been set meanwhile (the page then follows it); field errors go next to their fields. */
  const notSaved = (err: unknown) => {
    if (err instanceof ApiError && err.code === 'approval_required') void policies.reload();
    setErrors(err instanceof ApiError ? segmentFieldErrors(err.fieldErrors, draft.rules.length) : new Map());
    fail(err, 'Not saved');
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setNotice(undefined);
    const parsed = fromSegmentDraft(draft);
    if ('error' in parsed) {
      setErrors(toFieldErrors([parsed.error]));
      setError(`Not saved: ${parsed.error.message}`);
      return;
    }
    const { key: _key, ...body } = parsed.body;
    const decision = bypass.decide(governing);
    if (!decision) return;
    setProposed(undefined);
    if (decision.mode !== 'direct' && governing) {
      setBusy(true);
      try {
        const title = comment.trim() || `Change segment ${current.key}`;
        // The request's own environment: the one in view when a policy governs it, else the first that has one.
        const home = governing.environments.includes(environment) ? environment : governing.environments[0]!;
        let request = await post<ChangeRequest>('/api/change-requests', { title: title.slice(0, 200), environment: home, changes: [{ type: 'segment', segment: current.key, patch: body, baseVersion: base }] });
        setProposed(request);
        if (decision.mode === 'bypass') {
          request = await post<ChangeRequest>(`/api/change-requests/${request.id}/apply`, { bypassReason: decision.reason });
          setProposed(request);
          void segment.reload();
        }
        setDraft(toSegmentDraft(current));
        setBase(current.version);
        setDirty(false);
        setErrors(new Map());
        setComment('');
        bypass.reset();
      } catch (err) {
        notSaved(err);
      } finally {
        setBusy(false);
      }
      return;
    }
    setBusy(true);
    try {
      const saved = await patch<Segment>(`/api/segments/${enc(current.key)}`, { ...body, version: base }, { message: comment });
      segment.setData(saved);
      setDraft(toSegmentDraft(saved));
      setBase(saved.version);
      setDirty(false);
      setErrors(new Map());
      setConflict(undefined);
      setComment('');
      setNotice(`Saved "${saved.name}" (version ${saved.version}). Every flag and environment that uses it sees the change now.`);
    } catch (err) {
      notSaved(err);
    } finally {
      setBusy(false);
    }
  };
  const discard = () => {
    setDraft(toSegmentDraft(current));
    setBase(current.version);
    setDirty(false);
    setErrors(new Map());
  };

  const remove = () => {
    const uses = usage.data ?? [];
    setConfirm({
      title: `Delete segment "${current.name}"?`,
      body: (
        <p>
          It is gone from every environment at once.{' '}
          {uses.length > 0 ? `${uses.length} flag rule${uses.length === 1 ? '' : 's'} still use${uses.length === 1 ? 's' : ''} it, so the server will refuse until they are removed.` : 'No flag uses it.'}
        </p>
      ),
      confirmLabel: 'Delete segment',
      danger: true,
      onConfirm: () =>
        void (async () => {
          setError(undefined);
          setNotice(undefined);
          setBusy(true);
          try {
            await del(`/api/segments/${enc(current.key)}`, { version: current.version }, { message: deleteComment });
            flashNotice(`Segment "${current.name}" (${current.key}) deleted.`);
            navigate('/segments');
          } catch (err) {
            fail(err, 'Not deleted');
            void usage.reload();
          } finally {
            setBusy(false);
          }
        })(),
    });
  };

  return (
    <article aria-labelledby="segment-title" class="segment-page">
      <p>
        <Link href="/segments">← All segments</Link>
      </p>
      <header class="page-head">
        <div>
          <h1 id="segment-title">{current.name}</h1>
          <div class="mono small">{current.key}</div>
        </div>
      </header>
      {current.description && <p class="desc">{current.description}</p>}
      <p class="hint">
        Version {current.version} · last changed by {current.updatedBy || 'unknown'} at {absoluteTime(current.updatedAt)}
      </p>
      <Banner kind="info">
        Segments are global: saving a change here reaches <strong>every environment</strong> of every flag that uses this segment at once, production included.
        {current.key === DOGFOOD_SEGMENT && ' This is the dogfood segment: its users get every flag at the Dogfood stage and after.'}
      </Banner>
      {conflict && <ConflictBanner conflict={conflict} what="segment" onReload={() => void reloadLatest()} />}
      {error && <Banner kind="error">{error}</Banner>}
      {notice && <Banner kind="success">{notice}</Banner>}
      {proposed && (
        <Banner kind={proposed.status === 'applied' ? 'success' : 'info'}>
          {proposed.status === 'applied'
            ? `Applied at once, approvals bypassed: ${proposed.title}.`
            : `Change request #${proposed.id} opened: the segment stays as it is until it has ${proposed.approvalsNeeded} approval${proposed.approvalsNeeded === 1 ? '' : 's'} and is applied.`}{' '}
          <Link href={`/change-requests/${proposed.id}`}>View change request #{proposed.id}</Link>
        </Banner>
      )}

      <UsageCard uses={usage.data} error={usage.error?.message} />

      <form class="card" aria-labelledby="segment-edit-title" onSubmit={save}>
        <h2 id="segment-edit-title">Who is in it</h2>
        {dirty && base !== current.version && (
          <p class="banner banner-warning" role="status">
            Someone changed this segment since you started editing (now version {current.version}). Saving will be refused; discard your edits to see the latest.
          </p>
        )}
        <fieldset disabled={!canEdit} title={reason}>
          <SegmentFields prefix={P} draft={draft} errors={errors} keyEditable={false} onChange={edit} />
        </fieldset>
        <ChangeComment id={`${P}-comment`} value={comment} onChange={setComment} disabled={!canEdit} />
        <GovernedNotice
          id={`${P}-policy`}
          policy={governing}
          envName={governing?.environments.map((key) => environments.find((e) => e.key === key)?.name ?? key).join(', ') ?? ''}
          what="the segment (segments reach every environment)"
          state={bypass}
          disabled={!canEdit}
        />
        <div class="actions">
          <Guard reason={reason}>
            <button type="submit" class="button primary" disabled={!canEdit || !dirty || busy}>
              {governing && !bypass.bypass.on ? 'Request approval' : 'Save segment'}
            </button>
          </Guard>
          <button type="button" class="button" disabled={!dirty} onClick={discard}>
            Discard changes
          </button>
        </div>
      </form>

      <section class="card" aria-labelledby="segment-delete-title">
        <h2 id="segment-delete-title">Delete</h2>
        {current.key === DOGFOOD_SEGMENT ? (
          <p class="hint">The "{DOGFOOD_SEGMENT}" segment holds the dogfood users that release stages use; it cannot be deleted.</p>
        ) : (
          <>
            <p class="hint">A segment can be deleted only when no flag rule uses it, in any environment.</p>
            <ChangeComment id={`${P}-delete-comment`} value={deleteComment} onChange={setDeleteComment} disabled={!canEdit} />
            <Guard reason={reason}>
              <button type="button" class="button danger" disabled={!canEdit || busy} onClick={remove}>
                Delete segment
              </button>
            </Guard>
          </>
        )}
      </section>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </article>
  );
}

/** The flags that use the segment: one row per flag, environment and rule, linking to the flag. */
function UsageCard({ uses, error }: { uses: SegmentUse[] | undefined; error: string | undefined }) {
  const { environments } = useApp();
  const envName = (key: string) => environments.find((e) => e.key === key)?.name ?? key;
  const flags = new Set((uses ?? []).map((u) => u.flagKey)).size;
  return (
    <section class="card" aria-labelledby="segment-usage-title">
      <h2 id="segment-usage-title">Used by</h2>
      {error && <Banner kind="error">Could not load which flags use it: {error}</Banner>}
      {!uses && !error && <Loading what="the flags using it" />}
      {uses && uses.length === 0 && <p class="empty">No flag uses this segment.</p>}
      {uses && uses.length > 0 && (
        <>
          <p class="hint">
            {flags} flag{flags === 1 ? '' : 's'}, {uses.length} rule{uses.length === 1 ? '' : 's'}. Remove these rules before deleting the segment.
          </p>
          <table class="flags-table segment-usage">
            <caption class="visually-hidden">Flags using this segment</caption>
            <thead>
              <tr>
                <th scope="col">Flag</th>
                <th scope="col">Environment</th>
                <th scope="col">Rule</th>
              </tr>
            </thead>
            <tbody>
              {uses.map((u) => (
                <tr key={`${u.flagKey}/${u.environment}/${u.ruleIndex}`} data-flag={u.flagKey} data-environment={u.environment}>
                  <td data-label="Flag">
                    <Link href={`/flags/${encodeURIComponent(u.flagKey)}`} class="flag-link">
                      {u.flagName}
                    </Link>
                    <div class="mono small">{u.flagKey}</div>
                    {u.flagArchived && <span class="badge small badge-git">Archived</span>}
                  </td>
                  <td data-label="Environment">{envName(u.environment)}</td>
                  <td data-label="Rule">
                    <span class="mono">
                      #{u.ruleIndex + 1} {u.ruleId}
                    </span>
                    {u.ruleDescription && <span> — {u.ruleDescription}</span>}
                    <div class="hint">{u.operator === 'in_segment' ? 'matches users in the segment' : 'matches users not in the segment'}</div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
