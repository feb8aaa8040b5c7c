import { useMemo, useState } from 'preact/hooks';
import { get } from '../api/client.js';
import type { Flag } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { Guard } from '../components/Guard.js';
import { StageBadge } from '../components/StageBadge.js';
import { describeStage } from '../logic/stages.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { Link, navigate } from '../router.js';
import { useApp, useCanEdit, useCurrentEnvironment, useLive, useResource } from '../state.js';

const STAGE_FILTERS = [
  { value: '', label: 'Any stage' },
  { value: 'off', label: 'Off' },
  { value: 'dogfood', label: 'Dogfood' },
  { value: 'rollout', label: 'Partial rollout' },
  { value: 'full', label: '100%' },
  { value: 'kill', label: 'Killed' },
  { value: 'custom', label: 'Custom' },
];

export function FlagsPage() {
  const { environment } = useApp();
  const env = useCurrentEnvironment();
  const { canEdit, reason } = useCanEdit();
  const flags = useResource(() => get<{ items: Flag[] }>('/api/flags').then((r) => r.items), []);
  useLive((e) => {
    if (e.type === 'flag') void flags.reload();
  });
  const [q, setQ] = useState('');
  const [tag, setTag] = useState('');
  const [stage, setStage] = useState('');

  const tags = useMemo(() => [...new Set((flags.data ?? []).flatMap((f) => f.tags))].sort(), [flags.data]);
  const visible = useMemo(() => {
    const needle = q.trim().toLowerCase();
    return (flags.data ?? []).filter((f) => {
      if (needle && ![f.key, f.name, f.description].some((s) => s.toLowerCase().includes(needle))) return false;
      if (tag && !f.tags.includes(tag)) return false;
      if (stage && describeStage(f.environments[environment]?.stage ?? 'off').kind !== stage) return false;
      return true;
    });
  }, [flags.data, q, tag, stage, environment]);

  return (
    <section aria-labelledby="flags-title">
      <div class="page-head">
        <h1 id="flags-title">
          Flags <span class="env-name">in {env?.name ?? environment}</span>
        </h1>
        <Guard reason={reason}>
          <button type="button" class="button primary" disabled={!canEdit} onClick={() => navigate('/flags/new')}>
            New flag
          </button>
        </Guard>
      </div>
      <div class="filters" role="search">
        <div class="field">
          <label for="flag-search">Search</label>
          <input id="flag-search" type="search" placeholder="Key, name or description" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="flag-tag">Tag</label>
          <select id="flag-tag" value={tag} onChange={(e) => setTag(e.currentTarget.value)}>
            <option value="">Any tag</option>
            {tags.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="flag-stage">Stage</label>
          <select id="flag-stage" value={stage} onChange={(e) => setStage(e.currentTarget.value)}>
            {STAGE_FILTERS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      {flags.error && <Banner kind="error">Could not load flags: {flags.error.message}</Banner>}
      {flags.data === undefined && !flags.error && <Loading what="flags" />}
      {flags.data && visible.length === 0 && (
        <p class="empty">{flags.data.length === 0 ? 'No flags yet. Create the first one.' : 'No flag matches these filters.'}</p>
      )}
      {flags.data && visible.length > 0 && (
        <table class="flags-table">
          <caption class="visually-hidden">Flags and their stage in {env?.name ?? environment}</caption>
          <thead>
            <tr>
              <th scope="col">Flag</th>
              <th scope="col">Stage</th>
              <th scope="col">Tags</th>
              <th scope="col">Last change</th>
            </tr>
          </thead>
          <tbody>
            {visible.map((f) => (
              <tr key={f.key} data-flag={f.key}>
                <td data-label="Flag">
                  <Link href={`/flags/${encodeURIComponent(f.key)}`} class="flag-link">
                    {f.name}
                  </Link>
                  <div class="mono small">{f.key}</div>
                  {f.managedBy && (
                    <span class="badge badge-git small" title={`Managed by Git (${f.managedBy})`}>
                      <span aria-hidden="true">⎇</span> Git
                    </span>
                  )}
                  {f.clientVisible && (
                    <span class="badge badge-client small" title="Visible to client keys: browsers and mobile apps receive its evaluated value">
                      <span aria-hidden="true">◫</span> Client-visible
                    </span>
                  )}
                  {f.description && <div class="desc">{f.description}</div>}
                </td>
                <td data-label="Stage">
                  <StageBadge stage={f.environments[environment]?.stage ?? 'off'} summary={f.environments[environment]?.stageSummary} />
                </td>
                <td data-label="Tags">
                  {f.tags.map((t) => (
                    <span key={t} class="tag">
                      {t}
                    </span>
                  ))}
                </td>
                <td data-label="Last change">
                  <span title={absoluteTime(f.updatedAt)}>
                    {f.updatedBy || 'unknown'} · {relativeTime(f.updatedAt)}
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
