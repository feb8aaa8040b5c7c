import type { ScheduleAction } from '../api/schedules.js';
import { actionLabel } from '../logic/schedules.js';
import { Link } from '../router.js';

/** What a schedule does, in words; a change request's apply links to the request. */
export function ActionText({ action }: { action: ScheduleAction }) {
  if (action.type === 'change_request') return <Link href={`/change-requests/${action.requestId}`}>{actionLabel(action)}</Link>;
  return <>{actionLabel(action)}</>;
}
