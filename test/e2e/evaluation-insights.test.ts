import { createNodeClient, SDK_VERSION, type SwitchyardClient } from '@switchyard/sdk/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlag, sdkSetup, setStage, WAIT_MS, type Api } from '../support/sdk-e2e.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const KEY = 'insights-checkout';

interface Insights {
  environment: string;
  lastEvaluatedAt: number | null;
  hours: { hour: number; total: number; variations: Record<string, number> }[];
}

/**
 * Evaluation insights end to end: a real Node SDK (insights on by default) evaluates against the
 * real server; its summaries arrive and add up per variation; they survive a server restart, and a
 * summary that finds the server down is retried and lands once the server is back. The tests run in
 * order and share the client and the server's data directory.
 */
describe('evaluation insights: Node SDK → server → API', () => {
  let server: ServerProcess;
  const servers: ServerProcess[] = [];
  let call: Api;
  let sdkKey: string;
  let sdk: SwitchyardClient;
  /** What the SDK served, counted here: the server must report exactly this. */
  const served = { on: 0, off: 0 };

  const evaluate = (client: SwitchyardClient, from: number, to: number) => {
    for (let i = from; i < to; i++) served[client.isEnabled(KEY, `insights-user-${i}`) ? 'on' : 'off']++;
  };
  /** The counts of the last two hours added up per variation (the test may cross an hour). */
  const counted = async (): Promise<{ on: number; off: number; lastEvaluatedAt: number | null }> => {
    const res = await call<Insights>('GET', `/api/flags/${KEY}/insights?environment=production&hours=2`);
    expect(res.status).toBe(200);
    const sum = (v: string) => res.body.hours.reduce((n, h) => n + (h.variations[v] ?? 0), 0);
    expect(res.body.hours.reduce((n, h) => n + h.total, 0)).toBe(sum('on') + sum('off'));
    return { on: sum('on'), off: sum('off'), lastEvaluatedAt: res.body.lastEvaluatedAt };
  };

  beforeAll(async () => {
    server = await startServerProcess();
    servers.push(server);
    ({ call, sdkKey } = await sdkSetup(server));
    await createFlag(call, KEY);
    await setStage(call, KEY, '50%');
    // A short interval: the timer, not only flush(), must deliver.
    sdk = createNodeClient({ url: server.url, sdkKey, logger: quiet, insightsIntervalMs: 300, maxBackoffMs: 200, pollIntervalMs: 200 });
    expect(await sdk.ready({ timeoutMs: WAIT_MS })).toBe(true);
  });

  afterAll(async () => {
    await sdk?.close();
    for (const s of servers) await s.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('counts arrive per variation, on the SDK’s own schedule, and add up exactly', async () => {
    expect((await counted()).lastEvaluatedAt).toBeNull();
    evaluate(sdk, 0, 2000);
    expect(served.on).toBeGreaterThan(800); // a real 50% split
    expect(served.off).toBeGreaterThan(800);
    const deadline = Date.now() + WAIT_MS;
    let now = await counted();
    while ((now.on !== served.on || now.off !== served.off) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      now = await counted();
    }
    expect({ on: now.on, off: now.off }).toEqual(served);
    expect(now.lastEvaluatedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(sdk.metricsStats().evaluations).toMatchObject({ dropped: 0, failedBatches: 0 });

    // The list shows it too, and the SDK is listed under its key with its name and version.
    const summaries = await call<{ items: { key: string; environments: Record<string, { lastEvaluatedAt: number | null }> }[] }>('GET', '/api/flag-summaries?environment=production');
    expect(summaries.body.items.find((i) => i.key === KEY)?.environments.production?.lastEvaluatedAt).toBe(now.lastEvaluatedAt);
    const connections = await call<{ items: { sdk: string; version: string; environment: string; keyName: string }[] }>('GET', '/api/sdk-connections?environment=production');
    expect(connections.body.items).toEqual([expect.objectContaining({ sdk: 'switchyard-node', version: SDK_VERSION, environment: 'production', keyName: expect.stringMatching(/^e2e-production-/) })]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain(`switchyard_flag_evaluations_total{flag="${KEY}",environment="production",variation="on"} ${served.on}`);
  });

  it('survive a restart; a summary that finds the server down is retried and lands when it is back', async () => {
    await sdk.close();
    // Default interval (a minute): only flush() uploads here, so the retries are the test's to count.
    const second = createNodeClient({ url: server.url, sdkKey, logger: quiet });
    try {
      expect(await second.ready({ timeoutMs: WAIT_MS })).toBe(true);
      const before = await counted();
      await server.stop();
      evaluate(second, 2000, 2500);
      await second.flush(); // no answer: kept for a retry, not dropped
      expect(second.metricsStats().evaluations).toEqual({ dropped: 0, flushed: 0, failedBatches: 0 });

      server = await startServerProcess({ dataDir: server.dataDir, port: server.port });
      servers.push(server);
      call = api(server.url, server.adminToken);
      const after = await counted();
      expect({ on: after.on, off: after.off }).toEqual({ on: before.on, off: before.off }); // still there after the restart
      evaluate(second, 2500, 3000);
      await second.flush(); // the retried summary merged with the new counts
      const total = await counted();
      expect({ on: total.on, off: total.off }).toEqual(served);
      expect(served.on + served.off).toBe(3000);
      expect(second.metricsStats().evaluations).toEqual({ dropped: 0, flushed: 1, failedBatches: 0 });
    } finally {
      await second.close();
    }
  });
});
