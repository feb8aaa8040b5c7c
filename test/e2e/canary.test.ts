import { createClient, type SwitchyardClient } from '@switchyard/sdk/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The whole guarded-rollout loop: the real server process, the real SDK evaluating locally and
 * reporting exposures and `track`ed errors, the runner deciding — with second-long steps. A plan
 * whose new variation is healthy reaches 100%; one failing 5× more often is rolled back by itself;
 * a server restart mid-plan resumes it. Waits are for conditions, never fixed sleeps.
 */

const STEPS = [
  { percentage: 1, minDurationMs: 500, minExposures: 100 },
  { percentage: 10, minDurationMs: 500, minExposures: 200 },
  { percentage: 50, minDurationMs: 500, minExposures: 400 },
  { percentage: 100, minDurationMs: 0, minExposures: 0 },
];
const USERS = Array.from({ length: 4000 }, (_, i) => `u${i}`);

interface View {
  plan: { status: string; currentStep: number } | null;
  stage: string;
  guarded: boolean;
  events: { kind: string; actor: string; message: string }[];
}

async function until<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // polling interval of the probe, not a wait for an outcome
    last = await probe();
  }
  return last;
}

describe('guarded canary, end to end', () => {
  let server: ServerProcess;
  let call: ReturnType<typeof api>;
  let sdkKey: string;
  const clients: SwitchyardClient[] = [];
  let traffic: NodeJS.Timeout | undefined;
  const errorRates = new Map<string, { v1: number; v2: number }>();

  async function app(): Promise<SwitchyardClient> {
    const client = createClient({ url: server.url, sdkKey, flushIntervalMs: 100, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    clients.push(client);
    await client.ready({ timeoutMs: 10_000 });
    return client;
  }

  function simulate(client: SwitchyardClient): void {
    clearInterval(traffic);
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    traffic = setInterval(() => {
      for (let i = 0; i < 200; i++) {
        const user = USERS[Math.floor(random() * USERS.length)]!;
        for (const [flag, rates] of errorRates) {
          const v2 = client.isEnabled(flag, user);
          if (random() < (v2 ? rates.v2 : rates.v1)) client.track(`${flag}-error`, user);
        }
      }
    }, 5);
  }

  const view = (flag: string) => call<View>('GET', `/api/flags/${flag}/environments/production/release-plan`).then((r) => r.body);

  async function startPlan(flag: string, rates: { v1: number; v2: number }) {
    expect((await call('POST', '/api/flags', { key: flag })).status).toBe(201);
    const put = await call('PUT', `/api/flags/${flag}/environments/production/release-plan`, {
      strategy: 'guarded',
      steps: STEPS,
      guard: { errorEvent: `${flag}-error`, minExposures: 100, maxSilenceMs: 20_000 },
    });
    expect(put.status).toBe(200);
    errorRates.set(flag, rates);
    expect((await call('POST', `/api/flags/${flag}/environments/production/release-plan/start`)).status).toBe(200);
  }

  beforeAll(async () => {
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'canary', environment: 'production' })).body.key;
  });

  afterAll(async () => {
    clearInterval(traffic);
    await Promise.all(clients.map((c) => c.close()));
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('a healthy new variation advances step by step to 100%', async () => {
    await startPlan('healthy', { v1: 0.01, v2: 0.01 });
    const client = await app();
    await until('the SDK to see the guard marker', async () => client.getRuleSet()?.flags.healthy?.guarded, (g) => g === true);
    simulate(client);
    const done = await until('the healthy plan to complete', () => view('healthy'), (v) => v.plan?.status !== 'running');
    expect(done.plan!.status).toBe('completed');
    expect(done.stage).toBe('100%');
    expect(done.guarded).toBe(false);
    const kinds = done.events.map((e) => e.kind).reverse();
    expect(kinds).toEqual(['created', 'started', 'advanced', 'advanced', 'completed']);
    expect(done.events.filter((e) => e.kind !== 'created' && e.kind !== 'started').every((e) => e.actor === 'release-guard')).toBe(true);
    await until('the SDK to drop the guard marker', async () => client.getRuleSet()?.flags.healthy?.guarded, (g) => g !== true);
  });

  it('a new variation failing 5× more often is rolled back to dogfood automatically', async () => {
    await startPlan('broken', { v1: 0.01, v2: 0.05 });
    const client = clients[0]!;
    await until('the SDK to see the guard marker', async () => client.getRuleSet()?.flags.broken?.guarded, (g) => g === true);
    const done = await until('the broken plan to end', () => view('broken'), (v) => v.plan?.status !== 'running');
    expect(done.plan!.status).toBe('rolled_back');
    expect(done.stage).toBe('dogfood');
    expect(done.events[0]!.message).toMatch(/log Λ = [\d.]+ vs boundary 3\.00/);
    const audit = await call<{ items: { action: string; actor: string; after: { errors: { verdict: string } } }[] }>('GET', '/api/audit?actor=release-guard&limit=100');
    const rollback = audit.body.items.find((e) => e.action === 'release.rolled_back');
    expect(rollback?.after.errors.verdict).toBe('regression');
    await until('every user to get v1 again', async () => USERS.slice(0, 500).some((u) => client.isEnabled('broken', u)), (some) => !some);
  });

  it('a plan survives a server restart and resumes watching', async () => {
    clearInterval(traffic);
    await startPlan('restart', { v1: 0.01, v2: 0.01 });
    await server.stop();
    // Same port: the running SDK reconnects by itself, as an app would after a server deploy.
    server = await startServerProcess({ dataDir: server.dataDir, port: server.port });
    call = api(server.url, server.adminToken);
    const client = clients[0]!;
    await until('the SDK to see the guard marker', async () => client.getRuleSet()?.flags.restart?.guarded, (g) => g === true);
    errorRates.delete('healthy');
    errorRates.delete('broken');
    simulate(client);
    const done = await until('the resumed plan to complete', () => view('restart'), (v) => v.plan?.status !== 'running');
    expect(done.plan!.status).toBe('completed');
    // Counts sent while the server was down were retried, then dropped and counted, never lost silently.
    const stats = client.metricsStats();
    expect(stats.flushed).toBeGreaterThan(0);
    expect(stats.dropped === 0 || stats.failedBatches > 0).toBe(true);
  });
});
