import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DashboardEvent } from '../services/dashboard-events.js';
import { dumpTables } from '../testing/databases.js';
import { auditCount, createFlag, createTestApp, setStage, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

/** The scheduled-changes API, on the dialect under test, with a clock the test moves. */

const T0 = Date.UTC(2026, 11, 7, 12, 0);
const HOUR = 3600_000;

interface ScheduleBody {
  id: number;
  flag: string;
  environment: string;
  at: string;
  action: { type: string; stage?: string };
  message: string | null;
  onLate: string;
  graceSeconds: number;
  ifChanged: string;
  baseVersion: number;
  status: string;
  createdBy: string;
  updatedBy: string;
  version: number;
  executedAt: string | null;
  lateBySeconds: number | null;
  outcome: string | null;
  resultVersion: number | null;
  auditId: number | null;
}

describe('scheduled changes API', () => {
  let t: TestContext;
  let now = T0;
  beforeEach(async () => {
    now = T0;
    t = await createTestApp({ now: () => now, background: false });
  });
  afterEach(() => t.close());

  const schedulesUrl = (flag: string, env = 'production') => `/api/flags/${flag}/environments/${env}/schedules`;
  const schedule = (token: string, flag: string, payload: unknown, env = 'production') => t.request(token, { method: 'POST', url: schedulesUrl(flag, env), payload: payload as object });
  const list = async (query = '') => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/schedules${query}` })).json<{ items: ScheduleBody[] }>().items;
  const inOneHour = '2026-12-07T14:00+01:00';

  it('schedules a stage move in UTC, lists it, runs it when due, and emits what a manual change emits', async () => {
    await createFlag(t, 'new-checkout');
    const hook = await t.request(t.adminToken, { method: 'POST', url: '/api/webhooks', payload: { url: 'http://127.0.0.1:9/hook', events: ['flag.stage_changed'] } });
    expect(hook.statusCode).toBe(201);
    const res = await schedule(t.tokens.editor, 'new-checkout', { at: inOneHour, action: { type: 'stage', stage: '50%' }, message: 'launch' });
    expect(res.statusCode).toBe(201);
    const created = res.json<ScheduleBody>();
    expect(created).toMatchObject({ flag: 'new-checkout', environment: 'production', at: '2026-12-07T13:00:00.000Z', action: { type: 'stage', stage: '50%' }, message: 'launch', status: 'pending', createdBy: 'editor', onLate: 'run', graceSeconds: 300, ifChanged: 'fail', baseVersion: 1, version: 1 });
    expect(res.headers.etag).toBe('"1"');

    expect((await list('?status=pending')).map((s) => s.id)).toEqual([created.id]);
    expect((await list('?flag=new-checkout&environment=production')).map((s) => s.id)).toEqual([created.id]);
    expect(await list('?environment=staging')).toEqual([]);
    expect(await list('?flag=other')).toEqual([]);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: `/api/schedules/${created.id}` })).json<ScheduleBody>()).toEqual(created);

    const events: DashboardEvent[] = [];
    t.services.dashboard.subscribe((e) => events.push(e));
    now = T0 + HOUR + 2000;
    await t.services.scheduler.tick();

    const flag = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/new-checkout' })).json<FlagBody>();
    expect(flag.environments.production!.stage).toBe('50%');
    expect(flag.updatedBy).toBe('scheduler');
    const ran = (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/schedules/${created.id}` })).json<ScheduleBody>();
    expect(ran).toMatchObject({ status: 'executed', executedAt: '2026-12-07T13:00:02.000Z', resultVersion: flag.version, lateBySeconds: null });
    expect(await list('?status=pending')).toEqual([]);
    expect((await list('?status=executed,failed')).map((s) => s.id)).toEqual([created.id]);

    const history = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/audit?resourceType=flag&resourceKey=new-checkout' })).json<{ items: { id: number; actor: string; source: string; message: string; action: string }[] }>().items;
    const audit = history.find((e) => e.id === ran.auditId);
    expect(audit).toMatchObject({ actor: 'scheduler', source: 'scheduler', action: 'flag.stage_changed', message: `scheduled by editor (schedule ${created.id}): launch` });
    const deliveries = (await dumpTables(t.db, ['webhook_deliveries'])).webhook_deliveries!;
    expect(deliveries).toHaveLength(1);
    expect(JSON.parse(String(deliveries[0]!.payload))).toMatchObject({ event: 'flag.stage_changed', data: { flag: 'new-checkout', environment: 'production', stage: '50%', actor: 'scheduler', source: 'scheduler' } });
    await expect.poll(() => events).toContainEqual({ type: 'flag', key: 'new-checkout', environment: 'production', version: flag.version, actor: 'scheduler' });
  });

  it('audits creation, edits and cancellation; refuses to edit or cancel what is no longer pending', async () => {
    await createFlag(t, 'edited');
    const created = (await schedule(t.tokens.editor, 'edited', { at: inOneHour, action: { type: 'kill' } })).json<ScheduleBody>();
    const edit = await t.request(t.tokens.editor, { method: 'PATCH', url: `/api/schedules/${created.id}`, payload: { version: 1, at: '2026-12-08T09:00Z', action: { type: 'stage', stage: '25%' }, message: 'moved to Tuesday', onLate: 'skip' } });
    expect(edit.statusCode).toBe(200);
    expect(edit.json<ScheduleBody>()).toMatchObject({ at: '2026-12-08T09:00:00.000Z', action: { type: 'stage', stage: '25%' }, message: 'moved to Tuesday', onLate: 'skip', version: 2, updatedBy: 'editor', status: 'pending' });

    const stale = await t.request(t.tokens.editor, { method: 'PATCH', url: `/api/schedules/${created.id}`, payload: { version: 1, message: 'stale' } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json<ErrorBody>().error.code).toBe('version_conflict');

    const cancel = await t.request(t.tokens.editor, { method: 'DELETE', url: `/api/schedules/${created.id}`, payload: { message: 'not this week' } });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json<ScheduleBody>().status).toBe('cancelled');
    for (const request of [
      { method: 'PATCH' as const, url: `/api/schedules/${created.id}`, payload: { message: 'too late' } },
      { method: 'DELETE' as const, url: `/api/schedules/${created.id}` },
    ]) {
      const res = await t.request(t.tokens.editor, request);
      expect(res.statusCode).toBe(409);
      expect(res.json<ErrorBody>().error.message).toBe(`schedule ${created.id} is cancelled: only a pending schedule can be ${request.method === 'PATCH' ? 'edited' : 'cancelled'}`);
    }

    const entries = (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/audit?resourceType=schedule&resourceKey=${created.id}` })).json<{ items: { action: string; actor: string; message: string | null; summary: string }[] }>().items;
    expect(entries.map((e) => [e.action, e.actor, e.message, e.summary]).reverse()).toEqual([
      ['schedule.created', 'editor', null, 'scheduled kill of "edited" in Production for 2026-12-07 13:00 UTC'],
      ['schedule.updated', 'editor', null, 'edited the scheduled 25% of "edited" in Production for 2026-12-08 09:00 UTC'],
      ['schedule.cancelled', 'editor', 'not this week', 'cancelled the scheduled 25% of "edited" in Production for 2026-12-08 09:00 UTC'],
    ]);
    now = T0 + 3 * 24 * HOUR;
    expect(await t.services.scheduler.tick()).toEqual([]);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/edited' })).json<FlagBody>().environments.production!.stage).toBe('off');
  });

  it('lets viewers list but not schedule, edit or cancel', async () => {
    await createFlag(t, 'guarded');
    const id = (await schedule(t.tokens.editor, 'guarded', { at: inOneHour, action: { type: 'kill' } })).json<ScheduleBody>().id;
    expect((await schedule(t.tokens.viewer, 'guarded', { at: inOneHour, action: { type: 'kill' } })).statusCode).toBe(403);
    expect((await t.request(t.tokens.viewer, { method: 'PATCH', url: `/api/schedules/${id}`, payload: { message: 'x' } })).statusCode).toBe(403);
    expect((await t.request(t.tokens.viewer, { method: 'DELETE', url: `/api/schedules/${id}` })).statusCode).toBe(403);
    expect((await t.request(null, { method: 'GET', url: '/api/schedules' })).statusCode).toBe(401);
    expect(await list()).toHaveLength(1);
  });

  it('refuses to schedule a move of a Git-managed flag with the manual change\'s message, but schedules its kill', async () => {
    await createFlag(t, 'from-git');
    await t.db.transaction((tx) => t.db.repos.flags.setManaged(tx, 'flags.yaml', ['from-git']));
    const manual = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/from-git/environments/production/stage', payload: { stage: '50%', version: 1 } });
    const scheduled = await schedule(t.tokens.editor, 'from-git', { at: inOneHour, action: { type: 'stage', stage: '50%' } });
    expect(scheduled.statusCode).toBe(423);
    expect(scheduled.json<ErrorBody>().error).toEqual(manual.json<ErrorBody>().error);
    expect((await schedule(t.tokens.editor, 'from-git', { at: inOneHour, action: { type: 'kill' } })).statusCode).toBe(201);
    expect((await schedule(t.tokens.editor, 'from-git', { at: inOneHour, action: { type: 'stage', stage: 'kill' } })).json<ScheduleBody>().action).toEqual({ type: 'kill' });
  });

  it('answers bad input with a clear 400 (or 404), never a 500, and writes nothing', async () => {
    await createFlag(t, 'strict');
    await setStage(t, 'strict', 'production', '10%');
    const before = await auditCount(t.db);
    const cases: { name: string; flag?: string; env?: string; payload: unknown; status: number; message: RegExp }[] = [
      { name: 'no zone', payload: { at: '2026-12-08T09:00', action: { type: 'kill' } }, status: 400, message: /body\.at: "2026-12-08T09:00" is not an ISO-8601 time with a zone/ },
      { name: 'unparsable', payload: { at: 'tomorrow 9am', action: { type: 'kill' } }, status: 400, message: /body\.at: "tomorrow 9am" is not an ISO-8601 time/ },
      { name: 'impossible date', payload: { at: '2026-02-30T09:00Z', action: { type: 'kill' } }, status: 400, message: /not a valid date and time/ },
      { name: 'past', payload: { at: '2026-12-07T11:59Z', action: { type: 'kill' } }, status: 400, message: /body\.at: 2026-12-07T11:59:00\.000Z is in the past \(the server's time is 2026-12-07T12:00:00\.000Z\)/ },
      { name: 'unknown stage', payload: { at: inOneHour, action: { type: 'stage', stage: '150%' } }, status: 400, message: /body\.action\.stage: unknown stage "150%"/ },
      { name: 'unknown variation', payload: { at: inOneHour, action: { type: 'stage', stage: '50%', variation: 'purple' } }, status: 400, message: /unknown variation "purple"/ },
      { name: 'unknown action', payload: { at: inOneHour, action: { type: 'explode' } }, status: 400, message: /action/ },
      { name: 'no action', payload: { at: inOneHour }, status: 400, message: /action/ },
      { name: 'unknown late policy', payload: { at: inOneHour, action: { type: 'kill' }, onLate: 'panic' }, status: 400, message: /onLate/ },
      { name: 'negative grace', payload: { at: inOneHour, action: { type: 'kill' }, graceSeconds: -1 }, status: 400, message: /graceSeconds/ },
      { name: 'extra field', payload: { at: inOneHour, action: { type: 'kill' }, when: 'now' }, status: 400, message: /when/ },
      { name: 'unknown flag', flag: 'missing', payload: { at: inOneHour, action: { type: 'kill' } }, status: 404, message: /flag "missing" not found/ },
      { name: 'unknown environment', env: 'moon', payload: { at: inOneHour, action: { type: 'kill' } }, status: 404, message: /environment "moon" not found/ },
    ];
    for (const c of cases) {
      const res = await schedule(t.tokens.editor, c.flag ?? 'strict', c.payload, c.env);
      expect({ name: c.name, status: res.statusCode }).toEqual({ name: c.name, status: c.status });
      expect(res.json<ErrorBody>().error.message, c.name).toMatch(c.message);
    }
    const id = (await schedule(t.tokens.editor, 'strict', { at: inOneHour, action: { type: 'kill' } })).json<ScheduleBody>().id;
    const after = await auditCount(t.db);
    expect(after).toBe(before + 1);
    const edits: { name: string; url?: string; method?: 'PATCH' | 'GET'; payload?: unknown; status: number; message: RegExp }[] = [
      { name: 'empty edit', payload: {}, status: 400, message: /nothing to change/ },
      { name: 'edit into the past', payload: { at: '2020-01-01T00:00Z' }, status: 400, message: /is in the past/ },
      { name: 'edit to a bad stage', payload: { action: { type: 'stage', stage: 'soon' } }, status: 400, message: /unknown stage "soon"/ },
      { name: 'unknown schedule', url: '/api/schedules/999999', payload: { message: 'x' }, status: 404, message: /schedule "999999" not found/ },
      { name: 'id out of range', url: '/api/schedules/99999999999', payload: { message: 'x' }, status: 400, message: /id/ },
      { name: 'unknown status filter', url: '/api/schedules?status=pending,done', method: 'GET', status: 400, message: /unknown status "done"/ },
    ];
    for (const e of edits) {
      const res = await t.request(t.tokens.editor, { method: e.method ?? 'PATCH', url: e.url ?? `/api/schedules/${id}`, ...(e.payload === undefined ? {} : { payload: e.payload as object }) });
      expect({ name: e.name, status: res.statusCode }).toEqual({ name: e.name, status: e.status });
      expect(res.json<ErrorBody>().error.message, e.name).toMatch(e.message);
    }
    expect(await auditCount(t.db)).toBe(after);
  });

  it('shows a run that failed on a conflicting edit, with its reason', async () => {
    await createFlag(t, 'conflicted');
    const id = (await schedule(t.tokens.editor, 'conflicted', { at: inOneHour, action: { type: 'stage', stage: '50%' } })).json<ScheduleBody>().id;
    await setStage(t, 'conflicted', 'production', '10%');
    now = T0 + HOUR;
    await t.services.scheduler.tick();
    const failed = (await list('?status=failed'))[0]!;
    expect(failed).toMatchObject({ id, status: 'failed', executedAt: '2026-12-07T13:00:00.000Z', resultVersion: null, auditId: null });
    expect(failed.outcome).toMatch(/^failed: conflict: flag "conflicted" changed in production since this was scheduled at version 1 \(last by admin at .*\) — on, dogfoodRule, defaultServe differ|^failed: conflict: flag "conflicted" changed in production since this was scheduled at version 1/);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/conflicted' })).json<FlagBody>().environments.production!.stage).toBe('10%');
  });

  it('where changes need approval: a scheduled stage move is refused (a kill is not), and one scheduled before the policy fails instead of bypassing it', async () => {
    await createFlag(t, 'governed');
    const early = (await schedule(t.tokens.editor, 'governed', { at: inOneHour, action: { type: 'stage', stage: '50%' } })).json<ScheduleBody>();
    const policy = await t.request(t.adminToken, { method: 'PUT', url: '/api/environments/production/approval-policy', payload: { required: true, approvals: 1, approverRoles: ['editor', 'admin'], adminBypass: false } });
    expect(policy.statusCode).toBe(200);

    const refused = await schedule(t.tokens.editor, 'governed', { at: inOneHour, action: { type: 'stage', stage: '100%' } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<ErrorBody>().error.code).toBe('approval_required');
    expect((await schedule(t.tokens.editor, 'governed', { at: '2026-12-07T15:00+01:00', action: { type: 'kill' } })).statusCode).toBe(201);
    const edited = await t.request(t.tokens.editor, { method: 'PATCH', url: `/api/schedules/${early.id}`, payload: { action: { type: 'stage', stage: '100%' } } });
    expect(edited.statusCode).toBe(409);

    now = T0 + HOUR;
    await t.services.scheduler.tick();
    const ran = (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/schedules/${early.id}` })).json<ScheduleBody>();
    expect(ran.status).toBe('failed');
    expect(ran.outcome).toMatch(/approval/i);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/governed' })).json<FlagBody>().environments.production!.stage).toBe('off');
  });
});
