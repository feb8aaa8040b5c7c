import { enc, get } from '../api/client.js';
import type { ChangeRequest } from '../api/types.js';
import { approvalProgress } from '../logic/change-requests.js';
import { Link } from '../router.js';
import { useResource } from '../state.js';

/**
 * The change requests waiting to change this flag in this environment (open or approved), so
 * nobody opens a second one for the same move without seeing the first. `tick` reloads them.
 */
export function OpenRequests({ flagKey, environment, tick }: { flagKey: string; environment: string; tick: unknown }) {
  const url = `/api/change-requests?flag=${enc(flagKey)}&environment=${enc(environment)}&status=open,approved`;
  const requests = useResource(() => get<{ items: ChangeRequest[] }>(url).then((r) => r.items), [url, tick]);
  const items = requests.data ?? [];
  if (items.length === 0) return null;
  return (
    <div class="open-requests" role="note" aria-label="Pending change requests">
      <span>Waiting for review here:</span>
      <ul>
        {items.map((r) => (
          <li key={r.id}>
            <Link href={`/change-requests/${r.id}`}>
              #{r.id} {r.title}
            </Link>{' '}
            <span class="hint">
              ({r.status === 'approved' ? 'approved, not applied yet' : approvalProgress(r)}, by {r.author})
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}
