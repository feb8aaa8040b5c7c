import { diffSnapshots } from '../logic/diff.js';

/** Before/after of one audit entry, leaf by leaf; values are rendered as text. */
export function DiffTable({ before, after, scope }: { before: unknown; after: unknown; scope?: string }) {
  const changes = diffSnapshots(before, after, scope);
  if (changes.length === 0) return <p class="hint">No visible difference.</p>;
  return (
    <div class="diff-wrap">
      <table class="diff">
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Before</th>
            <th scope="col">After</th>
          </tr>
        </thead>
        <tbody>
          {changes.map((c) => (
            <tr key={c.path}>
              <th scope="row" class="mono">
                {c.path}
              </th>
              <td class="mono before">{c.before ?? '—'}</td>
              <td class="mono after">{c.after ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
