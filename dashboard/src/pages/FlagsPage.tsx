import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Banner, Loading } from '../components/Banner.js';
import { Guard } from '../components/Guard.js';
import { LIFECYCLES, type Lifecycle } from '../api/types.js';
import { FlagRow } from '../list/FlagRow.js';
import { LIFECYCLE_HINTS, LIFECYCLE_LABELS } from '../list/LifecycleBadge.js';
import { useFlagSummaries } from '../list/flag-summaries.js';
import { STAGE_KINDS, STAGE_KIND_LABELS, applyFilters, facets, listQueryToParams, parseListQuery, sortEntries, type FlagSort, type ListQuery } from '../logic/flag-list.js';
import type { StageKind } from '../logic/stages.js';
import { navigate, setSearchParams, useSearchParams } from '../router.js';
import { useApp, useCanEdit } from '../state.js';

/** Rows drawn at first and per "Show more": the counts always cover every flag. */
const PAGE_ROWS = 100;

const SORT_LABELS: Record<FlagSort, (env: string) => string> = {
  name: () => 'Name',
  key: () => 'Key',
  updated: () => 'Last change (newest first)',
  stage: (env) => `Stage in ${env}`,
};

const count = (n: number) => n.toLocaleString('en-US');

export function FlagsPage() {
  const { environment, environments, setEnvironment } = useApp();
  const { canEdit, reason } = useCanEdit();
  const flags = useFlagSummaries();
  const [params] = useSearchParams();

  const envKeys = useMemo(() => environments.map((e) => e.key), [environments]);
  const { query, problems } = useMemo(() => parseListQuery(params, envKeys, environment), [params, envKeys, environment]);
  const env = environments.find((e) => e.key === query.env);
  const envName = env?.name ?? query.env;

  // The URL's environment wins (a shared link shows the sender's view); choosing another one in
  // the header writes it back, so reload and back/forward keep it.
  const urlEnv = params.get('env');
  useEffect(() => {
    if (urlEnv && urlEnv !== environment && envKeys.includes(urlEnv)) setEnvironment(urlEnv);
  }, [urlEnv, envKeys]);
  const shownEnv = useRef(environment);
  useEffect(() => {
    if (shownEnv.current === environment) return;
    shownEnv.current = environment;
    const current = new URLSearchParams(location.search);
    if (current.get('env') === environment) return;
    current.set('env', environment);
    setSearchParams(current);
  }, [environment]);

  /** Typing replaces the history entry; a choice from a menu or a chip pushes one, so Back undoes it. */
  const update = (patch: Partial<ListQuery>, push = false) => setSearchParams(listQueryToParams({ ...query, ...patch }), { push });

  const sorted = useMemo(() => flags.entries && sortEntries(flags.entries, query.sort, query.env), [flags.entries, query.sort, query.env]);
  const filtered = useMemo(() => sorted && applyFilters(sorted, query), [sorted, query.q, query.tag, query.owner, query.lifecycle, query.stage, query.env]);
  const { tags, owners } = useMemo(() => facets(flags.entries ?? []), [flags.entries]);

  // "Show more" counts from the top again whenever the filters change.
  const filterKey = `${query.q}\n${query.tag}\n${query.owner}\n${query.lifecycle}\n${query.stage}\n${query.sort}\n${query.env}`;
  const [shown, setShown] = useState({ filterKey, rows: PAGE_ROWS });
  const rows = shown.filterKey === filterKey ? shown.rows : PAGE_ROWS;

  const filtering = Boolean(query.q || query.tag || query.owner || query.lifecycle || query.stage);
  const total = flags.entries?.length ?? 0;

  return (
    <section aria-labelledby="flags-title">
      <div class="page-head">
        <h1 id="flags-title">
          Flags <span class="env-name">in {envName}</span>
        </h1>
        <Guard reason={reason}>
          <button type="button" class="button primary" disabled={!canEdit} onClick={() => navigate('/flags/new')}>
            New flag
          </button>
        </Guard>
      </div>
      {problems.length > 0 && <Banner kind="warning">This link has filters this list does not know, left out: {problems.join('; ')}.</Banner>}
      <div class="filters" role="search">
        <div class="field">
          <label for="flag-search">Search</label>
          <input id="flag-search" type="search" placeholder="Key, name, tag or owner" value={query.q} onInput={(e) => update({ q: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="flag-tag">Tag</label>
          <select id="flag-tag" value={query.tag} onChange={(e) => update({ tag: e.currentTarget.value }, true)}>
            <option value="">Any tag</option>
            {withCurrent(tags, query.tag).map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="flag-owner">Owner</label>
          <select id="flag-owner" value={query.owner} onChange={(e) => update({ owner: e.currentTarget.value }, true)}>
            <option value="">Any owner</option>
            {withCurrent(owners, query.owner).map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="flag-lifecycle">Lifecycle</label>
          <select id="flag-lifecycle" value={query.lifecycle} onChange={(e) => update({ lifecycle: e.currentTarget.value as Lifecycle | '' }, true)}>
            <option value="">Any lifecycle</option>
            {LIFECYCLES.map((l) => (
              <option key={l} value={l} title={LIFECYCLE_HINTS[l]}>
                {LIFECYCLE_LABELS[l]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="flag-stage">Stage in {envName}</label>
          <select id="flag-stage" value={query.stage} onChange={(e) => update({ stage: e.currentTarget.value as StageKind | '' }, true)}>
            <option value="">Any stage</option>
            {STAGE_KINDS.map((kind) => (
              <option key={kind} value={kind}>
                {STAGE_KIND_LABELS[kind]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="flag-sort">Sort by</label>
          <select id="flag-sort" value={query.sort} onChange={(e) => update({ sort: e.currentTarget.value as FlagSort }, true)}>
            {(Object.keys(SORT_LABELS) as FlagSort[]).map((sort) => (
              <option key={sort} value={sort}>
                {SORT_LABELS[sort](envName)}
              </option>
            ))}
          </select>
        </div>
      </div>
      {flags.error && (
        <Banner kind="error">
          Could not load flags: {flags.error.message}{' '}
          <button type="button" class="button small" onClick={flags.reload}>
            Retry
          </button>
        </Banner>
      )}
      {flags.entries === undefined && !flags.error && <Loading what="flags" />}
      {filtered && (
        <div class="list-summary">
          <p class="list-count" aria-live="polite">
            Showing {count(filtered.visible.length)} of {count(total)} flags
            {filtering && (
              <>
                {' '}
                <button type="button" class="button small" onClick={() => update({ q: '', tag: '', owner: '', lifecycle: '', stage: '' }, true)}>
                  Clear filters
                </button>
              </>
            )}
          </p>
          <div class="stage-counts" role="group" aria-label={`Flags by stage in ${envName}`}>
            {STAGE_KINDS.map((kind) => (
              <button
                key={kind}
                type="button"
                class={`stage-count stage-${kind}`}
                data-stage-kind={kind}
                aria-pressed={query.stage === kind ? 'true' : 'false'}
                onClick={() => update({ stage: query.stage === kind ? '' : kind }, true)}
              >
                {kind === 'rollout' ? 'Rollout' : STAGE_KIND_LABELS[kind]} <span class="stage-count-n">{count(filtered.counts[kind])}</span>
              </button>
            ))}
          </div>
        </div>
      )}
      {filtered && filtered.visible.length === 0 && <p class="empty">{total === 0 ? 'No flags yet. Create the first one.' : 'No flag matches these filters.'}</p>}
      {filtered && filtered.visible.length > 0 && (
        <>
          <div class="flags-table-wrap">
            <table class="flags-table flags-list">
              <caption class="visually-hidden">Flags and their stage in each environment; the filters and counts look at {envName}</caption>
              <thead>
                <tr>
                  <th scope="col" class="col-flag" aria-sort={query.sort === 'name' ? 'ascending' : undefined}>
                    Flag
                  </th>
                  {environments.map((e) => (
                    <th
                      key={e.key}
                      scope="col"
                      data-env={e.key}
                      class={`env-col${e.critical ? ' critical' : ''}${e.key === query.env ? ' env-selected' : ''}`}
                      aria-sort={query.sort === 'stage' && e.key === query.env ? 'ascending' : undefined}
                    >
                      {e.critical && <span aria-hidden="true">⚠ </span>}
                      {e.name}
                      {e.critical && <span class="visually-hidden"> (critical)</span>}
                    </th>
                  ))}
                  <th scope="col" class="col-tags">
                    Tags and owner
                  </th>
                  <th scope="col" class="col-changed" aria-sort={query.sort === 'updated' ? 'descending' : undefined}>
                    Last change
                  </th>
                </tr>
              </thead>
              <tbody>
                {filtered.visible.slice(0, rows).map((entry) => (
                  <FlagRow key={entry.summary.key} entry={entry} environments={environments} selected={query.env} />
                ))}
              </tbody>
            </table>
          </div>
          {filtered.visible.length > rows && (
            <p class="show-more">
              <button type="button" class="button" onClick={() => setShown({ filterKey, rows: rows + PAGE_ROWS })}>
                Show {count(Math.min(PAGE_ROWS, filtered.visible.length - rows))} more
              </button>{' '}
              <span class="hint">
                {count(rows)} of {count(filtered.visible.length)} drawn
              </span>
            </p>
          )}
        </>
      )}
    </section>
  );
}

/** The menu's values, plus the one a link asks for when no flag has it (yet): the select must show it. */
function withCurrent(values: string[], current: string): string[] {
  return current && !values.includes(current) ? [...values, current] : values;
}
