import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const flagUrl = (key: string) => `/api/flags/${key}`;
const stageUrl = (key: string, env = 'production') => `/api/flags/${key}/environments/${env}/stage`;

async function readFlag(key: string): Promise<FlagBody> {
  const res = await t.request(t.tokens.viewer, { method: 'GET', url: flagUrl(key) });
  expect(res.statusCode).toBe(200);
  return res.json<FlagBody>();
}

function expectError(res: { statusCode: number; json: <T>() => T }, status: number, code: string, message?: RegExp) {
  expect(res.statusCode).toBe(status);
  const body = res.json<ErrorBody>();
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  if (message) expect(body.error.message).toMatch(message);
  return body;
}

describe('authentication and roles on /api/flags', () => {
  it('401 without credentials', async () => {
    expectError(await t.request(null, { method: 'GET', url: '/api/flags' }), 401, 'unauthorized', /missing credentials/);
  });

  it('401 with an unknown token or a malformed Authorization header', async () => {
    expectError(await t.request('sy_api_not-a-real-token', { method: 'GET', url: '/api/flags' }), 401, 'unauthorized', /invalid or revoked/);
    const res = await t.app.inject({ method: 'GET', url: '/api/flags', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } });
    expectError(res, 401, 'unauthorized');
  });

  it('401 with a revoked token', async () => {
    const created = await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', payload: { name: 'temp', role: 'editor' } });
    const { id, token } = created.json<{ id: number; token: string }>();
    expect((await t.request(token, { method: 'GET', url: '/api/flags' })).statusCode).toBe(200);
    expect((await t.request(t.adminToken, { method: 'DELETE', url: `/api/tokens/${id}` })).statusCode).toBe(200);
    expectError(await t.request(token, { method: 'GET', url: '/api/flags' }), 401, 'unauthorized');
  });

  it('403 for an SDK key on the management API', async () => {
    const key = await t.sdkKey('production');
    expectError(await t.request(key, { method: 'GET', url: '/api/flags' }), 403, 'forbidden', /SDK keys/);
    expectError(await t.request(key, { method: 'POST', url: '/api/flags', payload: { key: 'x' } }), 403, 'forbidden');
  });

  it('403 for a viewer writing, on every write route', async () => {
    await createFlag(t, 'f');
    const writes = [
      { method: 'POST' as const, url: '/api/flags', payload: { key: 'g' } },
      { method: 'PATCH' as const, url: flagUrl('f'), payload: { version: 1, name: 'x' } },
      { method: 'DELETE' as const, url: flagUrl('f'), payload: { version: 1 } },
      { method: 'PATCH' as const, url: `${flagUrl('f')}/environments/production`, payload: { version: 1, on: true } },
      { method: 'POST' as const, url: stageUrl('f'), payload: { version: 1, stage: '10%' } },
      { method: 'POST' as const, url: `${flagUrl('f')}/environments/production/kill`, payload: {} },
    ];
    for (const write of writes) {
      expectError(await t.request(t.tokens.viewer, write), 403, 'forbidden', /editor role/);
    }
    expect((await readFlag('f')).version).toBe(1);
  });

  it('editors can write', async () => {
    const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags', payload: { key: 'by-editor' } });
    expect(res.statusCode).toBe(201);
    expect(res.json<FlagBody>().updatedBy).toBe('editor');
  });
});

describe('GET /api/flags', () => {
  beforeEach(async () => {
    await createFlag(t, 'checkout', { name: 'New checkout', tags: ['payments'] });
    await createFlag(t, 'search', { description: 'Faster search index' });
    await createFlag(t, 'old-banner');
    const banner = await readFlag('old-banner');
    await t.request(t.adminToken, { method: 'PATCH', url: flagUrl('old-banner'), payload: { version: banner.version, archived: true } });
    await setStage(t, 'search', 'staging', '10%');
  });

  const keys = async (query: string) => {
    const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags${query}` });
    expect(res.statusCode).toBe(200);
    return res.json<{ items: FlagBody[] }>().items.map((f) => f.key);
  };

  it('lists unarchived flags by default, sorted by key', async () => {
    expect(await keys('')).toEqual(['checkout', 'search']);
  });
  it('filters by archived state', async () => {
    expect(await keys('?archived=true')).toEqual(['old-banner']);
    expect(await keys('?archived=all')).toEqual(['checkout', 'old-banner', 'search']);
  });
  it('searches key, name and description, case-insensitively', async () => {
    expect(await keys('?q=CHECKOUT')).toEqual(['checkout']);
    expect(await keys('?q=index')).toEqual(['search']);
  });
  it('filters by tag', async () => {
    expect(await keys('?tag=payments')).toEqual(['checkout']);
    expect(await keys('?tag=none')).toEqual([]);
  });
  it('filters by stage, optionally in one environment', async () => {
    expect(await keys('?stage=10%25')).toEqual(['search']);
    expect(await keys('?stage=rollout&environment=staging')).toEqual(['search']);
    expect(await keys('?stage=rollout&environment=production')).toEqual([]);
    expect(await keys('?stage=off&environment=staging')).toEqual(['checkout']);
  });
});

describe('POST /api/flags', () => {
  it('creates a boolean flag, off in every environment, with salt = key', async () => {
    const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags', payload: { key: 'new-checkout', name: 'New checkout', tags: ['a', 'a', 'b'] } });
    expect(res.statusCode).toBe(201);
    expect(res.headers.etag).toBe('"1"');
    const flag = res.json<FlagBody>();
    expect(flag).toMatchObject({ key: 'new-checkout', name: 'New checkout', type: 'boolean', version: 1, archived: false, tags: ['a', 'b'] });
    expect(flag.variations).toEqual([{ key: 'off', value: false }, { key: 'on', value: true }]);
    expect(Object.keys(flag.environments).sort()).toEqual(['development', 'production', 'staging']);
    for (const env of Object.values(flag.environments)) {
      expect(env).toMatchObject({ on: false, killed: false, offVariation: 'off', stage: 'off', salt: 'new-checkout', bucketBy: 'userId', defaultServe: { variation: 'off' } });
    }
    expect(await readFlag('new-checkout')).toEqual(flag);
  });

  it('creates a multivariate flag with its variations', async () => {
    const res = await t.request(t.tokens.editor, {
      method: 'POST',
      url: '/api/flags',
      payload: { key: 'button-color', type: 'string', variations: [{ key: 'blue', value: 'blue' }, { key: 'green', value: 'green' }] },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json<FlagBody>().environments.production!.offVariation).toBe('blue');
  });

  it('409 for a duplicate key, leaving the first flag alone', async () => {
    await createFlag(t, 'dup', { name: 'First' });
    expectError(await t.request(t.adminToken, { method: 'POST', url: '/api/flags', payload: { key: 'dup', name: 'Second' } }), 409, 'conflict', /already exists/);
    expect((await readFlag('dup')).name).toBe('First');
  });
});

describe('GET /api/flags/:key', () => {
  it('returns the flag with an ETag of its version', async () => {
    await createFlag(t, 'f');
    const res = await t.request(t.tokens.viewer, { method: 'GET', url: flagUrl('f') });
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('"1"');
  });
  it('404 for an unknown flag', async () => {
    expectError(await t.request(t.tokens.viewer, { method: 'GET', url: flagUrl('nope') }), 404, 'not_found', /flag "nope" not found/);
  });
});

describe('PATCH /api/flags/:key', () => {
  beforeEach(async () => {
    await createFlag(t, 'f');
  });

  it('updates metadata with the version in the body', async () => {
    const res = await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), payload: { version: 1, name: 'Renamed', owner: 'team-a', description: 'd' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('"2"');
    expect(res.json<FlagBody>()).toMatchObject({ name: 'Renamed', owner: 'team-a', description: 'd', version: 2, updatedBy: 'editor' });
  });

  it('updates with the version in If-Match (quoted, bare or weak)', async () => {
    for (const [i, header] of ['"1"', '2', 'W/"3"'].entries()) {
      const res = await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), headers: { 'if-match': header }, payload: { name: `n${i}` } });
      expect(res.statusCode).toBe(200);
    }
    expect((await readFlag('f')).version).toBe(4);
  });

  it('409 on a stale version (body), with the current version in details', async () => {
    await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), payload: { version: 1, name: 'first' } });
    const body = expectError(await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), payload: { version: 1, name: 'second' } }), 409, 'version_conflict', /current version 2/);
    expect(body.error.details).toMatchObject({ currentVersion: 2, updatedBy: 'editor' });
    expect((await readFlag('f')).name).toBe('first');
  });

  it('409 on a stale version (If-Match)', async () => {
    await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), payload: { version: 1, name: 'first' } });
    expectError(await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), headers: { 'if-match': '"1"' }, payload: { name: 'second' } }), 409, 'version_conflict');
  });

  it('428 when no version is sent', async () => {
    expectError(await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), payload: { name: 'x' } }), 428, 'precondition_required', /version/);
    expect((await readFlag('f')).version).toBe(1);
  });

  it('400 when body version and If-Match disagree', async () => {
    expectError(await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), headers: { 'if-match': '"2"' }, payload: { version: 1, name: 'x' } }), 400, 'validation_failed', /If-Match/);
  });

  it('archives and restores', async () => {
    const archived = await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), payload: { version: 1, archived: true } });
    expect(archived.json<FlagBody>().archived).toBe(true);
    const restored = await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('f'), payload: { version: 2, archived: false } });
    expect(restored.json<FlagBody>().archived).toBe(false);
    const audit = await t.request(t.tokens.viewer, { method: 'GET', url: `${flagUrl('f')}/audit` });
    expect(audit.json<{ items: { action: string }[] }>().items.map((e) => e.action)).toEqual(['flag.restored', 'flag.archived', 'flag.created']);
  });

  it('404 for an unknown flag', async () => {
    expectError(await t.request(t.tokens.editor, { method: 'PATCH', url: flagUrl('nope'), payload: { version: 1, name: 'x' } }), 404, 'not_found');
  });
});

describe('DELETE /api/flags/:key', () => {
  beforeEach(async () => {
    await createFlag(t, 'f');
  });
  it('deletes with the current version and returns the deleted flag', async () => {
    const res = await t.request(t.tokens.editor, { method: 'DELETE', url: flagUrl('f'), payload: { version: 1 } });
    expect(res.statusCode).toBe(200);
    expect(res.json<FlagBody>().key).toBe('f');
    expectError(await t.request(t.tokens.viewer, { method: 'GET', url: flagUrl('f') }), 404, 'not_found');
  });
  it('deletes with If-Match', async () => {
    const res = await t.request(t.tokens.editor, { method: 'DELETE', url: flagUrl('f'), headers: { 'if-match': '"1"' }, payload: {} });
    expect(res.statusCode).toBe(200);
  });
  it('409 on a stale version, 428 without one, 404 when unknown', async () => {
    expectError(await t.request(t.tokens.editor, { method: 'DELETE', url: flagUrl('f'), payload: { version: 7 } }), 409, 'version_conflict');
    expectError(await t.request(t.tokens.editor, { method: 'DELETE', url: flagUrl('f'), payload: {} }), 428, 'precondition_required');
    expectError(await t.request(t.tokens.editor, { method: 'DELETE', url: flagUrl('nope'), payload: { version: 1 } }), 404, 'not_found');
    expect((await readFlag('f')).version).toBe(1);
  });
});

describe('PATCH /api/flags/:key/environments/:environment', () => {
  beforeEach(async () => {
    await createFlag(t, 'f');
    await t.request(t.adminToken, { method: 'POST', url: '/api/segments', payload: { key: 'beta', name: 'Beta' } });
  });

  it('replaces targeting in one environment only', async () => {
    const payload = {
      version: 1,
      on: true,
      targets: [{ variation: 'on', values: ['alice'] }],
      rules: [
        { id: 'beta', clauses: [{ operator: 'in_segment', values: ['beta'] }], serve: { variation: 'on' } },
        { id: 'emails', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@example.com'] }], serve: { rollout: { variations: [{ variation: 'on', weight: 25_000 }, { variation: 'off', weight: 75_000 }] } } },
      ],
      defaultServe: { variation: 'off' },
    };
    const res = await t.request(t.tokens.editor, { method: 'PATCH', url: `${flagUrl('f')}/environments/staging`, payload });
    expect(res.statusCode).toBe(200);
    const flag = res.json<FlagBody>();
    expect(flag.environments.staging).toMatchObject({ on: true, targets: payload.targets, rules: payload.rules, stage: 'custom', salt: 'f' });
    expect(flag.environments.production).toMatchObject({ on: false, rules: [], stage: 'off' });
  });

  it('a patch that does not mention `on` keeps the kill marker', async () => {
    await t.request(t.tokens.editor, { method: 'POST', url: `${flagUrl('f')}/environments/staging/kill` });
    const res = await t.request(t.tokens.editor, { method: 'PATCH', url: `${flagUrl('f')}/environments/staging`, payload: { version: 2, targets: [{ variation: 'on', values: ['qa-bot'] }] } });
    expect(res.statusCode).toBe(200);
    expect(res.json<FlagBody>().environments.staging).toMatchObject({ on: false, killed: true, stage: 'kill' });
  });

  it('409 stale, 428 missing version, 404 unknown flag or environment', async () => {
    await t.request(t.tokens.editor, { method: 'PATCH', url: `${flagUrl('f')}/environments/staging`, payload: { version: 1, on: true } });
    expectError(await t.request(t.tokens.editor, { method: 'PATCH', url: `${flagUrl('f')}/environments/staging`, payload: { version: 1, on: false } }), 409, 'version_conflict');
    expectError(await t.request(t.tokens.editor, { method: 'PATCH', url: `${flagUrl('f')}/environments/staging`, payload: { on: false } }), 428, 'precondition_required');
    expectError(await t.request(t.tokens.editor, { method: 'PATCH', url: `${flagUrl('nope')}/environments/staging`, payload: { version: 1, on: false } }), 404, 'not_found', /flag/);
    expectError(await t.request(t.tokens.editor, { method: 'PATCH', url: `${flagUrl('f')}/environments/moon`, payload: { version: 2, on: false } }), 404, 'not_found', /environment "moon"/);
  });
});

describe('release stages', () => {
  beforeEach(async () => {
    await createFlag(t, 'checkout');
  });

  it('moves off → dogfood → 10% → 50% → 100% → kill, with the derived stage on read and the salt unchanged', async () => {
    expect((await readFlag('checkout')).environments.production!.stage).toBe('off');
    const weights: Record<string, number | undefined> = { dogfood: undefined, '10%': 10_000, '50%': 50_000, '100%': undefined };
    let version = 1;
    for (const stage of ['dogfood', '10%', '50%', '100%']) {
      const res = await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('checkout'), payload: { stage, version } });
      expect(res.statusCode).toBe(200);
      version += 1;
      expect(res.headers.etag).toBe(`"${version}"`);
      const read = await readFlag('checkout');
      const prod = read.environments.production!;
      expect(prod.stage).toBe(stage);
      expect(prod.on).toBe(true);
      expect(prod.salt).toBe('checkout');
      expect(prod.rules[0]).toMatchObject({ id: 'dogfood', clauses: [{ operator: 'in_segment', values: ['internal'] }], serve: { variation: 'on' } });
      const expectedWeight = weights[stage];
      if (expectedWeight !== undefined) {
        expect(prod.defaultServe).toEqual({ rollout: { variations: [{ variation: 'on', weight: expectedWeight }, { variation: 'off', weight: 100_000 - expectedWeight }] } });
      } else {
        expect(prod.defaultServe).toEqual({ variation: stage === '100%' ? 'on' : 'off' });
      }
      // Other environments are untouched.
      expect(read.environments.staging!.stage).toBe('off');
    }
    const killed = await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('checkout'), payload: { stage: 'kill' } });
    expect(killed.statusCode).toBe(200);
    const prod = (await readFlag('checkout')).environments.production!;
    expect(prod).toMatchObject({ on: false, killed: true, stage: 'kill', salt: 'checkout' });
    const audit = await t.request(t.tokens.viewer, { method: 'GET', url: `${flagUrl('checkout')}/audit` });
    expect(audit.json<{ items: { action: string; environment: string }[] }>().items.map((e) => e.action)).toEqual([
      'flag.killed',
      'flag.stage_changed',
      'flag.stage_changed',
      'flag.stage_changed',
      'flag.stage_changed',
      'flag.created',
    ]);
  });

  it('accepts 0.001% precision and normalises the stage text', async () => {
    const res = await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('checkout'), payload: { stage: '0.125%', version: 1 } });
    expect(res.statusCode).toBe(200);
    const prod = res.json<FlagBody>().environments.production!;
    expect(prod.stage).toBe('0.125%');
    expect(prod.defaultServe).toEqual({ rollout: { variations: [{ variation: 'on', weight: 125 }, { variation: 'off', weight: 99_875 }] } });
    const again = await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('checkout'), payload: { stage: '50.000%', version: 2 } });
    expect(again.json<FlagBody>().environments.production!.stage).toBe('50%');
  });

  it('a custom salt survives every stage change', async () => {
    await t.request(t.tokens.editor, { method: 'PATCH', url: `${flagUrl('checkout')}/environments/production`, payload: { version: 1, salt: 'shared-cohort' } });
    for (const stage of ['dogfood', '10%', '50%', '100%', 'off']) await setStage(t, 'checkout', 'production', stage);
    expect((await readFlag('checkout')).environments.production!.salt).toBe('shared-cohort');
  });

  it('kill needs no version, from the stage route and the kill route', async () => {
    await setStage(t, 'checkout', 'production', '50%');
    const viaStage = await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('checkout'), payload: { stage: 'kill' } });
    expect(viaStage.statusCode).toBe(200);
    await setStage(t, 'checkout', 'production', '50%');
    const viaKill = await t.request(t.tokens.editor, { method: 'POST', url: `${flagUrl('checkout')}/environments/production/kill`, payload: { message: 'errors spiking' } });
    expect(viaKill.statusCode).toBe(200);
    expect(viaKill.json<FlagBody>().environments.production!.stage).toBe('kill');
    // Without any body at all, too.
    const bare = await t.request(t.tokens.editor, { method: 'POST', url: `${flagUrl('checkout')}/environments/staging/kill` });
    expect(bare.statusCode).toBe(200);
    const audit = await t.request(t.tokens.viewer, { method: 'GET', url: `${flagUrl('checkout')}/audit?limit=2` });
    const [latest, previous] = audit.json<{ items: { action: string; message: string | null; environment: string }[] }>().items;
    expect(latest).toMatchObject({ action: 'flag.killed', environment: 'staging' });
    expect(previous).toMatchObject({ action: 'flag.killed', environment: 'production', message: 'errors spiking' });
  });

  it('a stage change needs the current version: 428 without, 409 stale, If-Match accepted', async () => {
    expectError(await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('checkout'), payload: { stage: '10%' } }), 428, 'precondition_required');
    await setStage(t, 'checkout', 'production', 'dogfood');
    expectError(await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('checkout'), payload: { stage: '10%', version: 1 } }), 409, 'version_conflict');
    const res = await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('checkout'), headers: { 'if-match': '"2"' }, payload: { stage: '10%' } });
    expect(res.statusCode).toBe(200);
  });

  it('404 for an unknown flag or environment', async () => {
    expectError(await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('nope'), payload: { stage: '10%', version: 1 } }), 404, 'not_found');
    expectError(await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('checkout', 'moon'), payload: { stage: '10%', version: 1 } }), 404, 'not_found');
    expectError(await t.request(t.tokens.editor, { method: 'POST', url: `${flagUrl('nope')}/environments/production/kill` }), 404, 'not_found');
  });

  it('releases a named variation of a multivariate flag', async () => {
    await createFlag(t, 'color', { type: 'string', variations: [{ key: 'blue', value: 'blue' }, { key: 'green', value: 'green' }, { key: 'red', value: 'red' }] });
    const res = await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('color'), payload: { stage: '10%', variation: 'red', version: 1 } });
    expect(res.statusCode).toBe(200);
    const prod = res.json<FlagBody>().environments.production!;
    expect(prod.stage).toBe('10%');
    expect(prod.defaultServe).toEqual({ rollout: { variations: [{ variation: 'red', weight: 10_000 }, { variation: 'blue', weight: 90_000 }] } });
    // Ramping on keeps the released variation without naming it again.
    const next = await t.request(t.tokens.editor, { method: 'POST', url: stageUrl('color'), payload: { stage: '100%', version: 2 } });
    expect(next.json<FlagBody>().environments.production!.defaultServe).toEqual({ variation: 'red' });
  });
});
