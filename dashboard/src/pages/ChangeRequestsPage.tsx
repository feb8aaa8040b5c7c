import { get } from '../api/client.js';
import type { ChangeRequest } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { EnvironmentOptions } from '../components/EnvironmentOptions.js';
import { approvalProgress, parseStatusFilter, REQUEST_STATUSES, STATUS_LABELS, type StatusFilter } from '../logic/change-requests.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { PolicySettings } from '../requests/PolicySettings.js';
import { Link, setSearchParams, useSearchParams } from '../router.js';
import { useApp, useLive, useResource } from '../state.js';

const FILTERS: readonly StatusFilter[] = [...REQUEST_STATUSES, 'all'];

/** Status as text in a badge (never colour alone). */
export function RequestStatus({ status }: { status: ChangeRequest['status'] }) {
  return (
    <span class={`badge request-${status}`} data-status={status}>
      {STATUS_LABELS[status]}
    </span>
  );
}

/**
 * Change requests, newest first, filtered by status (in the URL: `/change-requests?status=applied`)
 * and environment; below them every environment's approval policy, which admins edit here.
 */
export function ChangeRequestsPage() {
  const { environments } = useApp();
  const [params] = useSearchParams();
  const status = parseStatusFilter(params.get('status'));
  const environment = params.get('environment') ?? '';
  const query = new URLSearchParams({ limit: '100' });
  if (status !== 'all') query.set('status', status);
  if (environment) query.set('environment', environment);
  const url = `/api/change-requests?${query.toString()}`;
  const list = useResource(() => get<{ items: ChangeRequest[] }>(url).then((r) => r.items), [url]);
  // Applying a request changes flags: follow live changes so statuses stay current.
  useLive(() => void list.reload());

  const choose = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setSearchParams(next, { push: true });
  };
  const nameOf = (key: string) => environments.find((e) => e.key === key)?.name ?? key;
  const items = list.data ?? [];
  return (
    <section aria-labelledby="requests-title" class="requests-page">
      <h1 id="requests-title">Change requests</h1>
      <div class="filters request-filters">
        <div class="status-filter" role="group" aria-label="Status">
          {FILTERS.map((s) => (
            <button key={s} type="button" class={s === status ? 'button small active' : 'button small'} aria-pressed={s === status} onClick={() => choose('status', s === 'open' ? '' : s)}>
              {s === 'all' ? 'All' : STATUS_LABELS[s]}
            </button>
          ))}
        </div>
        <div class="field">
          <label for="requests-environment">Environment</label>
          <select id="requests-environment" value={environment} onChange={(e) => choose('environment', e.currentTarget.value)}>
            <EnvironmentOptions environments={environments} />
          </select>
        </div>
      </div>
      {list.error && <Banner kind="error">Could not load change requests: {list.error.message}</Banner>}
      {!list.data && !list.error && <Loading what="change requests" />}
      {list.data && (
        <p class="hint" role="status">
          {items.length === 0
            ? `No ${status === 'all' ? '' : STATUS_LABELS[status].toLowerCase() + ' '}change requests${environment ? ` in ${nameOf(environment)}` : ''}.`
            : `${items.length} ${status === 'all' ? '' : STATUS_LABELS[status].toLowerCase() + ' '}change request${items.length === 1 ? '' : 's'}, newest first.`}
        </p>
      )}
      {items.length > 0 && (
        <div class="flags-table-wrap">
          <table class="flags-table requests-table">
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Environment</th>
                <th scope="col">Status</th>
                <th scope="col">Approvals</th>
                <th scope="col">Author</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id} data-request={r.id}>
                  <td data-label="Request">
                    <Link href={`/change-requests/${r.id}`}>
                      #{r.id} {r.title}
                    </Link>
                  </td>
                  <td data-label="Environment">{nameOf(r.environment)}</td>
                  <td data-label="Status">
                    <RequestStatus status={r.status} />
                  </td>
                  <td data-label="Approvals">{approvalProgress(r)}</td>
                  <td data-label="Author">{r.author}</td>
                  <td data-label="Updated">
                    <time dateTime={r.updatedAt} title={absoluteTime(r.updatedAt)}>
                      {relativeTime(r.updatedAt)}
                    </time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <PolicySettings />
    </section>
  );
}
