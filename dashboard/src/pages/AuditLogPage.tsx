import { useState } from 'preact/hooks';
import { get } from '../api/client.js';
import type { AuditEntry, AuditPage } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { DiffTable } from '../components/DiffTable.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { Link } from '../router.js';
import { useLive, useResource } from '../state.js';

const TYPES = ['', 'flag', 'segment', 'environment', 'api_token', 'sdk_key', 'webhook'] as const;

/** Everything that changed, newest first, with cursor pagination. */
export function AuditLogPage() {
  const [type, setType] = useState<string>('');
  const [older, setOlder] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<number | null | undefined>(undefined);
  const [moreError, setMoreError] = useState<string | undefined>(undefined);
  const query = (before?: number) => `/api/audit?limit=50${type ? `&resourceType=${type}` : ''}${before ? `&before=${before}` : ''}`;
  const first = useResource(async () => {
    const page = await get<AuditPage>(query());
    setOlder([]);
    setCursor(page.nextCursor);
    return page;
  }, [type]);
  useLive(() => void first.reload());
  const more = async () => {
    if (!cursor) return;
    try {
      const page = await get<AuditPage>(query(cursor));
      setOlder([...older, ...page.items]);
      setCursor(page.nextCursor);
    } catch (e) {
      setMoreError(e instanceof Error ? e.message : String(e));
    }
  };
  const items = [...(first.data?.items ?? []), ...older];
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <div class="filters">
        <div class="field">
          <label for="audit-type">Resource</label>
          <select id="audit-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t === '' ? 'Everything' : t.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
      </div>
      {first.error && <Banner kind="error">Could not load the audit log: {first.error.message}</Banner>}
      {!first.data && !first.error && <Loading what="the audit log" />}
      {first.data && items.length === 0 && <p class="empty">Nothing recorded yet.</p>}
      <ol class="history">
        {items.map((entry) => (
          <li key={entry.id}>
            <details>
              <summary>
                <span title={absoluteTime(entry.at)}>{relativeTime(entry.at)}</span> · <strong>{entry.actor}</strong> <span class="mono">{entry.action}</span>{' '}
                {entry.resourceType === 'flag' ? <Link href={`/flags/${encodeURIComponent(entry.resourceKey)}`}>{entry.resourceKey}</Link> : <span class="mono">{entry.resourceKey}</span>}
                {entry.environment && <span class="tag">{entry.environment}</span>}
                {entry.source !== 'api' && <span class="hint"> via {entry.source}</span>}
                {entry.message && <span class="hint"> — {entry.message}</span>}
              </summary>
              <DiffTable before={entry.before} after={entry.after} scope={entry.environment ?? undefined} />
            </details>
          </li>
        ))}
      </ol>
      {moreError && <Banner kind="error">{moreError}</Banner>}
      {cursor && (
        <button type="button" class="button" onClick={() => void more()}>
          Load older entries
        </button>
      )}
    </section>
  );
}
