import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVALUATION_RETENTION_MS, HOUR_MS, hourOf } from '../domain/evaluations.js';
import type { ErrorBody } from '../testing/test-app.js';
import { createFlag, createTestApp, type TestContext } from '../testing/test-app.js';
import { MAX_EVALUATION_COUNT, MAX_EVALUATION_ENTRIES } from './evaluations.routes.js';

/**
 * Evaluation insights over HTTP, on SQLite and PostgreSQL: uploads (SDK and client keys, bad input
 * named), hourly aggregation, the last evaluation in flag summaries, connected SDKs, `/metrics`, and
 * pruning. The clock is the test's: hours pass without waiting.
 */

const ENV = 'production';
const HOUR0 = Date.UTC(2026, 2, 1, 10);

let t: TestContext;
const clock = { t: HOUR0 + 5 * 60_000 };
let serverKey: string;

async function clientKey(environment = ENV): Promise<string> {
  const res = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: `browser-${environment}`, environment, kind: 'client' } });
  expect(res.statusCode).toBe(201);
  return res.json<{ key: string }>().key;
}

const upload = (key: string | null, payload: unknown) => t.request(key, { method: 'POST', url: '/api/sdk/evaluations', payload: payload as object });
const summary = (evaluations: { flag: string; variation: string; count: number }[], sdk = 'switchyard-node', version = '0.1.0') => ({ sdk, version, evaluations });
const insights = async (flag: string, query = `environment=${ENV}`) => {
  const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${flag}/insights?${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ environment: string; lastEvaluatedAt: number | null; hours: { hour: number; total: number; variations: Record<string, number> }[] }>();
};

beforeEach(async () => {
  clock.t = HOUR0 + 5 * 60_000;
  t = await createTestApp({ now: () => clock.t, background: false });
  await createFlag(t, 'checkout');
  await createFlag(t, 'banner', { clientVisible: true });
  serverKey = await t.sdkKey(ENV);
});
afterEach(async () => {
  await t.close();
});

describe('POST /api/sdk/evaluations', () => {
  it('adds counts per hour, flag and variation across uploads and hours, and reads them back as a zero-filled series', async () => {
    expect((await upload(serverKey, summary([{ flag: 'checkout', variation: 'on', count: 5 }, { flag: 'checkout', variation: 'off', count: 2 }]))).json()).toEqual({ accepted: 2, dropped: 0 });
    // The same flag variation named twice adds up.
    await upload(serverKey, summary([{ flag: 'checkout', variation: 'on', count: 1 }, { flag: 'checkout', variation: 'on', count: 4 }]));
    clock.t = HOUR0 + 2 * HOUR_MS + 1;
    await upload(serverKey, summary([{ flag: 'checkout', variation: 'off', count: 3 }]));

    const result = await insights('checkout', `environment=${ENV}&hours=4`);
    expect(result.environment).toBe(ENV);
    expect(result.lastEvaluatedAt).toBe(clock.t);
    expect(result.hours).toEqual([
      { hour: HOUR0 - HOUR_MS, total: 0, variations: {} },
      { hour: HOUR0, total: 12, variations: { on: 10, off: 2 } },
      { hour: HOUR0 + HOUR_MS, total: 0, variations: {} },
      { hour: HOUR0 + 2 * HOUR_MS, total: 3, variations: { off: 3 } },
    ]);
    expect((await insights('checkout')).hours).toHaveLength(24);
    // Another environment saw nothing.
    expect(await insights('checkout', 'environment=staging&hours=1')).toEqual({ environment: 'staging', lastEvaluatedAt: null, hours: [{ hour: hourOf(clock.t), total: 0, variations: {} }] });
  });

  it('keeps only flags of the key’s environment on a variation they have; a client key only flags visible to client keys', async () => {
    const res = await upload(serverKey, summary([
      { flag: 'checkout', variation: 'on', count: 1 },
      { flag: 'checkout', variation: 'purple', count: 1 },
      { flag: 'nope', variation: 'on', count: 1 },
      { flag: '__proto__', variation: 'on', count: 1 },
      { flag: 'constructor', variation: 'on', count: 1 },
    ]));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 1, dropped: 4 });

    const browser = await clientKey();
    const fromBrowser = await upload(browser, summary([{ flag: 'banner', variation: 'on', count: 2 }, { flag: 'checkout', variation: 'on', count: 9 }], 'switchyard-web'));
    expect(fromBrowser.statusCode, fromBrowser.body).toBe(202);
    // A hidden flag is treated as an unknown one: a public key learns nothing about it.
    expect(fromBrowser.json()).toEqual({ accepted: 1, dropped: 1 });
    expect((await insights('banner')).hours.at(-1)).toMatchObject({ total: 2 });
    expect((await insights('checkout')).hours.at(-1)).toMatchObject({ total: 1 });
  });

  it('refuses bad input with a 400 naming the field, and other credentials', async () => {
    const cases: { name: string; body: unknown; field: string }[] = [
      { name: 'no sdk', body: { version: '1', evaluations: [] }, field: 'sdk' },
      { name: 'sdk with spaces', body: { sdk: 'my sdk', version: '1', evaluations: [] }, field: 'sdk' },
      { name: 'long version', body: { sdk: 'x', version: 'v'.repeat(65), evaluations: [] }, field: 'version' },
      { name: 'evaluations not a list', body: { sdk: 'x', version: '1', evaluations: {} }, field: 'evaluations' },
      { name: 'negative count', body: summary([{ flag: 'checkout', variation: 'on', count: -1 }]), field: 'evaluations[0].count' },
      { name: 'fractional count', body: summary([{ flag: 'checkout', variation: 'on', count: 1.5 }]), field: 'evaluations[0].count' },
      { name: 'count over the cap', body: summary([{ flag: 'checkout', variation: 'on', count: MAX_EVALUATION_COUNT + 1 }]), field: 'evaluations[0].count' },
      { name: 'empty flag', body: summary([{ flag: '', variation: 'on', count: 1 }]), field: 'evaluations[0].flag' },
      { name: 'unknown field', body: { ...summary([]), extra: 1 }, field: '' },
      { name: 'too many entries', body: summary(Array.from({ length: MAX_EVALUATION_ENTRIES + 1 }, () => ({ flag: 'checkout', variation: 'on', count: 1 }))), field: 'evaluations' },
    ];
    for (const c of cases) {
      const res = await upload(serverKey, c.body);
      expect(res.statusCode, `${c.name}: ${res.body}`).toBe(400);
      expect(res.body, c.name).toContain(c.field);
    }
    expect((await upload(null, summary([]))).statusCode).toBe(401);
    expect((await upload(t.adminToken, summary([]))).statusCode).toBe(403);
    expect((await t.request(serverKey, { method: 'POST', url: '/api/sdk/evaluations', payload: 'not json', headers: { 'content-type': 'application/json' } })).statusCode).toBe(400);
    // Nothing was counted.
    expect((await insights('checkout')).lastEvaluatedAt).toBeNull();
  });

  it('is rate-limited per key with the metrics uploads (429 with Retry-After)', async () => {
    const limited = await createTestApp({ now: () => clock.t, background: false, metricsUploadsPerMinute: 2 });
    try {
      await createFlag(limited, 'checkout');
      const key = await limited.sdkKey(ENV);
      const send = () => limited.request(key, { method: 'POST', url: '/api/sdk/evaluations', payload: summary([{ flag: 'checkout', variation: 'on', count: 1 }]) });
      expect((await send()).statusCode).toBe(202);
      expect((await send()).statusCode).toBe(202);
      const third = await send();
      expect(third.statusCode).toBe(429);
      expect(third.headers['retry-after']).toBeDefined();
    } finally {
      await limited.close();
    }
  });
});

describe('insights in the API', () => {
  it('GET /api/flags/{key}/insights: 404 for an unknown flag, 400 naming the query field, viewer role', async () => {
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/missing/insights?environment=production' })).statusCode).toBe(404);
    for (const [query, field] of [
      ['', 'environment'],
      ['environment=nowhere', 'query.environment'],
      ['environment=production&hours=0', 'hours'],
      ['environment=production&hours=721', 'hours'],
      ['environment=production&hours=abc', 'hours'],
      ['environment=production&other=1', ''],
    ] as const) {
      const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/checkout/insights?${query}` });
      expect(res.statusCode, `${query}: ${res.body}`).toBe(400);
      expect(res.json<ErrorBody>().error.code).toBe('validation_failed');
      expect(res.body).toContain(field);
    }
    expect((await t.request(null, { method: 'GET', url: '/api/flags/checkout/insights?environment=production' })).statusCode).toBe(401);
    expect((await t.request(serverKey, { method: 'GET', url: '/api/flags/checkout/insights?environment=production' })).statusCode).toBe(403);
  });

  it('flag summaries carry each environment’s last evaluation', async () => {
    await upload(serverKey, summary([{ flag: 'checkout', variation: 'on', count: 1 }]));
    const evaluatedAt = clock.t;
    const list = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flag-summaries' });
    const items = list.json<{ items: { key: string; environments: Record<string, { lastEvaluatedAt: number | null }> }[] }>().items;
    const checkout = items.find((i) => i.key === 'checkout')!;
    expect(checkout.environments.production!.lastEvaluatedAt).toBe(evaluatedAt);
    expect(checkout.environments.staging!.lastEvaluatedAt).toBeNull();
    expect(items.find((i) => i.key === 'banner')!.environments.production!.lastEvaluatedAt).toBeNull();
    const one = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flag-summaries/checkout?environment=production' });
    expect(one.json<{ environments: Record<string, { lastEvaluatedAt: number | null }> }>().environments).toEqual({ production: expect.objectContaining({ lastEvaluatedAt: evaluatedAt }) });
    // The store port other services read (the lifecycle's "no evaluations for N days").
    expect(await t.db.read((tx) => t.db.repos.evaluations.lastEvaluated(tx))).toEqual([{ flagKey: 'checkout', environment: ENV, at: evaluatedAt }]);
  });

  it('GET /api/sdk-connections lists each SDK name and version per key, last seen first', async () => {
    await upload(serverKey, summary([{ flag: 'checkout', variation: 'on', count: 1 }], 'switchyard-node', '0.1.0'));
    clock.t += 5 * 60_000;
    const browser = await clientKey();
    await upload(browser, summary([], 'switchyard-web', '0.1.0'));
    clock.t += 5 * 60_000;
    await upload(serverKey, summary([], 'switchyard-node', '0.2.0'));
    const res = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/sdk-connections?environment=production' });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ items: { keyName: string; environment: string; sdk: string; version: string; lastSeenAt: number }[] }>().items.map(({ keyName, sdk, version, environment }) => ({ keyName, sdk, version, environment }))).toEqual([
      { keyName: `sdk-${ENV}`, sdk: 'switchyard-node', version: '0.2.0', environment: ENV },
      { keyName: `browser-${ENV}`, sdk: 'switchyard-web', version: '0.1.0', environment: ENV },
      { keyName: `sdk-${ENV}`, sdk: 'switchyard-node', version: '0.1.0', environment: ENV },
    ]);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/sdk-connections?environment=staging' })).json()).toEqual({ items: [] });
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/sdk-connections' })).json<{ items: unknown[] }>().items).toHaveLength(3);
    const bad = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/sdk-connections?environment=nowhere' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('query.environment');
  });

  it('/metrics counts accepted evaluations by flag, environment and variation, and forgets deleted flags', async () => {
    await upload(serverKey, summary([{ flag: 'checkout', variation: 'on', count: 3 }, { flag: 'ghost', variation: 'on', count: 100 }]));
    await upload(serverKey, summary([{ flag: 'checkout', variation: 'on', count: 2 }]));
    const scrape = async () => (await t.request(null, { method: 'GET', url: '/metrics' })).body;
    const text = await scrape();
    expect(text).toContain('switchyard_flag_evaluations_total{flag="checkout",environment="production",variation="on"} 5');
    expect(text).not.toContain('ghost');
    const version = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/checkout' })).json<{ version: number }>().version;
    expect((await t.request(t.adminToken, { method: 'DELETE', url: '/api/flags/checkout', payload: { version } })).statusCode).toBe(200);
    expect(await scrape()).not.toContain('flag="checkout"');
  });

  it('maintenance prunes counts past the retention, and last evaluations of deleted flags', async () => {
    await upload(serverKey, summary([{ flag: 'checkout', variation: 'on', count: 1 }, { flag: 'banner', variation: 'on', count: 1 }]));
    clock.t += EVALUATION_RETENTION_MS + 2 * HOUR_MS;
    await upload(serverKey, summary([{ flag: 'checkout', variation: 'off', count: 1 }]));
    const version = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/banner' })).json<{ version: number }>().version;
    await t.request(t.adminToken, { method: 'DELETE', url: '/api/flags/banner', payload: { version } });
    await t.services.maintenance.run();
    const rows = await t.db.read((tx) => t.db.repos.evaluations.hourly(tx, ENV, 'checkout', 0));
    expect(rows).toEqual([{ hour: hourOf(clock.t), variation: 'off', count: 1 }]);
    expect((await t.db.read((tx) => t.db.repos.evaluations.lastEvaluated(tx))).map((r) => r.flagKey)).toEqual(['checkout']);
    expect((await t.db.read((tx) => t.db.repos.evaluations.connections(tx, 0))).length).toBe(1);
  });
});
