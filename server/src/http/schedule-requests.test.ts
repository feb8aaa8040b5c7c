import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditCount, createFlag, createTestApp, setStage, type FlagBody, type TestContext } from '../testing/test-app.js';

/** Applying an approved change request at a time, on the dialect under test, with a clock the test moves. */

const T0 = Date.UTC(2026, 11, 7, 12, 0);
const HOUR = 3600_000;
const IN_ONE_HOUR = '2026-12-07T13:00Z';

interface ScheduleBody {
  id: number;
  flag: string;
  environment: string;
  action: { type: string; requestId?: number };
  status: string;
  outcome: string | null;
  resultVersion: number | null;
  auditId: number | null;
  createdBy: string;
  ifChanged: string;
}

describe('scheduled apply of a change request', () => {
  let t: TestContext;
  let now = T0;
  let editor2: string;
  beforeEach(async () => {
    now = T0;
    t = await createTestApp({ now: () => now, background: false });
    editor2 = (await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', payload: { name: 'editor2', role: 'editor' } })).json<{ token: string }>().token;
    await createFlag(t, 'new-checkout');
    const policy = await t.request(t.adminToken, { method: 'PUT', url: '/api/environments/production/approval-policy', payload: { required: true } });
    expect(policy.statusCode).toBe(200);
  });
  afterEach(() => t.close());

  const flag = async (key: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>();
  const requestTo = async (stage: string) => {
    const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/change-requests', payload: { title: `to ${stage}`, environment: 'production', changes: [{ type: 'stage', flag: 'new-checkout', stage, baseVersion: (await flag('new-checkout')).version }] } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<{ id: number }>().id;
  };
  const approve = async (id: number) => expect((await t.request(editor2, { method: 'POST', url: `/api/change-requests/${id}/approve` })).statusCode).toBe(200);
  const scheduleIt = (id: number, payload: object = { at: IN_ONE_HOUR }, token = t.tokens.editor) => t.request(token, { method: 'POST', url: `/api/change-requests/${id}/schedule`, payload });
  const read = async (id: number) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/schedules/${id}` })).json<ScheduleBody>();
  const requestStatus = async (id: number) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/change-requests/${id}` })).json<{ status: string; resolvedBy: string | null }>();

  it('applies it once when due, as the scheduler, with who scheduled it in the audit log', async () => {
    const id = await requestTo('50%');
    await approve(id);
    const res = await scheduleIt(id, { at: IN_ONE_HOUR, message: 'launch' });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<ScheduleBody>();
    expect(created).toMatchObject({ flag: 'new-checkout', environment: 'production', action: { type: 'change_request', requestId: id }, status: 'pending', createdBy: 'editor', ifChanged: 'fail' });
    const listed = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/schedules?status=pending&flag=new-checkout' })).json<{ items: ScheduleBody[] }>().items;
    expect(listed.map((s) => s.id)).toEqual([created.id]);

    now = T0 + HOUR - 1000;
    expect(await t.services.scheduler.tick()).toEqual([]);
    now = T0 + HOUR + 1000;
    const outcomes = await t.services.scheduler.tick();
    expect(outcomes.map((o) => o.kind)).toEqual(['executed']);
    expect(await t.services.scheduler.tick()).toEqual([]);

    expect((await flag('new-checkout')).environments.production!.stage).toBe('50%');
    expect(await requestStatus(id)).toMatchObject({ status: 'applied', resolvedBy: 'scheduler' });
    const ran = await read(created.id);
    expect(ran.status).toBe('executed');
    expect(ran.outcome).toContain(`applied change request #${id} "to 50%": 1 change, flag "new-checkout" now at version`);
    expect(ran.resultVersion).toBe((await flag('new-checkout')).version);
    const entries = (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?limit=20' })).json<{ items: { id: number; action: string; actor: string; source: string; message: string }[] }>().items;
    const entry = entries.find((e) => e.id === ran.auditId)!;
    expect(entry).toMatchObject({ action: 'flag.stage_changed', actor: 'scheduler', source: 'scheduler' });
    expect(entry.message).toBe(`change request #${id}: to 50% — scheduled by editor (schedule ${created.id}): launch`);
  });

  it('only an approved request, once, by editors; bad input names the field', async () => {
    const id = await requestTo('50%');
    const open = await scheduleIt(id);
    expect(open.statusCode).toBe(409);
    expect(open.json().error.message).toBe(`change request ${id} is open (it has 0 of the 1 approval it needs): only an approved request can be scheduled`);
    await approve(id);
    expect((await scheduleIt(id, { at: IN_ONE_HOUR }, t.tokens.viewer)).statusCode).toBe(403);
    expect((await scheduleIt(9999)).statusCode).toBe(404);
    const bad = [
      { payload: { at: '2026-12-07T13:00' }, field: 'body.at' },
      { payload: { at: '2026-12-07T11:00Z' }, field: 'body.at' },
      { payload: {}, field: 'at' },
      { payload: { at: IN_ONE_HOUR, ifChanged: 'apply' }, field: 'ifChanged' },
      { payload: { at: IN_ONE_HOUR, onLate: 'later' }, field: 'onLate' },
    ];
    for (const { payload, field } of bad) {
      const res = await scheduleIt(id, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.message, JSON.stringify(payload)).toContain(field);
    }
    const badId = await t.request(t.tokens.editor, { method: 'POST', url: '/api/change-requests/x/schedule', payload: { at: IN_ONE_HOUR } });
    expect(badId.statusCode).toBe(400);
    const first = (await scheduleIt(id)).json<ScheduleBody>();
    const twice = await scheduleIt(id);
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error.message).toContain(`already scheduled (schedule ${first.id}`);
    // Its action stays the request's; its time and message can be edited.
    const retarget = await t.request(t.tokens.editor, { method: 'PATCH', url: `/api/schedules/${first.id}`, payload: { action: { type: 'kill' } } });
    expect(retarget.statusCode).toBe(400);
    expect(retarget.json().error.message).toContain('body.action');
    const force = await t.request(t.tokens.editor, { method: 'PATCH', url: `/api/schedules/${first.id}`, payload: { ifChanged: 'apply' } });
    expect(force.statusCode).toBe(400);
    expect((await t.request(t.tokens.editor, { method: 'PATCH', url: `/api/schedules/${first.id}`, payload: { at: '2026-12-07T15:00Z' } })).statusCode).toBe(200);
  });

  it('fails with the reason, audited, changing nothing, when the request is no longer approved', async () => {
    const id = await requestTo('50%');
    await approve(id);
    const created = (await scheduleIt(id)).json<ScheduleBody>();
    expect((await t.request(t.adminToken, { method: 'POST', url: `/api/change-requests/${id}/reject`, payload: { reason: 'not this week' } })).statusCode).toBe(200);
    const before = await flag('new-checkout');
    now = T0 + HOUR + 1000;
    expect((await t.services.scheduler.tick()).map((o) => o.kind)).toEqual(['failed']);
    const failed = await read(created.id);
    expect(failed.status).toBe('failed');
    expect(failed.outcome).toBe(`failed: change request ${id}: the request is rejected; it cannot be applied`);
    expect((await flag('new-checkout')).version).toBe(before.version);
    const audit = (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?limit=1' })).json<{ items: { action: string; actor: string; message: string }[] }>().items[0];
    expect(audit).toMatchObject({ action: 'schedule.failed', actor: 'scheduler', message: failed.outcome });
  });

  it('fails with a conflict naming the flag when it changed since the request was made', async () => {
    const id = await requestTo('50%');
    await approve(id);
    const created = (await scheduleIt(id)).json<ScheduleBody>();
    // The kill switch works directly, even here: the flag moved since the request was made.
    await setStage(t, 'new-checkout', 'production', 'kill');
    const count = await auditCount(t.db);
    now = T0 + HOUR + 1000;
    expect((await t.services.scheduler.tick()).map((o) => o.kind)).toEqual(['failed']);
    const failed = await read(created.id);
    expect(failed.outcome).toMatch(new RegExp(`^failed: change request ${id}: change request ${id} cannot be applied: flag "new-checkout" \\(version \\d+ → \\d+, last changed by admin\\) changed since it was made; rebase it`));
    expect((await flag('new-checkout')).environments.production!.stage).toBe('kill');
    expect(await requestStatus(id)).toMatchObject({ status: 'approved' });
    // Only the failure was recorded.
    expect(await auditCount(t.db)).toBe(count + 1);
  });
});
