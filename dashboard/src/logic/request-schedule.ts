import type { Schedule, ScheduleQuery, ScheduleRequest, ScheduleStatus } from '../api/schedules.js';
import type { ChangeRequest, Role } from '../api/types.js';
import type { Control } from './change-requests.js';
import { isPending } from './change-requests.js';
import { latestFirst, newScheduleForm, scheduleRequest, soonestFirst, type ScheduleField, type ScheduleFormState } from './schedules.js';

/**
 * Scheduling the apply of an approved change request (POST /api/change-requests/{id}/schedule), as
 * pure functions: who may, what the form sends, and which of the schedules listed are this request's.
 * The server decides (only an approved request, once at a time); these mirror it so the button is
 * not offered only to be refused.
 */

const hidden: Control = { show: false };

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

type Approvable = Pick<ChangeRequest, 'status' | 'policy' | 'approvalsNeeded' | 'approvalsCounted'>;

/** Whether the server would schedule (and apply) it now: approved, or open where no approvals are needed. */
export function approvedForApply(request: Approvable): boolean {
  if (request.status === 'approved') return true;
  return request.status === 'open' && (!request.policy.required || request.approvalsCounted >= request.approvalsNeeded);
}

/**
 * "Schedule apply…" for `me` on `request`: editors and admins, on a request still to be applied;
 * usable once it is approved (or needs no approval) and not already scheduled.
 */
export function scheduleApplyControl(request: Approvable, me: { role: Role }, pending: Pick<Schedule, 'id'> | undefined): Control {
  if (me.role === 'viewer' || !isPending(request.status) || pending) return hidden;
  if (approvedForApply(request)) return { show: true };
  const missing = request.approvalsNeeded - request.approvalsCounted;
  return { show: true, disabledReason: `Only an approved request can be scheduled: it needs ${plural(missing, 'more approval')} (${request.approvalsCounted} of ${request.approvalsNeeded}).` };
}

/** The flag the server files a request's schedule under: its first flag change ('' when it only edits segments). */
export function requestScheduleFlag(request: Pick<ChangeRequest, 'changes'>): string {
  return request.changes.find((c) => c.type !== 'segment' && c.flag)?.flag ?? '';
}

/** The list query that finds a request's schedules (with `statuses`): its environment, and its flag when it has one. */
export function requestScheduleQuery(request: Pick<ChangeRequest, 'changes' | 'environment'>, statuses: readonly ScheduleStatus[]): ScheduleQuery {
  const flag = requestScheduleFlag(request);
  return { environment: request.environment, ...(flag ? { flag } : {}), status: statuses, limit: 500 };
}

const isFor = (requestId: number) => (s: Schedule) => s.action.type === 'change_request' && s.action.requestId === requestId;

/** Of the schedules listed, this request's: the pending one (at most one, the server sees to it) and the finished ones, latest first. */
export function requestSchedules(items: readonly Schedule[], requestId: number, recent = 5): { pending: Schedule | undefined; finished: Schedule[] } {
  const mine = items.filter(isFor(requestId));
  // The pending and the finished ones come from two reads: one that ran between them is in both, and it has finished.
  const done = new Set(mine.filter((s) => s.status !== 'pending' && s.status !== 'running').map((s) => s.id));
  return {
    pending: soonestFirst(mine.filter((s) => (s.status === 'pending' || s.status === 'running') && !done.has(s.id)))[0],
    finished: latestFirst(
      mine.filter((s) => s.status === 'executed' || s.status === 'failed' || s.status === 'skipped' || s.status === 'cancelled'),
      recent,
    ),
  };
}

/** A new form for request `requestId`: its apply, at the first full hour at least 10 minutes away, run when late. */
export function newApplyForm(now: number, timeZone: string, requestId: number): ScheduleFormState {
  return { ...newScheduleForm(now, timeZone, 'off'), fixed: { type: 'change_request', requestId } };
}

export interface ApplyScheduleBody {
  at: string;
  onLate: 'run' | 'skip';
  message?: string;
}

export type ApplyScheduleResult = { ok: true; body: ApplyScheduleBody; /** The same as a schedule request (for an edit's patch). */ request: ScheduleRequest; note?: string } | { ok: false; errors: Map<ScheduleField, string> };

/**
 * What POST …/change-requests/{id}/schedule is sent for the form (the time typed in `timeZone`, as
 * UTC; the action is the request's, so not sent), or what is wrong with the time.
 */
export function applyScheduleBody(form: ScheduleFormState, timeZone: string): ApplyScheduleResult {
  const built = scheduleRequest(form, timeZone);
  if (!built.ok) return built;
  const { at, onLate = 'run', message } = built.request;
  return { ok: true, body: { at, onLate, ...(message ? { message } : {}) }, request: built.request, ...(built.note ? { note: built.note } : {}) };
}

/** A finished schedule of the request, in words: "Ran: applied …", "Failed: …", "Cancelled by bob". */
export function finishedLabel(schedule: Pick<Schedule, 'status' | 'outcome' | 'updatedBy'>): string {
  switch (schedule.status) {
    case 'executed':
      return `Ran${schedule.outcome ? `: ${schedule.outcome}` : ''}`;
    case 'failed':
      return `Failed${schedule.outcome ? `: ${schedule.outcome}` : ''}`;
    case 'skipped':
      return `Skipped${schedule.outcome ? `: ${schedule.outcome}` : ''}`;
    case 'cancelled':
      return `Cancelled by ${schedule.updatedBy}`;
    default:
      return schedule.status;
  }
}
