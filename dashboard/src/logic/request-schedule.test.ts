import { describe, expect, it } from 'vitest';
import type { Schedule } from '../api/schedules.js';
import type { ChangeRequest } from '../api/types.js';
import { testSchedule } from '../testing/schedules.js';
import { applyScheduleBody, approvedForApply, finishedLabel, newApplyForm, requestScheduleFlag, requestScheduleQuery, requestSchedules, scheduleApplyControl } from './request-schedule.js';
import { schedulePatch, scheduleToForm } from './schedules.js';

/** A schedule of request #7's apply. */
const schedule = (over: Partial<Schedule> = {}): Schedule => testSchedule({ action: { type: 'change_request', requestId: 7 }, message: null, ...over });

const policy = { required: true, approvals: 1, approverRoles: ['editor', 'admin'], adminBypass: false };
const request = (over: Partial<ChangeRequest> = {}): Pick<ChangeRequest, 'status' | 'policy' | 'approvalsNeeded' | 'approvalsCounted' | 'changes' | 'environment'> => ({
  status: 'approved',
  policy,
  approvalsNeeded: 1,
  approvalsCounted: 1,
  environment: 'production',
  changes: [{ type: 'stage', flag: 'new-checkout', stage: '50%', baseVersion: 3, diff: [] }],
  ...over,
});

describe('who may schedule a request’s apply', () => {
  const cases = [
    { name: 'an editor, approved', r: request(), role: 'editor', expected: { show: true } },
    { name: 'an admin, approved', r: request(), role: 'admin', expected: { show: true } },
    { name: 'a viewer: hidden', r: request(), role: 'viewer', expected: { show: false } },
    { name: 'open, no policy: usable (apply needs nothing)', r: request({ status: 'open', policy: { ...policy, required: false }, approvalsNeeded: 0, approvalsCounted: 0 }), role: 'editor', expected: { show: true } },
    {
      name: 'open, waiting for approvals: shown, disabled with why',
      r: request({ status: 'open', approvalsNeeded: 2, approvalsCounted: 1 }),
      role: 'editor',
      expected: { show: true, disabledReason: 'Only an approved request can be scheduled: it needs 1 more approval (1 of 2).' },
    },
    { name: 'applied: hidden', r: request({ status: 'applied' }), role: 'editor', expected: { show: false } },
    { name: 'rejected: hidden', r: request({ status: 'rejected' }), role: 'admin', expected: { show: false } },
    { name: 'withdrawn: hidden', r: request({ status: 'withdrawn' }), role: 'admin', expected: { show: false } },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      expect(scheduleApplyControl(c.r, { role: c.role }, undefined)).toEqual(c.expected);
    });
  }

  it('hides the button once one is pending (only one at a time)', () => {
    expect(scheduleApplyControl(request(), { role: 'editor' }, schedule())).toEqual({ show: false });
  });

  it('knows an open request with its approvals as approved, and a rebased one (approvals reset) as not', () => {
    expect(approvedForApply(request({ status: 'open', approvalsNeeded: 1, approvalsCounted: 1 }))).toBe(true);
    expect(approvedForApply(request({ status: 'open', approvalsNeeded: 1, approvalsCounted: 0 }))).toBe(false);
    expect(approvedForApply(request({ status: 'applied' }))).toBe(false);
  });
});

describe('finding a request’s schedules', () => {
  it('files them under the first flag change, or none when only segments change', () => {
    expect(requestScheduleFlag(request())).toBe('new-checkout');
    expect(requestScheduleFlag(request({ changes: [{ type: 'segment', segment: 'beta', baseVersion: 1, diff: [] }, { type: 'targeting', flag: 'x', environment: 'production', baseVersion: 2, diff: [] }] }))).toBe('x');
    expect(requestScheduleFlag(request({ changes: [{ type: 'segment', segment: 'beta', baseVersion: 1, diff: [] }] }))).toBe('');
    expect(requestScheduleQuery(request(), ['pending'])).toEqual({ environment: 'production', flag: 'new-checkout', status: ['pending'], limit: 500 });
    expect(requestScheduleQuery(request({ changes: [] }), ['executed'])).toEqual({ environment: 'production', status: ['executed'], limit: 500 });
  });

  it('keeps only this request’s: its pending one and the finished ones, latest first', () => {
    const items = [
      schedule({ id: 1, status: 'executed', executedAt: '2026-12-02T09:00:00.000Z' }),
      schedule({ id: 2, action: { type: 'stage', stage: '50%' } }),
      schedule({ id: 3, action: { type: 'change_request', requestId: 8 } }),
      schedule({ id: 4 }),
      schedule({ id: 5, status: 'cancelled', at: '2026-12-03T09:00:00.000Z' }),
      schedule({ id: 6, status: 'failed', executedAt: '2026-12-01T10:00:00.000Z' }),
    ];
    const found = requestSchedules(items, 7);
    expect(found.pending?.id).toBe(4);
    expect(found.finished.map((s) => s.id)).toEqual([5, 1, 6]);
    expect(requestSchedules(items, 9)).toEqual({ pending: undefined, finished: [] });
  });

  it('counts one that ran between the two reads as finished, not also as pending', () => {
    const found = requestSchedules([schedule({ id: 4, status: 'running' }), schedule({ id: 4, status: 'executed', executedAt: '2026-12-02T09:00:00.000Z' })], 7);
    expect(found.pending).toBeUndefined();
    expect(found.finished.map((s) => [s.id, s.status])).toEqual([[4, 'executed']]);
  });
});

describe('the apply schedule form', () => {
  const now = Date.UTC(2026, 11, 8, 8, 55);

  it('starts at the first full hour at least 10 minutes away, in the viewer’s zone, applying the request', () => {
    const form = newApplyForm(now, 'Europe/Berlin', 7);
    expect(form).toMatchObject({ when: '2026-12-08T11:00', onLate: 'run', message: '', fixed: { type: 'change_request', requestId: 7 } });
  });

  it('sends the time as UTC, the late policy and a trimmed message, not the action', () => {
    const form = { ...newApplyForm(now, 'America/New_York', 7), when: '2026-12-08T04:00', onLate: 'skip' as const, message: '  launch ' };
    expect(applyScheduleBody(form, 'America/New_York')).toMatchObject({ ok: true, body: { at: '2026-12-08T09:00:00.000Z', onLate: 'skip', message: 'launch' } });
    const plain = applyScheduleBody({ ...form, message: ' ' }, 'America/New_York');
    expect(plain.ok && plain.body).toEqual({ at: '2026-12-08T09:00:00.000Z', onLate: 'skip' });
  });

  it('refuses a time that does not exist in the zone, naming the field', () => {
    const result = applyScheduleBody({ ...newApplyForm(now, 'Europe/Berlin', 7), when: '2026-03-29T02:30' }, 'Europe/Berlin');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.get('at')).toMatch(/does not exist in Europe\/Berlin/);
    const empty = applyScheduleBody({ ...newApplyForm(now, 'UTC', 7), when: '' }, 'UTC');
    expect(!empty.ok && empty.errors.get('at')).toBe('Enter a date and time');
  });

  it('an edit of the time sends only the new time (the action stays the request’s)', () => {
    const original = schedule({ at: '2026-12-08T09:00:00.000Z', version: 2 });
    const form = { ...scheduleToForm(original, 'Europe/Berlin'), when: '2026-12-08T10:30' };
    const built = applyScheduleBody(form, 'Europe/Berlin');
    expect(built.ok).toBe(true);
    if (built.ok) expect(schedulePatch(original, built.request)).toEqual({ version: 2, at: '2026-12-08T09:30:00.000Z' });
  });
});

describe('what happened to a scheduled apply', () => {
  it('says it in words, with the server’s outcome', () => {
    expect(finishedLabel({ status: 'executed', outcome: 'applied change request 7', updatedBy: 'alice' })).toBe('Ran: applied change request 7');
    expect(finishedLabel({ status: 'failed', outcome: 'change request 7 is open', updatedBy: 'alice' })).toBe('Failed: change request 7 is open');
    expect(finishedLabel({ status: 'skipped', outcome: null, updatedBy: 'alice' })).toBe('Skipped');
    expect(finishedLabel({ status: 'cancelled', outcome: null, updatedBy: 'bob' })).toBe('Cancelled by bob');
  });
});
