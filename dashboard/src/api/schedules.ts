import { enc, get } from './client.js';

/**
 * Scheduled changes (server/src/http/schedules.routes.ts): a stage move or a kill at a time, or the
 * apply of an approved change request (scheduled from the request, POST …/change-requests/{id}/schedule).
 */
export type ScheduleAction = { type: 'stage'; stage: string; variation?: string } | { type: 'kill' } | { type: 'change_request'; requestId: number };
export type ScheduleStatus = 'pending' | 'running' | 'executed' | 'skipped' | 'failed' | 'cancelled';
export type LatePolicy = 'run' | 'skip';

export interface Schedule {
  id: number;
  /** The flag it changes; a change request's: the request's first flag, '' when it touches only segments. */
  flag: string;
  environment: string;
  /** When it is due, ISO-8601 UTC. */
  at: string;
  action: ScheduleAction;
  message: string | null;
  onLate: LatePolicy;
  graceSeconds: number;
  ifChanged: 'fail' | 'apply';
  baseVersion: number;
  status: ScheduleStatus;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
  version: number;
  /** When it ran, was skipped or failed. */
  executedAt: string | null;
  lateBySeconds: number | null;
  /** What it did, or why it failed or was skipped. */
  outcome: string | null;
  resultVersion: number | null;
  auditId: number | null;
}

/** What POST …/schedules takes (PATCH takes any of it, plus `version`). */
export interface ScheduleRequest {
  at: string;
  action: ScheduleAction;
  message?: string | null;
  onLate?: LatePolicy;
}

export interface ScheduleQuery {
  flag?: string;
  environment?: string;
  status?: readonly ScheduleStatus[];
  limit?: number;
}

export const listSchedules = (query: ScheduleQuery): Promise<Schedule[]> => {
  const params = new URLSearchParams();
  if (query.flag) params.set('flag', query.flag);
  if (query.environment) params.set('environment', query.environment);
  if (query.status) params.set('status', query.status.join(','));
  if (query.limit) params.set('limit', String(query.limit));
  return get<{ items: Schedule[] }>(`/api/schedules?${params.toString()}`).then((r) => r.items);
};

export const schedulesPath = (flag: string, environment: string) => `/api/flags/${enc(flag)}/environments/${enc(environment)}/schedules`;
export const schedulePath = (id: number) => `/api/schedules/${id}`;
