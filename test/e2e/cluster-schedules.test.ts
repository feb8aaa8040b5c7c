import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '../../server/src/testing/postgres.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Scheduled changes on three replicas sharing one PostgreSQL: the leader's scheduler runs a due
 * change; when the leader dies (kill -9) before it is due, another replica becomes leader and runs
 * it — exactly once — and the killed replica restarting does not run it again.
 */

const readyz = async (replica: ServerProcess) => (await fetch(`${replica.url}/readyz`)).json() as Promise<{ status: string; leader: boolean }>;

async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!ok(value)) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

interface ScheduleBody {
  id: number;
  status: string;
  outcome: string | null;
  auditId: number | null;
}

interface AuditPage {
  items: { id: number; action: string; actor: string; source: string; resourceKey: string; message: string | null }[];
}

describe('scheduled changes across a replica kill', () => {
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  const replicas: ServerProcess[] = [];

  beforeAll(async () => {
    schema = await createTestSchema('cluster_schedules');
    const started = await Promise.all(
      Array.from({ length: 3 }, () => startServerProcess({ env: { SWITCHYARD_DATABASE_URL: schema.url, LOG_LEVEL: 'warn' }, args: ['--heartbeat-ms', '500'], timeoutMs: 120_000 })),
    );
    replicas.push(...started);
  }, 180_000);

  afterAll(async () => {
    for (const replica of replicas) {
      await replica.stop();
      removeDataDir(replica.dataDir);
    }
    await schema?.drop();
  });

  it('kill -9 of the leader before a change is due: another replica runs it, exactly once; a restart does not run it again', async () => {
    const leaders = await eventually('one leader', () => Promise.all(replicas.map(readyz)), (rs) => rs.filter((r) => r.leader).length === 1, 15_000);
    const leaderIndex = leaders.findIndex((r) => r.leader);
    const followers = replicas.filter((_, i) => i !== leaderIndex);
    const call = api(followers[0]!.url, followers[0]!.adminToken);

    expect((await call('POST', '/api/flags', { key: 'launch' })).status).toBe(201);
    // (A request is made against a flag's version: the stage move of "launch" would be a conflict for it.)
    expect((await call('POST', '/api/flags', { key: 'banner' })).status).toBe(201);
    // A stage move and a change request, both due in a few seconds (the scheduler looks every 2 s).
    const due = new Date(Date.now() + 5000).toISOString();
    const moved = await call<ScheduleBody>('POST', '/api/flags/launch/environments/production/schedules', { at: due, action: { type: 'stage', stage: '50%' }, message: 'launch' });
    expect(moved.status).toBe(201);
    const flag = await call<{ version: number }>('GET', '/api/flags/banner');
    const request = await call<{ id: number }>('POST', '/api/change-requests', {
      title: 'staging to 100%',
      environment: 'staging',
      changes: [{ type: 'stage', flag: 'banner', stage: '100%', baseVersion: flag.body.version }],
    });
    expect(request.status).toBe(201);
    const applied = await call<ScheduleBody>('POST', `/api/change-requests/${request.body.id}/schedule`, { at: due });
    expect(applied.status).toBe(201);

    await replicas[leaderIndex]!.kill();
    await eventually('a new leader', () => Promise.all(followers.map(readyz)), (rs) => rs.filter((r) => r.leader).length === 1, 20_000);
    const schedule = (id: number) => call<ScheduleBody>('GET', `/api/schedules/${id}`).then((r) => r.body);
    const ran = await eventually('the stage move ran', () => schedule(moved.body.id), (s) => s.status !== 'pending', 30_000);
    expect(ran.status, ran.outcome ?? '').toBe('executed');
    const ranRequest = await eventually('the change request was applied', () => schedule(applied.body.id), (s) => s.status !== 'pending', 30_000);
    expect(ranRequest.status, ranRequest.outcome ?? '').toBe('executed');

    const check = async () => {
      for (const key of ['launch', 'banner']) {
        const flagAudit = (await call<AuditPage>('GET', `/api/flags/${key}/audit?limit=100`)).body.items;
        expect(flagAudit.filter((e) => e.actor === 'scheduler').map((e) => e.action), key).toEqual(['flag.stage_changed']);
      }
      const scheduleAudit = (await call<AuditPage>('GET', '/api/audit?resourceType=schedule&limit=100')).body.items;
      const executed = scheduleAudit.filter((e) => e.action === 'schedule.executed').map((e) => e.resourceKey).sort();
      expect(executed).toEqual([String(moved.body.id), String(applied.body.id)].sort());
      const stage = async (key: string, env: string) => (await call<{ environments: Record<string, { stage: string }> }>('GET', `/api/flags/${key}`)).body.environments[env]!.stage;
      expect(await stage('launch', 'production')).toBe('50%');
      expect(await stage('banner', 'staging')).toBe('100%');
    };
    await check();

    // The killed replica comes back (a follower now); several scheduler looks later, nothing ran twice.
    const back = await startServerProcess({ env: { SWITCHYARD_DATABASE_URL: schema.url, LOG_LEVEL: 'warn' }, args: ['--heartbeat-ms', '500'], timeoutMs: 120_000 });
    removeDataDir(replicas[leaderIndex]!.dataDir);
    replicas[leaderIndex] = back;
    expect((await readyz(back)).leader).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await check();
    expect((await schedule(moved.body.id)).status).toBe('executed');
  }, 240_000);
});
