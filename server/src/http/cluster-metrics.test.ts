import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, type TestContext } from '../testing/test-app.js';

/**
 * The replica's cluster figures at /metrics (leadership, readiness, change-feed position and lag,
 * webhook backlog), against what /readyz and the database say.
 */
let t: TestContext;

beforeEach(async () => {
  t = await createTestApp();
  await createFlag(t, 'checkout');
});
afterEach(() => t.close());

async function scrape(): Promise<Map<string, number>> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  const values = new Map<string, number>();
  for (const line of res.body.split('\n')) {
    const match = /^(switchyard_(?:leader|ready|change_feed_\w+|webhook_deliveries)(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('cluster metrics at /metrics', () => {
  it('says this replica leads, is ready, and has applied the feed up to the database head', async () => {
    await eventually('leadership', async () => (await scrape()).get('switchyard_leader') === 1);
    await setStage(t, 'checkout', 'production', '10%');
    const ready = (await t.app.inject({ method: 'GET', url: '/readyz' })).json<{ position: number }>();
    const metrics = await scrape();
    expect(metrics.get('switchyard_ready')).toBe(1);
    expect(metrics.get('switchyard_change_feed_position')).toBe(ready.position);
    expect(metrics.get('switchyard_change_feed_lag')).toBe(0);
    await setStage(t, 'checkout', 'production', '50%');
    expect((await scrape()).get('switchyard_change_feed_position')).toBe(ready.position + 1);
  });

  it('counts committed changes the replica has not applied as lag, and readiness follows the follower', async () => {
    const before = (await scrape()).get('switchyard_change_feed_position')!;
    await t.services.feed.stop();
    for (let i = 0; i < 2; i++) await t.db.transaction((tx) => t.db.repos.feed.append(tx, { at: 1, writes: [], sdk: {}, revoked: [], deliveries: false }));
    const metrics = await scrape();
    expect(metrics.get('switchyard_change_feed_position')).toBe(before);
    expect(metrics.get('switchyard_change_feed_lag')).toBe(2);
    expect(metrics.get('switchyard_ready')).toBe(0);
  });

  it('counts webhook deliveries waiting to be sent and given up on, over every webhook', async () => {
    let metrics = await scrape();
    expect([metrics.get('switchyard_webhook_deliveries{status="pending"}'), metrics.get('switchyard_webhook_deliveries{status="failed"}')]).toEqual([0, 0]);
    await t.services.webhooks.stop();
    for (const url of ['http://127.0.0.1:9/a', 'http://127.0.0.1:9/b']) {
      expect((await t.request(t.adminToken, { method: 'POST', url: '/api/webhooks', payload: { url, events: ['flag.stage_changed'] } })).statusCode).toBe(201);
    }
    await setStage(t, 'checkout', 'production', '10%');
    await setStage(t, 'checkout', 'production', '50%');
    metrics = await scrape();
    expect(metrics.get('switchyard_webhook_deliveries{status="pending"}')).toBe(4);
    // One given up on: the delivery log says failed.
    await t.db.transaction(async (tx) => {
      const [claimed] = await t.db.repos.webhooks.claim(tx, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 1);
      await t.db.repos.webhooks.complete(tx, claimed!.id, { status: 'failed', attempts: 10, lastStatusCode: 500, lastError: 'HTTP 500', nextAttemptAt: null, deliveredAt: null });
    });
    metrics = await scrape();
    expect(metrics.get('switchyard_webhook_deliveries{status="pending"}')).toBe(3);
    expect(metrics.get('switchyard_webhook_deliveries{status="failed"}')).toBe(1);
  });
});
