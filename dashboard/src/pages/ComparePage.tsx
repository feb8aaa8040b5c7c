import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { enc, get } from '../api/client.js';
import type { Flag, FlagSummary } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { StageBadge } from '../components/StageBadge.js';
import { PromotePanel } from '../compare/PromotePanel.js';
import { compareEnvironments, compareUrl, readCompareSelection, type CompareRow, type CompareSection, type CompareSelection } from '../logic/compare.js';
import { Link } from '../router.js';
import { useApp, useLive, useResource } from '../state.js';
import { pageTitle, usePageTitle } from '../title.js';

const SECTIONS: readonly CompareSection[] = ['State', 'Everyone else', 'Individual targets', 'Rules (first match wins)'];

/**
 * `/compare?flag=KEY&a=staging&b=production`: one flag's targeting in two environments side by
 * side, differences marked. The pickers rewrite the URL in place (replaceState), so the page can be
 * shared, bookmarked and reloaded as it is.
 */
export function ComparePage() {
  const { environments } = useApp();
  const [selection, setSelection] = useState<CompareSelection>(() => readCompareSelection(location.search, environments));
  const [onlyDifferences, setOnlyDifferences] = useState(false);

  // The URL follows the pickers (in place: choosing is not navigating); back/forward follow the URL.
  // A layout effect: the URL changes with the render that shows the new comparison, never after it.
  useLayoutEffect(() => {
    const url = compareUrl(selection);
    if (url !== location.pathname + location.search) history.replaceState(null, '', url);
  }, [selection.flag, selection.a, selection.b]);
  useEffect(() => {
    const follow = () => setSelection(readCompareSelection(location.search, environments));
    window.addEventListener('popstate', follow);
    return () => window.removeEventListener('popstate', follow);
  }, [environments]);

  // One environment's summaries are enough for the picker (the rows are smaller).
  const listEnvironment = environments[0]?.key;
  const flags = useResource(() => get<{ items: FlagSummary[] }>(`/api/flag-summaries?archived=all${listEnvironment ? `&environment=${enc(listEnvironment)}` : ''}`).then((r) => r.items), [listEnvironment]);
  const flag = useResource(async () => (selection.flag ? get<Flag>(`/api/flags/${enc(selection.flag)}`) : undefined), [selection.flag]);
  useLive((e) => {
    if (e.type === 'flag' && e.key === selection.flag) void flag.reload();
  });

  // "Compare Checkout v2 · Switchyard": the flag's name once loaded, its key until then.
  const comparedName = flag.data?.key === selection.flag ? flag.data.name : selection.flag;
  usePageTitle(comparedName ? pageTitle(`Compare ${comparedName}`) : undefined);

  const choose = (patch: Partial<CompareSelection>) => setSelection({ ...selection, ...patch });
  const name = (key: string) => environments.find((e) => e.key === key)?.name ?? key;
  const unknownEnvironments = [selection.a, selection.b].filter((k) => k && !environments.some((e) => e.key === k));
  const envOptions = (value: string) => (
    <>
      {environments.map((e) => (
        <option key={e.key} value={e.key}>
          {e.critical ? `${e.name} (critical)` : e.name}
        </option>
      ))}
      {value && !environments.some((e) => e.key === value) && <option value={value}>{value}</option>}
    </>
  );

  const rows = flag.data ? compareEnvironments(flag.data, selection.a, selection.b) : [];
  const differing = rows.filter((r) => r.differs).length;
  const shown = onlyDifferences ? rows.filter((r) => r.differs) : rows;

  return (
    <section aria-labelledby="compare-title" class="compare-page">
      <h1 id="compare-title">Compare environments</h1>
      <p class="hint">One flag's targeting in two environments, side by side: what would change for users if one looked like the other — and, below, promoting A's targeting to B.</p>
      <form class="filters compare-pickers" aria-label="What to compare" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="compare-flag">Flag</label>
          <select id="compare-flag" value={selection.flag} onChange={(e) => choose({ flag: e.currentTarget.value })}>
            <option value="">Choose a flag…</option>
            {(flags.data ?? []).map((f) => (
              <option key={f.key} value={f.key}>
                {f.name === f.key ? f.key : `${f.name} (${f.key})`}
                {f.archived ? ' — archived' : ''}
              </option>
            ))}
            {selection.flag && flags.data && !flags.data.some((f) => f.key === selection.flag) && <option value={selection.flag}>{selection.flag}</option>}
          </select>
        </div>
        <div class="field">
          <label for="compare-a">Environment A</label>
          <select id="compare-a" value={selection.a} onChange={(e) => choose({ a: e.currentTarget.value })}>
            {envOptions(selection.a)}
          </select>
        </div>
        <button type="button" class="button compare-swap" onClick={() => choose({ a: selection.b, b: selection.a })}>
          <span aria-hidden="true">⇄ </span>Swap
        </button>
        <div class="field">
          <label for="compare-b">Environment B</label>
          <select id="compare-b" value={selection.b} onChange={(e) => choose({ b: e.currentTarget.value })}>
            {envOptions(selection.b)}
          </select>
        </div>
      </form>
      {flags.error && <Banner kind="error">Could not load the flags: {flags.error.message}</Banner>}
      {unknownEnvironments.length > 0 && <Banner kind="warning">There is no environment {unknownEnvironments.map((k) => `"${k}"`).join(' or ')}.</Banner>}
      {!selection.flag && <p class="empty">Choose a flag to compare.</p>}
      {selection.flag && flag.error && !flag.data && (
        <Banner kind="error">{flag.error.status === 404 ? `There is no flag "${selection.flag}".` : `Could not load the flag: ${flag.error.message}`}</Banner>
      )}
      {selection.flag && !flag.data && !flag.error && <Loading what="the flag" />}
      {flag.data && (
        <>
          <p class="compare-summary">
            <Link href={`/flags/${encodeURIComponent(flag.data.key)}`} class="flag-link">
              {flag.data.name}
            </Link>{' '}
            <span class="mono small">{flag.data.key}</span>
          </p>
          <p role="status" class="compare-count">
            {selection.a === selection.b
              ? 'Both sides are the same environment.'
              : differing === 0
                ? `${name(selection.a)} and ${name(selection.b)} are configured the same.`
                : `${differing} difference${differing === 1 ? '' : 's'} between ${name(selection.a)} and ${name(selection.b)}.`}
          </p>
          <label class="switch-line">
            <input type="checkbox" checked={onlyDifferences} onChange={(e) => setOnlyDifferences(e.currentTarget.checked)} /> Show only differences
          </label>
          <div class="diff-wrap">
            <table class="flags-table compare-table">
              <caption class="visually-hidden">
                {flag.data.name} in {name(selection.a)} and {name(selection.b)}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Setting</th>
                  <th scope="col">{name(selection.a)}</th>
                  <th scope="col">{name(selection.b)}</th>
                </tr>
              </thead>
              {SECTIONS.map((section) => {
                const inSection = shown.filter((r) => r.section === section);
                if (inSection.length === 0) return null;
                return (
                  <tbody key={section}>
                    <tr class="compare-section">
                      <th scope="rowgroup" colSpan={3}>
                        {section}
                      </th>
                    </tr>
                    {inSection.map((r) => (
                      <CompareLine key={r.id} row={r} />
                    ))}
                  </tbody>
                );
              })}
            </table>
          </div>
          <PromotePanel flag={flag.data} selection={selection} onPromoted={() => void flag.reload()} />
        </>
      )}
    </section>
  );
}

function CompareLine({ row }: { row: CompareRow }) {
  const cell = (side: 'a' | 'b') => {
    const lines = row[side];
    if (lines === undefined) return <span class="empty">{row.position ? 'no such rule' : 'not configured'}</span>;
    const stage = row.stage?.[side];
    const position = row.position?.[side];
    return (
      <>
        {stage && <StageBadge stage={stage.stage} summary={stage.summary} />}
        {lines.map((line, i) => (
          <div key={i} class={stage ? 'visually-hidden' : i === 0 && position !== undefined ? 'mono' : undefined}>
            {i === 0 && position !== undefined ? `#${position + 1} ` : ''}
            {line}
          </div>
        ))}
      </>
    );
  };
  return (
    <tr class={row.differs ? 'compare-row differs' : 'compare-row'} data-row={row.id} data-differs={row.differs ? 'true' : 'false'}>
      <th scope="row">
        {row.label}
        {row.differs && (
          <span class="badge small compare-mark">
            <span aria-hidden="true">≠ </span>differs
          </span>
        )}
      </th>
      <td class={row.differs ? 'compare-a' : undefined}>{cell('a')}</td>
      <td class={row.differs ? 'compare-b' : undefined}>{cell('b')}</td>
    </tr>
  );
}
