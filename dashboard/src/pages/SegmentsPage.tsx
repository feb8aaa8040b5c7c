import { useState } from 'preact/hooks';
import { ApiError, get, post } from '../api/client.js';
import type { Segment } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { ChangeComment } from '../components/ChangeComment.js';
import { Guard } from '../components/Guard.js';
import { toFieldErrors, type FieldErrors } from '../logic/field-errors.js';
import { emptySegmentDraft, fromSegmentDraft, segmentFieldErrors, type SegmentDraft } from '../logic/segment-form.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { Link } from '../router.js';
import { SegmentFields } from '../segment/SegmentForm.js';
import { takeNotice } from '../segment/notice.js';
import { useCanEdit, useLive, useResource } from '../state.js';

const P = 'new-segment';

/** Everyone a segment can hold, counted: members, exclusions, rules. */
function contents(s: Segment): string {
  const parts = [`${s.included.length} member${s.included.length === 1 ? '' : 's'}`];
  if (s.excluded.length > 0) parts.push(`${s.excluded.length} excluded`);
  parts.push(`${s.rules.length} rule${s.rules.length === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

/** `/segments`: every segment (global: one definition for all environments), and a form to create one. */
export function SegmentsPage() {
  const { canEdit, reason } = useCanEdit();
  const segments = useResource(() => get<{ items: Segment[] }>('/api/segments').then((r) => [...r.items].sort((a, b) => a.key.localeCompare(b.key))), []);
  useLive((e) => {
    if (e.type === 'segment') void segments.reload();
  });
  const [creating, setCreating] = useState(false);
  const [draft, setDraft] = useState<SegmentDraft>(emptySegmentDraft);
  const [errors, setErrors] = useState<FieldErrors>(new Map());
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(takeNotice);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setNotice(undefined);
    const parsed = fromSegmentDraft(draft);
    if ('error' in parsed) {
      setErrors(toFieldErrors([parsed.error]));
      setError(`Not created: ${parsed.error.message}`);
      return;
    }
    setBusy(true);
    try {
      const created = await post<Segment>('/api/segments', parsed.body, { message: comment });
      setNotice(`Segment "${created.name}" (${created.key}) created.`);
      setDraft(emptySegmentDraft());
      setErrors(new Map());
      setComment('');
      setCreating(false);
      await segments.reload();
    } catch (err) {
      setErrors(err instanceof ApiError ? segmentFieldErrors(err.fieldErrors, draft.rules.length) : new Map());
      setError(`Not created: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="segments-title">
      <header class="page-head">
        <h1 id="segments-title">Segments</h1>
        <Guard reason={reason}>
          <button type="button" class="button primary" disabled={!canEdit || creating} onClick={() => setCreating(true)}>
            New segment
          </button>
        </Guard>
      </header>
      <p class="hint">
        A segment is a named group of users — by ID, by email domain or by rules — that flag rules target with <code>in segment</code>. Segments are global: one
        definition shared by every environment, so a change to a segment reaches every flag and environment that uses it, production included.
      </p>
      {notice && <Banner kind="success">{notice}</Banner>}
      {error && <Banner kind="error">{error}</Banner>}
      {creating && canEdit && (
        <form class="card" aria-labelledby="new-segment-title" onSubmit={create}>
          <h2 id="new-segment-title">New segment</h2>
          <SegmentFields prefix={P} draft={draft} errors={errors} keyEditable onChange={setDraft} />
          <ChangeComment id={`${P}-comment`} value={comment} onChange={setComment} />
          <div class="actions">
            <button type="submit" class="button primary" disabled={busy}>
              Create segment
            </button>
            <button
              type="button"
              class="button"
              onClick={() => {
                setCreating(false);
                setErrors(new Map());
                setError(undefined);
              }}
            >
              Cancel
            </button>
          </div>
        </form>
      )}
      {!segments.data && !segments.error && <Loading what="segments" />}
      {segments.error && <Banner kind="error">Could not load the segments: {segments.error.message}</Banner>}
      {segments.data && (
        <table class="flags-table segments-table">
          <caption class="visually-hidden">Segments</caption>
          <thead>
            <tr>
              <th scope="col">Segment</th>
              <th scope="col">Who is in it</th>
              <th scope="col">Last changed</th>
            </tr>
          </thead>
          <tbody>
            {segments.data.map((s) => (
              <tr key={s.key} data-segment={s.key}>
                <td data-label="Segment">
                  <Link href={`/segments/${encodeURIComponent(s.key)}`} class="flag-link">
                    {s.name}
                  </Link>
                  <div class="mono small">{s.key}</div>
                  {s.description && <div class="desc">{s.description}</div>}
                </td>
                <td data-label="Who is in it">{contents(s)}</td>
                <td data-label="Last changed">
                  <span title={absoluteTime(s.updatedAt)}>
                    {relativeTime(s.updatedAt)} by {s.updatedBy || 'unknown'}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
