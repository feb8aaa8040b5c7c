import { useEffect, useState } from 'preact/hooks';
import { get } from '../api/client.js';
import type { AuditEntry, AuditPage, RevertResult } from '../api/types.js';
import { AuditEntryRow } from '../components/AuditEntryRow.js';
import { Banner, Loading } from '../components/Banner.js';
import { EnvironmentOptions } from '../components/EnvironmentOptions.js';
import { RevertDialog } from '../components/RevertDialog.js';
import { useApp, useCanEdit, useLive, useResource } from '../state.js';

const TYPES = ['', 'flag', 'segment', 'environment', 'api_token', 'sdk_key', 'webhook', 'change_request'] as const;
const FILTERS = ['type', 'flag', 'person', 'environment', 'since', 'until'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

/** The filters live in the URL (`/audit?flag=checkout&person=ci-bot&environment=production&since=2026-12-01`): a filtered log can be shared and bookmarked. */
function readFilters(): Filters {
  const params = new URLSearchParams(location.search);
  return Object.fromEntries(FILTERS.map((k) => [k, params.get(k)?.trim() ?? ''])) as Filters;
}

function pageUrl(filters: Filters): string {
  const params = new URLSearchParams();
  for (const k of FILTERS) if (filters[k]) params.set(k, filters[k]);
  const query = params.toString();
  return `/audit${query ? `?${query}` : ''}`;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * A day picked here is a day where the person is: its local midnight as an instant (`until`: the
 * next midnight, so the day is included). Anything else goes as typed; the server says what is wrong.
 */
function dayBound(value: string, end: boolean): string {
  const m = DAY.exec(value);
  if (!m) return value;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (end ? 1 : 0)).toISOString();
}

function apiUrl(f: Filters, before?: number): string {
  const params = new URLSearchParams({ limit: '50' });
  if (f.flag) params.set('resourceType', 'flag');
  else if (f.type) params.set('resourceType', f.type);
  if (f.flag) params.set('resourceKey', f.flag);
  if (f.person) params.set('actor', f.person);
  if (f.environment) params.set('environment', f.environment);
  if (f.since) params.set('since', dayBound(f.since, false));
  if (f.until) params.set('until', dayBound(f.until, true));
  if (before) params.set('before', String(before));
  return `/api/audit?${params.toString()}`;
}

/** Everything that changed, newest first, as sentences; filtered by flag, person, environment and date; revertible in place. */
export function AuditLogPage() {
  const { environments } = useApp();
  const { canEdit, reason } = useCanEdit();
  const [filters, setFilters] = useState<Filters>(readFilters);
  const [draft, setDraft] = useState<Filters>(filters);
  const [older, setOlder] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<number | null | undefined>(undefined);
  const [moreError, setMoreError] = useState<string | undefined>(undefined);
  const [reverting, setReverting] = useState<AuditEntry | null>(null);
  const [notice, setNotice] = useState<string | undefined>(undefined);

  useEffect(() => {
    const follow = () => {
      const next = readFilters();
      setFilters(next);
      setDraft(next);
    };
    window.addEventListener('popstate', follow);
    return () => window.removeEventListener('popstate', follow);
  }, []);

  const key = pageUrl(filters);
  const first = useResource(async () => {
    const page = await get<AuditPage>(apiUrl(filters));
    setOlder([]);
    setCursor(page.nextCursor);
    return page;
  }, [key]);
  useLive(() => void first.reload());

  const apply = (next: Filters) => {
    const url = pageUrl(next);
    if (url !== location.pathname + location.search) history.pushState(null, '', url);
    setFilters(next);
    setDraft(next);
    setMoreError(undefined);
  };
  const submit = (e: Event) => {
    e.preventDefault();
    apply(draft);
  };
  const cleared = Object.fromEntries(FILTERS.map((k) => [k, ''])) as Filters;
  const more = async () => {
    if (!cursor) return;
    try {
      const page = await get<AuditPage>(apiUrl(filters, cursor));
      setOlder([...older, ...page.items]);
      setCursor(page.nextCursor);
    } catch (e) {
      setMoreError(e instanceof Error ? e.message : String(e));
    }
  };
  const reverted = (_result: RevertResult, entry: AuditEntry) => {
    setNotice(`Reverted #${entry.id} (${entry.summary}).`);
    void first.reload();
  };

  const items = [...(first.data?.items ?? []), ...older];
  const people = [...new Set(items.map((e) => e.actor))].sort();
  const active = FILTERS.filter((k) => filters[k]);
  const set = (k: keyof Filters) => (e: { currentTarget: { value: string } }) => setDraft({ ...draft, [k]: e.currentTarget.value });
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <form class="filters audit-filters" role="search" aria-label="Filter the audit log" onSubmit={submit}>
        <div class="field">
          <label for="audit-flag">Flag</label>
          <input id="audit-flag" value={draft.flag} placeholder="flag key" onInput={set('flag')} />
        </div>
        <div class="field">
          <label for="audit-person">Person</label>
          <input id="audit-person" value={draft.person} placeholder="e.g. ci-bot" list="audit-people" onInput={set('person')} />
          <datalist id="audit-people">
            {people.map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="audit-environment">Environment</label>
          <select id="audit-environment" value={draft.environment} onChange={set('environment')}>
            <EnvironmentOptions environments={environments} />
            {draft.environment && !environments.some((e) => e.key === draft.environment) && <option value={draft.environment}>{draft.environment}</option>}
          </select>
        </div>
        <div class="field">
          <label for="audit-type">Resource</label>
          <select id="audit-type" value={draft.flag ? 'flag' : draft.type} disabled={draft.flag !== ''} onChange={set('type')}>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t === '' ? 'Everything' : t.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="audit-since">From</label>
          <input id="audit-since" type="date" value={draft.since} onInput={set('since')} />
        </div>
        <div class="field">
          <label for="audit-until">To (inclusive)</label>
          <input id="audit-until" type="date" value={draft.until} onInput={set('until')} />
        </div>
        <div class="filter-actions">
          <button type="submit" class="button primary">
            Apply filters
          </button>
          <button type="button" class="button" disabled={active.length === 0} onClick={() => apply(cleared)}>
            Clear
          </button>
        </div>
      </form>
      {notice && <Banner kind="success">{notice}</Banner>}
      {first.error && <Banner kind="error">Could not load the audit log: {first.error.message}</Banner>}
      {!first.data && !first.error && <Loading what="the audit log" />}
      {first.data && (
        <p class="hint" role="status">
          {items.length === 0 ? (active.length > 0 ? 'No change matches these filters.' : 'Nothing recorded yet.') : `${items.length}${cursor ? '+' : ''} ${items.length === 1 ? 'change' : 'changes'}${active.length > 0 ? ' matching the filters' : ''}, newest first.`}
        </p>
      )}
      <ol class="history audit-log" aria-label="Changes">
        {items.map((entry) => (
          <AuditEntryRow key={entry.id} entry={entry} showFlag onRevert={setReverting} revertReason={canEdit ? undefined : reason} />
        ))}
      </ol>
      {moreError && <Banner kind="error">{moreError}</Banner>}
      {cursor && (
        <button type="button" class="button" onClick={() => void more()}>
          Load older entries
        </button>
      )}
      <RevertDialog entry={reverting} reason={canEdit ? undefined : reason} onClose={() => setReverting(null)} onReverted={reverted} />
    </section>
  );
}
