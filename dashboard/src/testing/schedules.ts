import type { Schedule } from '../api/schedules.js';

/**
 * A pending schedule as the API returns it, for the schedule logic tests: a move to 50% of
 * `new-checkout` in production on 2026-12-08 09:00 UTC, made by alice, with `over` on top.
 */
export function testSchedule(over: Partial<Schedule> = {}): Schedule {
  return {
    id: 1,
    flag: 'new-checkout',
    environment: 'production',
    at: '2026-12-08T09:00:00.000Z',
    action: { type: 'stage', stage: '50%' },
    message: 'launch',
    onLate: 'run',
    graceSeconds: 300,
    ifChanged: 'fail',
    baseVersion: 3,
    status: 'pending',
    createdAt: '2026-12-01T09:00:00.000Z',
    createdBy: 'alice',
    updatedAt: '2026-12-01T09:00:00.000Z',
    updatedBy: 'alice',
    version: 1,
    executedAt: null,
    lateBySeconds: null,
    outcome: null,
    resultVersion: null,
    auditId: null,
    ...over,
  };
}
