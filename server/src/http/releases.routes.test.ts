import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../app.js';
import { bootstrap } from '../services/bootstrap.js';
import { openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { TEST_ADMIN_TOKEN, bearerHeader } from '../testing/test-app.js';
import { latencyBucket } from '../domain/releases/latency.js';
import { EXPOSURE_METRIC, MAX_UPLOAD_COUNT } from '../domain/releases/metrics.js';
import { verifySignature } from '../domain/releases/webhooks.js';

const ENV = 'production';
const MINUTE = 60_000;

interface Harness {
  app: Awaited<ReturnType<typeof buildApp>>;
  database: TestDatabase;
  clock: { t: number };
  sent: { url: string; body: string; signature: string }[];
  failWebhooks: { on: boolean };
  inject(token: string | null, opts: InjectOptions): Promise<LightMyRequestResponse>;
  sdkKey: string;
  viewer: string;
}

/** A server whose runner and webhook dispatcher the test drives by hand, on a clock it moves. */
async function harness(existing?: TestDatabase): Promise<Harness> {
  const database = existing ?? (await openTestDatabase('releases'));
  const clock = { t: Date.UTC(2026, 0, 1) };
  const sent: Harness['sent'] = [];
  const failWebhooks = { on: false };
  const fakeFetch = (async (url: string, init: RequestInit) => {
    sent.push({ url, body: String(init.body), signature: String((init.headers as Record<string, string>)['x-switchyard-signature']) });
    return new Response(null, { status: failWebhooks.on ? 503 : 200 });
  }) as unknown as typeof fetch;
  const app = await buildApp({ db: database.db, defaultMetrics: false, dashboardDir: null, now: () => clock.t, background: false, fetch: fakeFetch });
  if (!existing) await bootstrap(app.services.writes, app.services.environments, TEST_ADMIN_TOKEN);
  await app.ready();
  const inject = (token: string | null, opts: InjectOptions) => app.inject({ ...opts, headers: { ...(token ? bearerHeader(token) : {}), ...(opts.headers ?? {}) } });
  const keyRes = await inject(TEST_ADMIN_TOKEN, { method: 'POST', url: '/api/sdk-keys', payload: { name: `k${Math.random()}`, environment: ENV } });
  const viewerRes = await inject(TEST_ADMIN_TOKEN, { method: 'POST', url: '/api/tokens', payload: { name: `v${Math.random()}`, role: 'viewer' } });
  return { app, database, clock, sent, failWebhooks, inject, sdkKey: keyRes.json().key, viewer: viewerRes.json().token };
}

const planUrl = (flag: string, suffix = '') => `/api/flags/${flag}/environments/${ENV}/release-plan${suffix}`;

let h: Harness;
beforeEach(async () => {
  h = await harness();
  await h.inject(TEST_ADMIN_TOKEN, { method: 'POST', url: '/api/flags', payload: { key: 'checkout' } });
});
afterEach(async () => {
  await h.app.close();
  await h.database.close();
});

const admin = (opts: InjectOptions) => h.inject(TEST_ADMIN_TOKEN, opts);
const stageOf = async (flag: string) => (await admin({ method: 'GET', url: `/api/flags/${flag}` })).json().environments[ENV].stage as string;
const look = () => h.app.services.runner.lookAt('checkout', ENV);

/** Report counts, in as many uploads as the per-upload cap needs (as several SDK instances would). */
async function report(on: { exposures: number; errors: number }, off: { exposures: number; errors: number }) {
  const uploads = Math.ceil(Math.max(on.exposures, off.exposures) / MAX_UPLOAD_COUNT);
  const part = (n: number, i: number) => Math.floor(n / uploads) + (i === 0 ? n % uploads : 0);
  for (let i = 0; i < uploads; i++) {
    const res = await h.inject(h.sdkKey, {
      method: 'POST',
      url: '/api/sdk/metrics',
      payload: {
        exposures: [{ flag: 'checkout', variation: 'on', count: part(on.exposures, i) }, { flag: 'checkout', variation: 'off', count: part(off.exposures, i) }],
        events: [{ name: 'error', flag: 'checkout', variation: 'on', count: part(on.errors, i) }, { name: 'error', flag: 'checkout', variation: 'off', count: part(off.errors, i) }].filter((e) => e.count > 0),
      },
    });
    expect(res.statusCode, res.body).toBe(202);
  }
}

async function startDefaultPlan() {
  expect((await admin({ method: 'PUT', url: planUrl('checkout'), payload: { strategy: 'guarded' } })).statusCode).toBe(200);
  const started = await admin({ method: 'POST', url: planUrl('checkout', '/start') });
  expect(started.statusCode).toBe(200);
  return started.json();
}

describe('release plan routes: bad input', () => {
  const cases = [
    { name: 'unknown strategy', payload: { strategy: 'yolo' }, field: 'strategy' },
    { name: 'steps going down', payload: { strategy: 'guarded', steps: [{ percentage: 10, minDurationMs: 0, minExposures: 0 }, { percentage: 5, minDurationMs: 0, minExposures: 0 }] }, field: 'steps[1].percentage' },
    { name: 'percentage above 100', payload: { strategy: 'guarded', steps: [{ percentage: 120, minDurationMs: 0, minExposures: 0 }] }, field: 'steps[0].percentage' },
    { name: 'alpha out of range', payload: { strategy: 'guarded', guard: { alpha: 2 } }, field: 'guard.alpha' },
    { name: 'rolling without interval', payload: { strategy: 'rolling', incrementPercent: 10 }, field: 'intervalMs' },
    { name: 'unknown field', payload: { strategy: 'guarded', extra: 1 }, field: '' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const res = await admin({ method: 'PUT', url: planUrl('checkout'), payload: c.payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toContain(c.field);
    });
  }

  it('404 for an unknown flag or environment, 403 for viewers, 401 without credentials', async () => {
    expect((await admin({ method: 'PUT', url: '/api/flags/nope/environments/production/release-plan', payload: { strategy: 'guarded' } })).statusCode).toBe(404);
    expect((await admin({ method: 'PUT', url: '/api/flags/checkout/environments/mars/release-plan', payload: { strategy: 'guarded' } })).statusCode).toBe(404);
    expect((await h.inject(h.viewer, { method: 'PUT', url: planUrl('checkout'), payload: { strategy: 'guarded' } })).statusCode).toBe(403);
    expect((await h.inject(null, { method: 'GET', url: planUrl('checkout') })).statusCode).toBe(401);
    expect((await admin({ method: 'POST', url: planUrl('checkout', '/start') })).statusCode).toBe(404);
  });

  it('409 for actions that do not fit the status', async () => {
    await admin({ method: 'PUT', url: planUrl('checkout'), payload: { strategy: 'guarded' } });
    expect((await admin({ method: 'POST', url: planUrl('checkout', '/pause') })).statusCode).toBe(409);
    expect((await admin({ method: 'POST', url: planUrl('checkout', '/resume') })).statusCode).toBe(409);
    expect((await admin({ method: 'POST', url: planUrl('checkout', '/abort') })).statusCode).toBe(409);
    await admin({ method: 'POST', url: planUrl('checkout', '/start') });
    expect((await admin({ method: 'POST', url: planUrl('checkout', '/start') })).statusCode).toBe(409);
    expect((await admin({ method: 'PUT', url: planUrl('checkout'), payload: { strategy: 'guarded' } })).statusCode).toBe(409);
    expect((await admin({ method: 'DELETE', url: planUrl('checkout') })).statusCode).toBe(409);
  });

  it('metrics: SDK keys only, validated bodies', async () => {
    expect((await admin({ method: 'POST', url: '/api/sdk/metrics', payload: {} })).statusCode).toBe(403);
    const bad = await h.inject(h.sdkKey, { method: 'POST', url: '/api/sdk/metrics', payload: { exposures: [{ flag: 'checkout', variation: 'on', count: -1 }] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain('exposures[0].count');
  });
});

describe('the guarded rollout loop', () => {
  it('starts at 1% with the guard marker, advances when healthy, completes at 100%', async () => {
    const plan = await startDefaultPlan();
    expect(plan.status).toBe('running');
    expect(await stageOf('checkout')).toBe('1%');
    expect((await h.app.services.ruleSets.get(ENV))!.flags.checkout).toMatchObject({ guarded: true });
    // Unguarded flags are dropped by the metrics endpoint.
    await admin({ method: 'POST', url: '/api/flags', payload: { key: 'other' } });
    const other = await h.inject(h.sdkKey, { method: 'POST', url: '/api/sdk/metrics', payload: { exposures: [{ flag: 'other', variation: 'on', count: 5 }] } });
    expect(other.json()).toEqual({ accepted: 0, dropped: 1, rejected: [{ flag: 'other', variation: 'on', metric: EXPOSURE_METRIC, reason: 'no_running_plan' }] });

    for (const stage of ['10%', '50%', '100%']) {
      await report({ exposures: 6000, errors: 60 }, { exposures: 60_000, errors: 600 });
      await look();
      expect(await stageOf('checkout')).not.toBe(stage); // the step's minimum duration is not over yet
      h.clock.t += 11 * MINUTE;
      await report({ exposures: 6000, errors: 60 }, { exposures: 60_000, errors: 600 });
      await look();
      expect(await stageOf('checkout')).toBe(stage);
    }
    const view = (await admin({ method: 'GET', url: planUrl('checkout') })).json();
    expect(view.plan.status).toBe('completed');
    expect(view.guarded).toBe(false);
    expect(view.events.map((e: { kind: string }) => e.kind)).toEqual(['completed', 'advanced', 'advanced', 'started', 'created']);
    const audit = (await admin({ method: 'GET', url: '/api/audit?actor=release-guard&limit=50' })).json();
    expect(audit.items.length).toBeGreaterThanOrEqual(6);
    expect(audit.items.some((e: { message: string }) => /log Λ/.test(e.message))).toBe(true);
  });

  it('rolls back to dogfood with the evidence when the new variation fails 5× more often', async () => {
    await startDefaultPlan();
    await report({ exposures: 2000, errors: 100 }, { exposures: 100_000, errors: 1000 });
    await look();
    expect(await stageOf('checkout')).toBe('dogfood');
    const view = (await admin({ method: 'GET', url: planUrl('checkout') })).json();
    expect(view.plan.status).toBe('rolled_back');
    expect(view.guarded).toBe(false);
    expect(view.events[0].kind).toBe('rolled_back');
    expect(view.events[0].evidence.errors.verdict).toBe('regression');
    // The flag list keeps showing it: a rolled-back canary is news until a new plan starts.
    const summary = (await admin({ method: 'GET', url: '/api/flag-summaries/checkout' })).json();
    expect(summary.environments[ENV].releasePlan).toEqual({ strategy: 'guarded', status: 'rolled_back' });
    const audit = (await admin({ method: 'GET', url: '/api/audit?actor=release-guard&limit=10' })).json();
    const rollback = audit.items.find((e: { action: string }) => e.action === 'release.rolled_back');
    expect(rollback.source).toBe('release-guard');
    expect(rollback.after.errors.treatment).toMatchObject({ exposures: 2000, errors: 100 });
    expect(rollback.message).toMatch(/100\/2000 errors \(5\.00%\)/);
  });

  it('rolls back on the optional p95 latency guard', async () => {
    const guard = { latency: { event: 'latency_ms', minSamples: 100 } };
    expect((await admin({ method: 'PUT', url: planUrl('checkout'), payload: { strategy: 'guarded', guard } })).statusCode).toBe(200);
    await admin({ method: 'POST', url: planUrl('checkout', '/start') });
    const latency = (variation: string, ms: number, count: number) => ({ name: 'latency_ms', flag: 'checkout', variation, count, sum: ms * count, buckets: { [String(latencyBucket(ms))]: count } });
    await h.inject(h.sdkKey, {
      method: 'POST',
      url: '/api/sdk/metrics',
      payload: { exposures: [{ flag: 'checkout', variation: 'on', count: 300 }, { flag: 'checkout', variation: 'off', count: 3000 }], events: [latency('on', 300, 300), latency('off', 100, 3000)] },
    });
    await look();
    const view = (await admin({ method: 'GET', url: planUrl('checkout') })).json();
    expect(view.plan.status).toBe('rolled_back');
    expect(view.events[0].message).toMatch(/p95 "latency_ms"/);
    expect(view.evidence.latency).toMatchObject({ verdict: 'regression', controlSamples: 3000, treatmentSamples: 300 });
  });

  it('pauses when data stops, and when someone moves the flag; resume puts the step back', async () => {
    await startDefaultPlan();
    h.clock.t += 6 * MINUTE;
    await look();
    let view = (await admin({ method: 'GET', url: planUrl('checkout') })).json();
    expect(view.plan.status).toBe('paused');
    expect(view.plan.pauseReason).toMatch(/no exposures/);
    await admin({ method: 'POST', url: planUrl('checkout', '/resume') });
    const flag = (await admin({ method: 'GET', url: '/api/flags/checkout' })).json();
    await admin({ method: 'POST', url: `/api/flags/checkout/environments/${ENV}/stage`, payload: { stage: '30%', version: flag.version } });
    await report({ exposures: 10, errors: 0 }, { exposures: 10, errors: 0 });
    await look();
    view = (await admin({ method: 'GET', url: planUrl('checkout') })).json();
    expect(view.plan.pauseReason).toMatch(/changed outside the plan/);
    expect((await admin({ method: 'POST', url: planUrl('checkout', '/resume') })).statusCode).toBe(200);
    expect(await stageOf('checkout')).toBe('1%');
  });

  it('never ramps down: a flag already at 20% starts at the 50% step', async () => {
    const flag = (await admin({ method: 'GET', url: '/api/flags/checkout' })).json();
    await admin({ method: 'POST', url: `/api/flags/checkout/environments/${ENV}/stage`, payload: { stage: '20%', version: flag.version } });
    const plan = await startDefaultPlan();
    expect(plan.currentStep).toBe(2);
    expect(await stageOf('checkout')).toBe('50%');
  });

  it('skip, pause and abort by hand', async () => {
    await startDefaultPlan();
    expect((await admin({ method: 'POST', url: planUrl('checkout', '/skip') })).json().currentStep).toBe(1);
    expect(await stageOf('checkout')).toBe('10%');
    expect((await admin({ method: 'POST', url: planUrl('checkout', '/pause'), payload: { reason: 'lunch' } })).json()).toMatchObject({ status: 'paused', pauseReason: 'lunch' });
    expect((await admin({ method: 'POST', url: planUrl('checkout', '/abort') })).json().status).toBe('aborted');
    expect(await stageOf('checkout')).toBe('dogfood');
  });

  it('survives a restart: a second server on the same database resumes the plan', async () => {
    await startDefaultPlan();
    await h.app.close();
    const second = await harness(h.database);
    second.clock.t = h.clock.t + 6 * MINUTE;
    const res = await second.inject(second.sdkKey, { method: 'POST', url: '/api/sdk/metrics', payload: { exposures: [{ flag: 'checkout', variation: 'on', count: 500 }, { flag: 'checkout', variation: 'off', count: 50_000 }] } });
    expect(res.json().accepted).toBe(2);
    await second.app.services.runner.tick();
    const view = (await second.inject(TEST_ADMIN_TOKEN, { method: 'GET', url: planUrl('checkout') })).json();
    expect(view.stage).toBe('10%');
    await second.app.close();
  });

  it('a rolling plan ramps by its increment to the cap without a guard', async () => {
    await admin({ method: 'PUT', url: planUrl('checkout'), payload: { strategy: 'rolling', incrementPercent: 20, intervalMs: MINUTE, capPercent: 50 } });
    await admin({ method: 'POST', url: planUrl('checkout', '/start') });
    expect(await stageOf('checkout')).toBe('20%');
    for (const stage of ['40%', '50%']) {
      h.clock.t += MINUTE;
      await look();
      expect(await stageOf('checkout')).toBe(stage);
    }
    h.clock.t += MINUTE;
    await look();
    expect((await admin({ method: 'GET', url: planUrl('checkout') })).json().plan.status).toBe('completed');
    expect(await stageOf('checkout')).toBe('50%');
  });

  it('exposes the metric series for the chart', async () => {
    await startDefaultPlan();
    await report({ exposures: 10, errors: 1 }, { exposures: 90, errors: 1 });
    const series = (await admin({ method: 'GET', url: planUrl('checkout', '/metrics') })).json();
    expect(series.points).toContainEqual(expect.objectContaining({ variation: 'on', metric: EXPOSURE_METRIC, count: 10 }));
  });

  it('adds up an upload that names the same count twice, histograms too', async () => {
    await startDefaultPlan();
    const latency = (ms: number) => String(latencyBucket(ms));
    const res = await h.inject(h.sdkKey, {
      method: 'POST',
      url: '/api/sdk/metrics',
      payload: {
        exposures: [{ flag: 'checkout', variation: 'on', count: 3 }, { flag: 'checkout', variation: 'on', count: 4 }],
        events: [
          { name: 'latency_ms', flag: 'checkout', variation: 'on', count: 1, sum: 10, buckets: { [latency(10)]: 1 } },
          { name: 'latency_ms', flag: 'checkout', variation: 'on', count: 2, sum: 30, buckets: { [latency(10)]: 1, [latency(20)]: 1 } },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(202);
    const series = (await admin({ method: 'GET', url: planUrl('checkout', '/metrics') })).json();
    expect(series.points).toContainEqual(expect.objectContaining({ variation: 'on', metric: EXPOSURE_METRIC, count: 7 }));
    expect(series.points).toContainEqual(expect.objectContaining({ variation: 'on', metric: 'latency_ms', count: 3 }));
  });
});

describe('blue/green', () => {
  it('switches all traffic to the other side in one call, and back', async () => {
    await admin({ method: 'POST', url: '/api/flags', payload: { key: 'stack', type: 'string', variations: [{ key: 'blue', value: 'blue' }, { key: 'green', value: 'green' }] } });
    const first = await admin({ method: 'POST', url: `/api/flags/stack/environments/${ENV}/switch` });
    expect(first.json()).toMatchObject({ previous: 'blue', live: 'green' });
    expect(first.json().flag.environments[ENV]).toMatchObject({ on: true, defaultServe: { variation: 'green' } });
    const back = await admin({ method: 'POST', url: `/api/flags/stack/environments/${ENV}/switch`, payload: { to: 'blue' } });
    expect(back.json()).toMatchObject({ previous: 'green', live: 'blue' });
    expect((await admin({ method: 'POST', url: `/api/flags/stack/environments/${ENV}/switch`, payload: { to: 'red' } })).statusCode).toBe(400);
    await admin({ method: 'POST', url: '/api/flags', payload: { key: 'tri', type: 'string', variations: [{ key: 'a', value: 'a' }, { key: 'b', value: 'b' }, { key: 'c', value: 'c' }] } });
    expect((await admin({ method: 'POST', url: `/api/flags/tri/environments/${ENV}/switch` })).statusCode).toBe(400);
  });
});

describe('webhooks', () => {
  it('signs stage changes and rollbacks, retries failures and logs deliveries', async () => {
    expect((await admin({ method: 'POST', url: '/api/webhooks', payload: { url: 'ftp://x' } })).statusCode).toBe(400);
    expect((await admin({ method: 'POST', url: '/api/webhooks', payload: { url: 'https://hooks.example/x', events: ['nope'] } })).statusCode).toBe(400);
    const created = await admin({ method: 'POST', url: '/api/webhooks', payload: { url: 'https://hooks.example/x' } });
    expect(created.statusCode).toBe(201);
    const { id, secret } = created.json();
    await startDefaultPlan();
    await h.app.services.webhooks.pump();
    await report({ exposures: 2000, errors: 100 }, { exposures: 100_000, errors: 1000 });
    await look();
    await h.app.services.webhooks.pump();
    const events = h.sent.map((s) => JSON.parse(s.body).event);
    expect(events).toEqual(expect.arrayContaining(['release.started', 'flag.stage_changed', 'release.rolled_back']));
    for (const s of h.sent) expect(verifySignature(secret, s.signature, s.body)).toBe(true);
    expect(verifySignature('wrong', h.sent[0]!.signature, h.sent[0]!.body)).toBe(false);

    h.failWebhooks.on = true;
    await admin({ method: 'POST', url: planUrl('checkout', '/start') }).catch(() => undefined);
    const before = h.sent.length;
    await admin({ method: 'PUT', url: planUrl('checkout'), payload: { strategy: 'guarded' } });
    await admin({ method: 'POST', url: planUrl('checkout', '/start') });
    await h.app.services.webhooks.pump();
    h.clock.t += 10 * MINUTE;
    await h.app.services.webhooks.pump();
    expect(h.sent.length).toBeGreaterThan(before);
    const log = (await admin({ method: 'GET', url: `/api/webhooks/${id}/deliveries` })).json();
    expect(log.items.some((d: { status: string; attempts: number }) => d.status === 'pending' && d.attempts >= 2)).toBe(true);
    expect((await admin({ method: 'GET', url: '/api/webhooks/999/deliveries' })).statusCode).toBe(404);
    expect((await h.inject(h.viewer, { method: 'GET', url: '/api/webhooks' })).statusCode).toBe(403);
  });

  it('audits adding and removing a webhook, never with its secret', async () => {
    const created = await admin({ method: 'POST', url: '/api/webhooks', payload: { url: 'https://hooks.example/audit', events: ['release.rolled_back'] } });
    const { id, secret } = created.json();
    expect((await admin({ method: 'DELETE', url: `/api/webhooks/${id}` })).statusCode).toBe(204);
    expect((await admin({ method: 'DELETE', url: `/api/webhooks/${id}` })).statusCode).toBe(404);
    const audit = (await admin({ method: 'GET', url: '/api/audit?resourceType=webhook' })).json();
    expect(audit.items.map((e: { action: string; resourceKey: string }) => [e.action, e.resourceKey])).toEqual([
      ['webhook.deleted', String(id)],
      ['webhook.created', String(id)],
    ]);
    expect(audit.items[1].after).toEqual({ url: 'https://hooks.example/audit', events: ['release.rolled_back'] });
    expect(audit.items[0].before).toEqual({ url: 'https://hooks.example/audit', events: ['release.rolled_back'] });
    expect(JSON.stringify(audit)).not.toContain(secret);
  });
});
