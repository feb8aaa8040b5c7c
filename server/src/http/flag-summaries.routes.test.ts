import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DashboardEvent } from '../services/dashboard-events.js';
import { createFlag, createTestApp, setStage, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const ENVIRONMENTS = ['development', 'production', 'staging'];

interface SummaryBody {
  key: string;
  name: string;
  tags: string[];
  owner: string;
  type: string;
  archived: boolean;
  clientVisible: boolean;
  managedBy: string | null;
  version: number;
  updatedAt: string;
  updatedBy: string;
  environments: Record<string, { stage: string; on: boolean; killed: boolean; ruleCount: number; guarded: boolean; releasePlan: { strategy: string; status: string } | null }>;
}

async function list(query = '', token = t.tokens.viewer): Promise<SummaryBody[]> {
  const res = await t.request(token, { method: 'GET', url: `/api/flag-summaries${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ items: SummaryBody[] }>().items;
}

async function summary(key: string, query = ''): Promise<SummaryBody> {
  const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flag-summaries/${key}${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<SummaryBody>();
}

async function fullFlag(key: string): Promise<FlagBody> {
  const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<FlagBody>();
}

async function patchEnvironment(key: string, environment: string, patch: Record<string, unknown>): Promise<void> {
  const { version } = await fullFlag(key);
  const res = await t.request(t.adminToken, { method: 'PATCH', url: `/api/flags/${key}/environments/${environment}`, payload: { version, ...patch } });
  expect(res.statusCode, res.body).toBe(200);
}

function expectInvalid(res: { statusCode: number; json: <T>() => T }, field: string, message?: RegExp): void {
  expect(res.statusCode).toBe(400);
  const { error } = res.json<ErrorBody>();
  expect(error.code).toBe('validation_failed');
  expect(error.message).toContain(field);
  if (message) expect(error.message).toMatch(message);
}

describe('GET /api/flag-summaries', () => {
  it('gives each flag only what a list row shows, for viewers', async () => {
    await createFlag(t, 'checkout', { name: 'New checkout', description: 'x'.repeat(3000), tags: ['payments'], owner: 'ana', clientVisible: true });
    const full = await fullFlag('checkout');
    const env = { stage: 'off', stageSummary: 'off', on: false, killed: false, ruleCount: 0, guarded: false, releasePlan: null, lastEvaluatedAt: null };
    const expected = {
      key: 'checkout',
      name: 'New checkout',
      tags: ['payments'],
      owner: 'ana',
      type: 'boolean',
      archived: false,
      clientVisible: true,
      managedBy: null,
      version: full.version,
      updatedAt: full.updatedAt,
      updatedBy: 'admin',
      environments: Object.fromEntries(ENVIRONMENTS.map((e) => [e, env])),
      lifecycle: 'new',
    };
    expect(await list()).toEqual([expected]);
    expect(await summary('checkout')).toEqual(expected);
  });

  it('reports the same stage as the full flag, for every stage', async () => {
    const stages = ['off', 'dogfood', '0%', '0.5%', '10%', '50%', '100%', 'kill'];
    for (const [i, stage] of stages.entries()) {
      const key = `flag-${i}`;
      await createFlag(t, key);
      // The same stage in production, another one in staging: each environment is summarised on its own.
      if (stage !== 'off') await setStage(t, key, 'production', stage);
      await setStage(t, key, 'staging', stages[(i + 3) % stages.length]!);
    }
    await createFlag(t, 'hand-made');
    // On, a rollout but no dogfood rule: fits no stage.
    await patchEnvironment('hand-made', 'production', { on: true, defaultServe: { rollout: { variations: [{ variation: 'on', weight: 30_000 }, { variation: 'off', weight: 70_000 }] } } });
    await createFlag(t, 'targeted');
    await patchEnvironment('targeted', 'production', { on: true, targets: [{ variation: 'on', values: ['qa-1'] }] });

    const summaries = await list();
    const seen = new Set<string>();
    for (const row of summaries) {
      const full = await fullFlag(row.key);
      for (const environment of ENVIRONMENTS) {
        const config = full.environments[environment]!;
        expect(row.environments[environment], `${row.key} in ${environment}`).toMatchObject({ stage: config.stage, stageSummary: (config as { stageSummary?: string }).stageSummary, on: config.on, killed: config.killed, ruleCount: config.rules.length });
        expect((await summary(row.key)).environments[environment]!.stage).toBe(config.stage);
        seen.add(config.stage);
      }
    }
    expect([...seen].sort()).toEqual(['0.5%', '10%', '100%', '50%', 'custom', 'dogfood', 'kill', 'off']);
    expect(summaries.find((s) => s.key === 'flag-4')!.environments.production).toEqual({ stage: '10%', stageSummary: '10%', on: true, killed: false, ruleCount: 1, guarded: false, releasePlan: null, lastEvaluatedAt: null });
  });

  it('filters as /api/flags does: search (description too), tag, archived, stage in an environment or any', async () => {
    await createFlag(t, 'checkout', { tags: ['payments'], description: 'the new basket flow' });
    await createFlag(t, 'search', { tags: ['discovery'] });
    await createFlag(t, 'old', { tags: ['payments'] });
    expect((await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/old', payload: { version: 1, archived: true } })).statusCode).toBe(200);
    await setStage(t, 'checkout', 'production', '10%');
    await setStage(t, 'search', 'staging', '100%');

    const keys = async (query: string) => (await list(query)).map((s) => s.key).sort();
    expect(await keys('')).toEqual(['checkout', 'search']);
    expect(await keys('?q=BASKET')).toEqual(['checkout']);
    expect(await keys('?tag=payments')).toEqual(['checkout']);
    expect(await keys('?tag=payments&archived=all')).toEqual(['checkout', 'old']);
    expect(await keys('?archived=true')).toEqual(['old']);
    expect(await keys('?stage=rollout')).toEqual(['checkout']);
    expect(await keys('?stage=10.0%25&environment=production')).toEqual(['checkout']);
    expect(await keys('?stage=10%25&environment=staging')).toEqual([]);
    expect(await keys('?stage=100%25')).toEqual(['search']);
    expect(await keys('?stage=off&environment=production')).toEqual(['search']);
    // Empty values filter nothing, as on /api/flags.
    expect(await keys('?q=&tag=')).toEqual(['checkout', 'search']);
    // The same filters on the full list agree.
    for (const query of ['?q=BASKET', '?tag=payments&archived=all', '?stage=rollout', '?stage=off&environment=production']) {
      const full = (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags${query}` })).json<{ items: FlagBody[] }>().items.map((f) => f.key).sort();
      expect(await keys(query), query).toEqual(full);
    }
  });

  it('narrows every summary to one environment when asked', async () => {
    await createFlag(t, 'checkout');
    await setStage(t, 'checkout', 'production', 'dogfood');
    const [row] = await list('?environment=production');
    expect(Object.keys(row!.environments)).toEqual(['production']);
    expect(row!.environments.production!.stage).toBe('dogfood');
    expect(Object.keys((await summary('checkout', '?environment=staging')).environments)).toEqual(['staging']);
  });

  it('shows a release plan under way and the guard marker, and drops the plan when it ends', async () => {
    await createFlag(t, 'checkout');
    const plan = (suffix = '') => `/api/flags/checkout/environments/production/release-plan${suffix}`;
    expect((await t.request(t.adminToken, { method: 'PUT', url: plan(), payload: { strategy: 'guarded' } })).statusCode).toBe(200);
    // A plan drafted but not started is nothing to show in the list.
    expect((await summary('checkout')).environments.production!.releasePlan).toBeNull();
    expect((await t.request(t.adminToken, { method: 'POST', url: plan('/start'), payload: {} })).statusCode).toBe(200);
    expect((await summary('checkout')).environments.production).toMatchObject({ guarded: true, releasePlan: { strategy: 'guarded', status: 'running' } });
    expect((await t.request(t.adminToken, { method: 'POST', url: plan('/pause'), payload: { reason: 'checking' } })).statusCode).toBe(200);
    const [row] = await list();
    expect(row!.environments.production!.releasePlan).toEqual({ strategy: 'guarded', status: 'paused' });
    expect(row!.environments.staging!.releasePlan).toBeNull();
    expect((await t.request(t.adminToken, { method: 'POST', url: plan('/abort'), payload: {} })).statusCode).toBe(200);
    expect((await summary('checkout')).environments.production).toMatchObject({ guarded: false, releasePlan: null });
  });

  it('names the flag and environment in the live event, so one row can be re-read', async () => {
    await createFlag(t, 'checkout');
    await createFlag(t, 'other');
    const events: DashboardEvent[] = [];
    const unsubscribe = t.services.dashboard.subscribe((e) => events.push(e));
    try {
      await setStage(t, 'checkout', 'production', '50%');
      const deadline = Date.now() + 5_000;
      while (!events.some((e) => e.key === 'checkout') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(events).toContainEqual(expect.objectContaining({ type: 'flag', key: 'checkout', environment: 'production' }));
      const event = events.find((e) => e.key === 'checkout')!;
      const row = await summary(event.key, `?environment=${event.environment}`);
      expect(row.environments).toEqual({ production: expect.objectContaining({ stage: '50%', on: true }) });
      expect(row.version).toBe(event.version);
    } finally {
      unsubscribe();
    }
  });

  it('compresses the list when the client accepts it, and says that the response varies', async () => {
    for (let i = 0; i < 10; i++) await createFlag(t, `flag-${i}`, { tags: ['bench'] });
    const plain = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flag-summaries' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
    expect(plain.headers['content-type']).toMatch(/^application\/json/);
    for (const { accept, encoding, decode } of [
      { accept: 'gzip, deflate, br', encoding: 'br', decode: brotliDecompressSync },
      { accept: 'gzip', encoding: 'gzip', decode: gunzipSync },
      { accept: 'br;q=0.5, gzip', encoding: 'gzip', decode: gunzipSync },
    ]) {
      const res = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flag-summaries', headers: { 'accept-encoding': accept } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-encoding'], accept).toBe(encoding);
      expect(res.headers.vary).toMatch(/accept-encoding/i);
      expect(res.rawPayload.length).toBeLessThan(plain.rawPayload.length / 3);
      expect(JSON.parse(decode(res.rawPayload).toString())).toEqual(plain.json());
    }
    const identity = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flag-summaries', headers: { 'accept-encoding': 'identity' } });
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.body).toBe(plain.body);
  });
});

describe('flag summaries: access and bad requests', () => {
  it('401 without credentials, 403 for an SDK key; viewers, editors and admins may read', async () => {
    await createFlag(t, 'checkout');
    for (const url of ['/api/flag-summaries', '/api/flag-summaries/checkout']) {
      expect((await t.request(null, { method: 'GET', url })).statusCode).toBe(401);
      expect((await t.request(await t.sdkKey('production'), { method: 'GET', url })).statusCode).toBe(403);
      for (const token of [t.tokens.viewer, t.tokens.editor, t.tokens.admin]) expect((await t.request(token, { method: 'GET', url })).statusCode).toBe(200);
    }
  });

  it.each([
    { name: 'an unknown archived value', query: '?archived=maybe', field: 'query.archived' },
    { name: 'an unknown stage', query: '?stage=sideways', field: 'query.stage', message: /use off, dogfood/ },
    { name: 'a percentage above 100', query: '?stage=150%25', field: 'query.stage' },
    { name: 'an unknown environment', query: '?environment=nowhere', field: 'query.environment', message: /unknown environment "nowhere"/ },
    { name: 'an environment named like a prototype property', query: '?environment=constructor', field: 'query.environment' },
    { name: 'an empty environment', query: '?environment=', field: 'query.environment' },
    { name: 'a repeated tag', query: '?tag=a&tag=b', field: 'query.tag' },
    { name: 'an over-long search', query: `?q=${'x'.repeat(300)}`, field: 'query.q' },
    { name: 'an unknown parameter', query: '?view=full', field: 'query' },
  ])('400 naming the field for $name', async ({ query, field, message }) => {
    await createFlag(t, 'checkout');
    expectInvalid(await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flag-summaries${query}` }), field, message);
  });

  it('400 for an unknown environment, 404 for an unknown flag, on the single summary', async () => {
    await createFlag(t, 'checkout');
    expectInvalid(await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flag-summaries/checkout?environment=nowhere' }), 'query.environment');
    expectInvalid(await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flag-summaries/checkout?stage=off' }), 'query');
    const missing = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flag-summaries/nothing' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<ErrorBody>().error).toMatchObject({ code: 'not_found', message: 'flag "nothing" not found' });
  });

  it('documents both routes and the summary shape in the OpenAPI document', async () => {
    const doc = (await t.request(null, { method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { parameters?: { name: string }[] }>>; components: { schemas: Record<string, unknown> } }>();
    expect(doc.paths['/api/flag-summaries']?.get?.parameters?.map((p) => p.name).sort()).toEqual(['archived', 'environment', 'lifecycle', 'q', 'stage', 'tag']);
    expect(doc.paths['/api/flag-summaries/{key}']?.get).toBeDefined();
    expect(doc.components.schemas.FlagSummary).toMatchObject({ properties: { environments: expect.any(Object), managedBy: expect.any(Object) } });
  });
});
