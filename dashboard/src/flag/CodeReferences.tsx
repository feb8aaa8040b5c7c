import { enc, get } from '../api/client.js';
import type { Flag, FlagCodeRefs, FlagSummary } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { LIFECYCLE_HINTS, LifecycleBadge } from '../list/LifecycleBadge.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { useResource } from '../state.js';

type Item = FlagCodeRefs['items'][number];

/** References grouped by repository and branch, in the server's order. */
function byBranch(items: readonly Item[]): { name: string; commit: string; uploadedAt: number; items: Item[] }[] {
  const groups = new Map<string, { name: string; commit: string; uploadedAt: number; items: Item[] }>();
  for (const item of items) {
    const name = `${item.repository} · ${item.branch}`;
    let group = groups.get(name);
    if (!group) groups.set(name, (group = { name, commit: item.commit, uploadedAt: item.uploadedAt, items: [] }));
    group.items.push(item);
  }
  return [...groups.values()];
}

/**
 * Where the code uses the flag, as `switchyard code-refs --upload` last found it per repository
 * and branch, when its last reference disappeared, and its lifecycle.
 */
export function CodeReferences({ flag }: { flag: Flag }) {
  const refs = useResource(() => get<FlagCodeRefs>(`/api/flags/${enc(flag.key)}/code-refs`), [flag.key, flag.version]);
  const summary = useResource(() => get<FlagSummary>(`/api/flag-summaries/${enc(flag.key)}`), [flag.key, flag.version]);
  const data = refs.data;
  return (
    <section class="card code-refs" aria-labelledby="code-refs-title">
      <h2 id="code-refs-title">Code references</h2>
      {summary.data && (
        <p data-testid="lifecycle">
          Lifecycle: <LifecycleBadge lifecycle={summary.data.lifecycle} always /> <span class="hint">{LIFECYCLE_HINTS[summary.data.lifecycle]}.</span>
        </p>
      )}
      {refs.error && <Banner kind="error">Could not load the code references: {refs.error.message}</Banner>}
      {!data && !refs.error && <Loading what="code references" />}
      {data && data.total === 0 && (
        <p class="empty" data-testid="no-code-refs">
          {data.removedAt !== null ? (
            <>
              No code references any more: the last one disappeared <span title={absoluteTime(data.removedAt)}>{relativeTime(data.removedAt)}</span>.
            </>
          ) : (
            'No uploaded repository references this flag.'
          )}{' '}
          Scan a repository with <code>switchyard code-refs --upload</code>.
        </p>
      )}
      {data && data.total > 0 && (
        <>
          <p>
            {data.total === 1 ? '1 reference' : `${data.total.toLocaleString('en')} references`}
            {data.items.length < data.total ? ` (the first ${data.items.length} shown)` : ''}.
          </p>
          {byBranch(data.items).map((group) => (
            <div key={group.name}>
              <h3 class="small">
                {group.name}{' '}
                <span class="hint">
                  at <span class="mono">{group.commit.slice(0, 12)}</span>, uploaded <span title={absoluteTime(group.uploadedAt)}>{relativeTime(group.uploadedAt)}</span>
                </span>
              </h3>
              <ul aria-label={`References in ${group.name}`}>
                {group.items.map((item) => (
                  <li key={`${item.path}:${item.line}`}>
                    <span class="mono">
                      {item.path}:{item.line}
                    </span>
                    <code class="snippet small">{item.snippet}</code>
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </>
      )}
    </section>
  );
}
