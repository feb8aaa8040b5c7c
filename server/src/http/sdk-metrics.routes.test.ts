import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../app.js';
import { EXPOSURE_METRIC, MAX_UPLOAD_COUNT } from '../domain/releases/metrics.js';
import { bootstrap } from '../services/bootstrap.js';
import { openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { TEST_ADMIN_TOKEN, bearerHeader } from '../testing/test-app.js';

/**
 * Forged release-guard evidence (issue 11, item 6): SDK keys are public, so `POST /api/sdk/metrics`
 * must not let one upload — or one key — roll a healthy release back or hide a regression.
 * The runner is driven by hand (`lookAt`) on a clock the test moves.
 */

const ENV = 'production';
const UPLOADS_PER_MINUTE = 5;
const planUrl = (flag: string, suffix = '') => `/api/flags/${flag}/environments/${ENV}/release-plan${suffix}`;

interface Replica {
  app: Awaited<ReturnType<typeof buildApp>>;
  inject(token: string | null, opts: InjectOptions): Promise<LightMyRequestResponse>;
}

let database: TestDatabase;
const clock = { t: 0 };
let replicas: Replica[];

async function replica(): Promise<Replica> {
  const app = await buildApp({ db: database.db, defaultMetrics: false, dashboardDir: null, now: () => clock.t, background: false, metricsUploadsPerMinute: UPLOADS_PER_MINUTE });
  await app.ready();
  const r = { app, inject: (token: string | null, opts: InjectOptions) => app.inject({ ...opts, headers: { ...(token ? bearerHeader(token) : {}), ...(opts.headers ?? {}) } }) };
  replicas.push(r);
  return r;
}

let r1: Replica;
const admin = (opts: InjectOptions) => r1.inject(TEST_ADMIN_TOKEN, opts);
async function sdkKey(name: string): Promise<{ id: number; key: string }> {
  const res = await admin({ method: 'POST', url: '/api/sdk-keys', payload: { name, environment: ENV } });
  expect(res.statusCode).toBe(201);
  return res.json();
}
const upload = (key: string, payload: object) => r1.inject(key, { method: 'POST', url: '/api/sdk/metrics', payload });
const look = () => r1.app.services.runner.lookAt('checkout', ENV);
const view = async () => (await admin({ method: 'GET', url: planUrl('checkout') })).json();

interface Arm {
  exposures: number;
  errors: number;
}
/** One SDK instance's honest-looking upload (each count within the per-upload cap). */
const counts = (on: Arm, off: Arm) => ({
  exposures: [{ flag: 'checkout', variation: 'on', count: on.exposures }, { flag: 'checkout', variation: 'off', count: off.exposures }],
  events: [{ name: 'error', flag: 'checkout', variation: 'on', count: on.errors }, { name: 'error', flag: 'checkout', variation: 'off', count: off.errors }],
});

beforeEach(async () => {
  database = await openTestDatabase('sdk-metrics');
  clock.t = Date.UTC(2026, 0, 1);
  replicas = [];
  r1 = await replica();
  await bootstrap(r1.app.services.writes, r1.app.services.environments, TEST_ADMIN_TOKEN);
  expect((await admin({ method: 'POST', url: '/api/flags', payload: { key: 'checkout' } })).statusCode).toBe(201);
  expect((await admin({ method: 'PUT', url: planUrl('checkout'), payload: { strategy: 'guarded' } })).statusCode).toBe(200);
  expect((await admin({ method: 'POST', url: planUrl('checkout', '/start') })).statusCode).toBe(200);
});
afterEach(async () => {
  for (const r of replicas) await r.app.close();
  await database.close();
});

describe('forged metrics uploads', () => {
  it('refuses one upload of 100,000 exposures per variation with 50% errors, naming the field; the plan keeps running', async () => {
    const { key } = await sdkKey('public-web');
    const forged = await upload(key, counts({ exposures: 100_000, errors: 50_000 }, { exposures: 100_000, errors: 0 }));
    expect(forged.statusCode).toBe(400);
    expect(forged.json().error).toMatchObject({ code: 'validation_failed' });
    expect(forged.json().error.message).toContain('exposures[0].count');
    expect(forged.json().error.message).toContain(String(MAX_UPLOAD_COUNT));
    // Naming one flag variation twice does not get round the cap: the sum is checked.
    const split = await upload(key, { exposures: [{ flag: 'checkout', variation: 'on', count: 30_000 }, { flag: 'checkout', variation: 'on', count: 30_000 }] });
    expect(split.statusCode).toBe(400);
    expect(split.json().error.message).toContain('exposures[1].count');
    const histogram = await upload(key, { events: [{ name: 'latency_ms', flag: 'checkout', variation: 'on', count: 1, sum: 5, buckets: { '4': 1000 } }] });
    expect(histogram.statusCode).toBe(400);
    expect(histogram.json().error.message).toContain('events[0].buckets');
    await look();
    const v = await view();
    expect(v.plan.status).toBe('running');
    expect(v.evidence.exposures).toEqual({});
  });

  it('drops counts for flags without a running plan and variations the plan does not serve, and says why', async () => {
    const { key } = await sdkKey('web');
    await admin({ method: 'POST', url: '/api/flags', payload: { key: 'idle' } });
    await admin({ method: 'POST', url: '/api/flags', payload: { key: 'theme', type: 'string', variations: ['blue', 'green', 'red'].map((c) => ({ key: c, value: c })) } });
    const theme = (await admin({ method: 'GET', url: '/api/flags/theme' })).json();
    const unserved = theme.variations.map((v: { key: string }) => v.key).find((k: string) => k !== 'green' && k !== theme.environments[ENV].offVariation);
    expect((await admin({ method: 'PUT', url: planUrl('theme'), payload: { strategy: 'guarded', variation: 'green' } })).statusCode).toBe(200);
    expect((await admin({ method: 'POST', url: planUrl('theme', '/start') })).statusCode).toBe(200);

    const res = await upload(key, {
      exposures: [
        { flag: 'checkout', variation: 'on', count: 10 },
        { flag: 'idle', variation: 'on', count: 10 },
        { flag: 'ghost', variation: 'on', count: 10 },
        { flag: 'checkout', variation: 'maybe', count: 10 },
        { flag: 'theme', variation: 'green', count: 10 },
        { flag: 'theme', variation: unserved, count: 10 },
      ],
      events: [{ name: EXPOSURE_METRIC, flag: 'checkout', variation: 'on', count: 10 }],
    });
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json();
    expect(body.accepted).toBe(2);
    expect(body.dropped).toBe(5);
    expect(body.rejected).toEqual(
      expect.arrayContaining([
        { flag: 'idle', variation: 'on', metric: EXPOSURE_METRIC, reason: 'no_running_plan' },
        { flag: 'ghost', variation: 'on', metric: EXPOSURE_METRIC, reason: 'unknown_flag' },
        { flag: 'checkout', variation: 'maybe', metric: EXPOSURE_METRIC, reason: 'unknown_variation' },
        { flag: 'theme', variation: unserved, metric: EXPOSURE_METRIC, reason: 'variation_not_served' },
        { flag: 'checkout', variation: 'on', metric: EXPOSURE_METRIC, reason: 'reserved_metric' },
      ]),
    );
    expect(body.rejected).toHaveLength(5);
    expect((await view()).evidence.exposures).toEqual({ on: 10 });

    // Nothing an honest SDK could have sent: the upload as a whole is refused.
    const garbage = await upload(key, { exposures: [{ flag: 'ghost', variation: 'on', count: 10 }, { flag: 'checkout', variation: 'maybe', count: 1 }] });
    expect(garbage.statusCode).toBe(400);
    expect(garbage.json().error.details).toEqual([
      { flag: 'ghost', variation: 'on', metric: EXPOSURE_METRIC, reason: 'unknown_flag' },
      { flag: 'checkout', variation: 'maybe', metric: EXPOSURE_METRIC, reason: 'unknown_variation' },
    ]);
  });
});

describe('one key flooding the evidence', () => {
  const honestControl = { exposures: 20_000, errors: 200 };

  it('cannot roll back a healthy release: its share is capped and the honest key decides', async () => {
    const honest = await sdkKey('checkout-service');
    const flood = await sdkKey('public-web');
    expect((await upload(honest.key, counts({ exposures: 2000, errors: 20 }, honestControl))).statusCode).toBe(202);
    for (let i = 0; i < 2; i++) expect((await upload(flood.key, counts({ exposures: 50_000, errors: 25_000 }, { exposures: 50_000, errors: 500 }))).statusCode).toBe(202);
    await look();
    const v = await view();
    expect(v.plan.status).toBe('running');
    expect(v.evidence.errors.verdict).toBe('healthy');
    // Recorded in full, counted up to the honest key's counts.
    expect(v.evidence.exposures.on).toBe(4000);
    const flooded = v.evidence.sources.find((s: { keyId: number }) => s.keyId === flood.id);
    expect(flooded.keyName).toBe('public-web');
    expect(flooded.counts).toContainEqual({ variation: 'on', metric: 'error', count: 50_000, counted: 20 });
    expect(flooded.counts).toContainEqual({ variation: 'on', metric: EXPOSURE_METRIC, count: 100_000, counted: 2000 });
  });

  it('cannot hide a regression the honest key sees', async () => {
    const honest = await sdkKey('checkout-service');
    const flood = await sdkKey('public-web');
    expect((await upload(honest.key, counts({ exposures: 2000, errors: 100 }, honestControl))).statusCode).toBe(202);
    for (let i = 0; i < 2; i++) expect((await upload(flood.key, counts({ exposures: 50_000, errors: 50 }, { exposures: 50_000, errors: 500 }))).statusCode).toBe(202);
    await look();
    const v = await view();
    expect(v.plan.status).toBe('rolled_back');
    // The decision names the keys behind it (ids, names and counts; never a secret), in the log and the audit.
    expect(v.events[0].message).toContain('"checkout-service" (#');
    expect(v.events[0].evidence.sources.map((s: { keyName: string }) => s.keyName).sort()).toEqual(['checkout-service', 'public-web']);
    const audit = (await admin({ method: 'GET', url: '/api/audit?actor=release-guard&limit=20' })).json();
    const rollback = audit.items.find((e: { action: string }) => e.action === 'release.rolled_back');
    expect(rollback.after.sources).toContainEqual(expect.objectContaining({ keyId: honest.id, keyName: 'checkout-service' }));
    const everything = JSON.stringify([v, audit]);
    expect(everything).not.toContain(honest.key);
    expect(everything).not.toContain(flood.key);
  });
});

describe('rate limit per SDK key', () => {
  it('answers 429 with Retry-After past the limit, per key, on every replica, until the next minute', async () => {
    const busy = await sdkKey('busy');
    const quiet = await sdkKey('quiet');
    const r2 = await replica();
    const one = counts({ exposures: 1, errors: 0 }, { exposures: 1, errors: 0 });
    clock.t += 15_000;
    for (let i = 0; i < UPLOADS_PER_MINUTE; i++) expect((await (i % 2 ? r2 : r1).inject(busy.key, { method: 'POST', url: '/api/sdk/metrics', payload: one })).statusCode).toBe(202);
    for (const r of [r1, r2]) {
      const limited = await r.inject(busy.key, { method: 'POST', url: '/api/sdk/metrics', payload: one });
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('45');
      expect(limited.json().error).toMatchObject({ code: 'rate_limited' });
      expect(limited.json().error.message).toContain('"busy"');
    }
    expect((await upload(quiet.key, one)).statusCode).toBe(202);
    clock.t += 45_000;
    expect((await upload(busy.key, one)).statusCode).toBe(202);
  });
});
