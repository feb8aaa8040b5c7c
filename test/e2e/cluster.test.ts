import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '../../server/src/testing/postgres.js';
import { readStream, WAIT_MS, type SseItems } from '../support/sdk-e2e.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Three server processes on one PostgreSQL: what a team running Switchyard behind a load balancer
 * has. Every replica learns of every change from the change feed; once-only work runs on one.
 */

type Api = ReturnType<typeof api>;

interface Cluster {
  replicas: ServerProcess[];
  url: string;
  calls: Api[];
}

const TICK_MS = '150';

async function startReplicas(url: string, count: number, env: Record<string, string> = {}): Promise<ServerProcess[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      startServerProcess({ env: { SWITCHYARD_DATABASE_URL: url, SWITCHYARD_RELEASE_TICK_MS: TICK_MS, LOG_LEVEL: 'warn', ...env }, args: ['--heartbeat-ms', '500'] }),
    ),
  );
}

async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!ok(value)) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

const readyz = async (replica: ServerProcess) => (await fetch(`${replica.url}/readyz`)).json() as Promise<{ status: string; position: number; leader: boolean }>;

describe('three replicas on one PostgreSQL', () => {
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let cluster: Cluster;
  const extra: ServerProcess[] = [];

  beforeAll(async () => {
    schema = await createTestSchema('cluster');
    const replicas = await startReplicas(schema.url, 3);
    cluster = { replicas, url: schema.url, calls: replicas.map((r) => api(r.url, r.adminToken)) };
  });

  afterEach(async () => {
    for (const replica of extra.splice(0)) {
      await replica.stop();
      removeDataDir(replica.dataDir);
    }
  });

  afterAll(async () => {
    for (const replica of cluster?.replicas ?? []) {
      await replica.stop();
      removeDataDir(replica.dataDir);
    }
    await schema?.drop();
  });

  const a = () => cluster.calls[0]!;
  const b = () => cluster.calls[1]!;
  const c = () => cluster.calls[2]!;

  async function sdkKey(environment = 'production'): Promise<{ id: number; key: string }> {
    const created = await a()<{ id: number; key: string }>('POST', '/api/sdk-keys', { name: `k${Math.random()}`, environment });
    expect(created.status).toBe(201);
    return created.body;
  }

  async function flag(key: string): Promise<number> {
    const created = await a()<{ version: number }>('POST', '/api/flags', { key });
    expect(created.status).toBe(201);
    return created.body.version;
  }

  it('a write on one replica reaches the SDK streams of the others, with the same event id', async () => {
    const { key } = await sdkKey();
    const version = await flag('spread');
    const patchFor = (items: SseItems) => items.events.find((e) => e.event === 'patch' && e.data.includes('"spread"') && e.data.includes('"dogfood"'));
    const streams = [1, 2].map((i) => readStream(cluster.replicas[i]!.url, key, { done: (items) => patchFor(items) !== undefined }));
    // Both streams are open (their snapshots sent) before the change: wait for each to hold one.
    await eventually('streams connected', async () => (await fetch(`${cluster.replicas[1]!.url}/metrics`)).text(), (t) => /switchyard_stream_connections\{environment="production"\} [1-9]/.test(t));
    await eventually('streams connected', async () => (await fetch(`${cluster.replicas[2]!.url}/metrics`)).text(), (t) => /switchyard_stream_connections\{environment="production"\} [1-9]/.test(t));
    const changed = await a()<{ version: number }>('POST', '/api/flags/spread/environments/production/stage', { stage: 'dogfood', version });
    expect(changed.status).toBe(200);
    const [onB, onC] = (await Promise.all(streams)) as unknown as [SseItems, SseItems];
    expect(patchFor(onB)!.id).toBe(patchFor(onC)!.id);
  });

  it('/metrics on every replica: exactly one leads; a write on one is applied by all, with no lag left', async () => {
    const metric = async (replica: ServerProcess, name: string) => {
      const line = (await (await fetch(`${replica.url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.slice(name.length + 1));
    };
    const leaders = await Promise.all(cluster.replicas.map((r) => metric(r, 'switchyard_leader')));
    expect(leaders.sort()).toEqual([0, 0, 1]);
    const version = await flag('watched');
    const changed = await a()<{ version: number }>('POST', '/api/flags/watched/environments/production/stage', { stage: 'dogfood', version });
    expect(changed.status).toBe(200);
    const { position } = await readyz(cluster.replicas[0]!);
    const figures = () => Promise.all(cluster.replicas.map(async (r) => [await metric(r, 'switchyard_change_feed_position'), await metric(r, 'switchyard_change_feed_lag'), await metric(r, 'switchyard_ready')]));
    await eventually('every replica at the write\'s position, ready, with no lag', figures, (rs) => rs.every(([at, lag, ready]) => at! >= position && lag === 0 && ready === 1));
  });

  it('two conflicting writes sent to two replicas at once: one wins, the other gets 409, one audit entry', async () => {
    const version = await flag('contested');
    const [first, second] = await Promise.all([
      a()('POST', '/api/flags/contested/environments/production/stage', { stage: '10%', version }),
      b()('POST', '/api/flags/contested/environments/production/stage', { stage: '50%', version }),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 409]);
    const audit = await c()<{ items: { action: string }[] }>('GET', '/api/flags/contested/audit');
    expect(audit.body.items.filter((e) => e.action === 'flag.stage_changed')).toHaveLength(1);
  });

  it('Last-Event-ID resumes against another replica with only the missed changes', async () => {
    const { key } = await sdkKey();
    let version = await flag('resume');
    const first = await readStream(cluster.replicas[0]!.url, key, { done: (items) => items.events.some((e) => e.event === 'snapshot') });
    const seen = Number(first.events.find((e) => e.event === 'snapshot')!.id);
    for (const stage of ['dogfood', '10%', '20%']) {
      const res = await c()<{ version: number }>('POST', '/api/flags/resume/environments/production/stage', { stage, version });
      version = res.body.version;
    }
    const resumed = await readStream(cluster.replicas[1]!.url, key, { lastEventId: seen, done: (items) => items.events.filter((e) => e.event === 'patch').length >= 3 });
    expect(resumed.events.some((e) => e.event === 'snapshot')).toBe(false);
    const patches = resumed.events.filter((e) => e.event === 'patch');
    expect(patches).toHaveLength(3);
    const ids = patches.map((p) => Number(p.id));
    expect(ids.every((id, i) => id > (i === 0 ? seen : ids[i - 1]!))).toBe(true);
  });

  it('a revoked token stops working on every replica, and a revoked SDK key loses its streams there', async () => {
    const created = await a()<{ id: number; token: string }>('POST', '/api/tokens', { name: 'temp', role: 'viewer' });
    const clients = cluster.replicas.map((r) => api(r.url, created.body.token));
    for (const call of clients) expect((await call('GET', '/api/flags')).status).toBe(200); // cached on every replica now
    expect((await b()('DELETE', `/api/tokens/${created.body.id}`)).status).toBe(200);
    for (const call of clients) await eventually('token refused', async () => (await call('GET', '/api/flags')).status, (s) => s === 401, 5000);

    const sdk = await sdkKey();
    const stream = readStream(cluster.replicas[2]!.url, sdk.key, { done: () => false, timeoutMs: WAIT_MS });
    await eventually('stream open', async () => (await fetch(`${cluster.replicas[2]!.url}/metrics`)).text(), (t) => /switchyard_stream_connections\{environment="production"\} [1-9]/.test(t));
    const started = Date.now();
    expect((await a()('DELETE', `/api/sdk-keys/${sdk.id}`)).status).toBe(200);
    const ended = await stream;
    expect(ended.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('delivers a webhook exactly once, whichever replicas pump deliveries', async () => {
    const received: string[] = [];
    const receiver: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(`${req.headers['x-switchyard-delivery']}:${body}`);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      expect((await a()('POST', '/api/webhooks', { url: hookUrl, events: ['flag.stage_changed'] })).status).toBe(201);
      let version = await flag('hooked');
      for (const [i, stage] of ['dogfood', '10%', '50%'].entries()) {
        const res = await cluster.calls[i]!<{ version: number }>('POST', '/api/flags/hooked/environments/production/stage', { stage, version });
        version = res.body.version;
      }
      await eventually('three deliveries', async () => received.length, (n) => n >= 3);
      // Every replica pumps every second: give them time to (wrongly) send one again.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(received).toHaveLength(3);
      expect(new Set(received.map((r) => r.split(':')[0])).size).toBe(3);
    } finally {
      receiver.close();
    }
  });

  it('kill -9 of the leader during a guarded rollout: another replica carries on, no step twice', async () => {
    const leaders = await Promise.all(cluster.replicas.map(readyz));
    expect(leaders.filter((r) => r.leader)).toHaveLength(1);
    const leaderIndex = leaders.findIndex((r) => r.leader);
    const followers = cluster.replicas.filter((_, i) => i !== leaderIndex);
    const followerCall = api(followers[0]!.url, followers[0]!.adminToken);
    const { key } = await sdkKey();
    await flag('canary');
    const steps = [1, 2, 5, 10, 20, 50, 100].map((percentage) => ({ percentage, minDurationMs: percentage === 100 ? 0 : 400, minExposures: 0 }));
    const plan = await followerCall('PUT', '/api/flags/canary/environments/production/release-plan', { strategy: 'guarded', steps, guard: { minExposures: 10, maxSilenceMs: 60_000 } });
    expect(plan.status).toBe(200);
    expect((await followerCall('POST', '/api/flags/canary/environments/production/release-plan/start')).status).toBe(200);

    // Healthy metrics keep arriving, at a follower, throughout.
    let pumping = true;
    const pump = (async () => {
      while (pumping) {
        await fetch(`${followers[1]!.url}/api/sdk/metrics`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ exposures: [{ flag: 'canary', variation: 'on', count: 50 }, { flag: 'canary', variation: 'off', count: 500 }] }),
        }).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      const view = () => followerCall<{ plan: { status: string; currentStep: number } }>('GET', '/api/flags/canary/environments/production/release-plan').then((r) => r.body.plan);
      await eventually('the plan under way', view, (p) => p.currentStep >= 2);
      await cluster.replicas[leaderIndex]!.kill();
      const newLeader = await eventually('a new leader', () => Promise.all(followers.map(readyz)), (rs) => rs.filter((r) => r.leader).length === 1, 15_000);
      expect(newLeader.filter((r) => r.leader)).toHaveLength(1);
      await eventually('the plan completed', view, (p) => p.status === 'completed', 30_000);
    } finally {
      pumping = false;
      await pump;
    }
    const events = await followerCall<{ items: { kind: string; message: string }[] }>('GET', '/api/flags/canary/environments/production/release-plan/events?limit=100');
    const advanced = events.body.items.filter((e) => e.kind === 'advanced' || e.kind === 'completed').map((e) => e.message);
    expect(new Set(advanced).size).toBe(advanced.length);
    const audit = await followerCall<{ items: { action: string; actor: string; after: { environments: { production: { defaultServe: unknown } } } }[] }>('GET', '/api/flags/canary/audit?limit=100');
    const stages = audit.body.items.filter((e) => e.action === 'flag.stage_changed').map((e) => JSON.stringify(e.after.environments.production.defaultServe));
    expect(new Set(stages).size, 'a stage written twice').toBe(stages.length);
    expect(stages).toHaveLength(steps.length);
    // The killed replica comes back as a follower.
    const back = await startReplicas(cluster.url, 1);
    cluster.replicas[leaderIndex] = back[0]!;
    cluster.calls[leaderIndex] = api(back[0]!.url, back[0]!.adminToken);
    expect((await readyz(back[0]!)).leader).toBe(false);
  });

  it('three replicas started at once on an empty database: one admin token, one set of environments', async () => {
    const empty = await createTestSchema('cluster_empty');
    try {
      const replicas = await startReplicas(empty.url, 3, { SWITCHYARD_ADMIN_TOKEN: '' });
      extra.push(...replicas);
      const printed = replicas.map((r) => /Store it now; it will not be shown again:\s+(\S+)/.exec(r.output())?.[1]).filter((t): t is string => t !== undefined);
      expect(printed).toHaveLength(1);
      for (const replica of replicas) {
        const call = api(replica.url, printed[0]!);
        expect((await call<{ items: { key: string }[] }>('GET', '/api/environments')).body.items.map((e) => e.key)).toEqual(['development', 'staging', 'production']);
        expect((await call<{ items: unknown[] }>('GET', '/api/tokens')).body.items).toHaveLength(1);
      }
    } finally {
      for (const replica of extra.splice(0)) {
        await replica.stop();
        removeDataDir(replica.dataDir);
      }
      await empty.drop();
    }
  });
});
