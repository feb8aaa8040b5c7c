import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, snapshotDatabase, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

interface EnvironmentBody {
  key: string;
  name: string;
  critical: boolean;
  sortOrder: number;
  version: number;
  createdAt: string;
}

const list = async () => (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/environments' })).json<{ items: EnvironmentBody[] }>().items;

describe('GET /api/environments', () => {
  it('lists the three default environments in order', async () => {
    const items = await list();
    expect(items.map((e) => [e.key, e.name, e.critical])).toEqual([
      ['development', 'Development', false],
      ['staging', 'Staging', false],
      ['production', 'Production', true],
    ]);
  });
  it('401 without credentials, 403 for an SDK key', async () => {
    expect((await t.request(null, { method: 'GET', url: '/api/environments' })).statusCode).toBe(401);
    expect((await t.request('wrong', { method: 'GET', url: '/api/environments' })).statusCode).toBe(401);
    expect((await t.request(await t.sdkKey('production'), { method: 'GET', url: '/api/environments' })).statusCode).toBe(403);
  });
});

describe('POST /api/environments', () => {
  it('creates an environment in which every existing flag starts off', async () => {
    await createFlag(t, 'f');
    const res = await t.request(t.adminToken, { method: 'POST', url: '/api/environments', payload: { key: 'qa', name: 'QA' } });
    expect(res.statusCode).toBe(201);
    expect(res.json<EnvironmentBody>()).toMatchObject({ key: 'qa', name: 'QA', critical: false, sortOrder: 3 });
    const flag = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/f' })).json<FlagBody>();
    expect(flag.environments.qa).toMatchObject({ on: false, stage: 'off', salt: 'f' });
    expect((await list()).map((e) => e.key)).toEqual(['development', 'staging', 'production', 'qa']);
  });
  it('defaults the name to the key', async () => {
    const res = await t.request(t.adminToken, { method: 'POST', url: '/api/environments', payload: { key: 'qa' } });
    expect(res.json<EnvironmentBody>().name).toBe('qa');
  });
  it('409 for an existing key', async () => {
    const res = await t.request(t.adminToken, { method: 'POST', url: '/api/environments', payload: { key: 'staging' } });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toMatch(/already exists/);
  });
  it('403 for editors and viewers: environments need the admin role', async () => {
    for (const token of [t.tokens.editor, t.tokens.viewer]) {
      const res = await t.request(token, { method: 'POST', url: '/api/environments', payload: { key: 'qa' } });
      expect(res.statusCode).toBe(403);
      expect(res.json<ErrorBody>().error.message).toMatch(/admin role/);
    }
  });
});

describe('PATCH /api/environments/:environment', () => {
  it('renames and reorders, keeping the key', async () => {
    const res = await t.request(t.adminToken, { method: 'PATCH', url: '/api/environments/staging', payload: { name: 'Pre-production', critical: true, sortOrder: 9 } });
    expect(res.statusCode).toBe(200);
    expect(res.json<EnvironmentBody>()).toMatchObject({ key: 'staging', name: 'Pre-production', critical: true, sortOrder: 9 });
    expect((await list()).map((e) => e.key)).toEqual(['development', 'production', 'staging']);
  });
  // Issue 11: `{}` reached the database as an UPDATE with nothing to SET (500 "No values to set").
  // A PATCH that changes nothing is a no-op, as in JSON Merge Patch: 200 with the environment as it
  // is, and no audit entry, feed entry or version bump.
  for (const { name, payload } of [
    { name: 'an empty body', payload: {} },
    { name: 'the values it already has', payload: { name: 'Staging', critical: false, sortOrder: 1 } },
  ]) {
    it(`200 and changes nothing for ${name}`, async () => {
      const before = await snapshotDatabase(t.db);
      const unchanged = (await list()).find((e) => e.key === 'staging');
      const res = await t.request(t.adminToken, { method: 'PATCH', url: '/api/environments/staging', payload });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<EnvironmentBody>()).toEqual(unchanged);
      expect(await snapshotDatabase(t.db)).toEqual(before);
    });
  }
  it('404 for an unknown environment even with an empty body', async () => {
    const res = await t.request(t.adminToken, { method: 'PATCH', url: '/api/environments/moon', payload: {} });
    expect(res.statusCode).toBe(404);
    expect(res.json<ErrorBody>().error.message).toBe('environment "moon" not found');
  });
  it('404 for an unknown environment, 403 for an editor', async () => {
    expect((await t.request(t.adminToken, { method: 'PATCH', url: '/api/environments/moon', payload: { name: 'Moon' } })).statusCode).toBe(404);
    expect((await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/environments/staging', payload: { name: 'x' } })).statusCode).toBe(403);
  });
});

describe('DELETE /api/environments/:environment', () => {
  it('deletes an environment without SDK keys, dropping it from every flag', async () => {
    await createFlag(t, 'f');
    const res = await t.request(t.adminToken, { method: 'DELETE', url: '/api/environments/staging' });
    expect(res.statusCode).toBe(200);
    expect(res.json<EnvironmentBody>().key).toBe('staging');
    expect((await list()).map((e) => e.key)).toEqual(['development', 'production']);
    const flag = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/f' })).json<FlagBody>();
    expect(Object.keys(flag.environments).sort()).toEqual(['development', 'production']);
    const audit = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/audit?resourceType=environment&limit=1' })).json<{ items: { action: string; resourceKey: string }[] }>();
    expect(audit.items[0]).toMatchObject({ action: 'environment.deleted', resourceKey: 'staging' });
  });

  it('a re-created environment starts above every version the deleted one reached', async () => {
    await createFlag(t, 'f');
    for (const stage of ['dogfood', '10%', '50%']) {
      const flag = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/f' })).json<FlagBody>();
      await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/f/environments/staging/stage', payload: { stage, version: flag.version } });
    }
    const old = (await list()).find((e) => e.key === 'staging')!.version;
    await t.request(t.adminToken, { method: 'DELETE', url: '/api/environments/staging' });
    const again = await t.request(t.adminToken, { method: 'POST', url: '/api/environments', payload: { key: 'staging' } });
    expect(again.statusCode).toBe(201);
    expect(again.json<EnvironmentBody>().version).toBeGreaterThan(old);
  });

  it('409 while the environment has an SDK key, naming the reason', async () => {
    await t.sdkKey('production');
    const res = await t.request(t.adminToken, { method: 'DELETE', url: '/api/environments/production' });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toMatch(/SDK key/);
    expect((await list()).map((e) => e.key)).toContain('production');
  });

  it('can delete once its SDK keys are revoked', async () => {
    const created = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: 'app', environment: 'staging' } });
    const { id } = created.json<{ id: number }>();
    expect((await t.request(t.adminToken, { method: 'DELETE', url: `/api/sdk-keys/${id}` })).statusCode).toBe(200);
    const res = await t.request(t.adminToken, { method: 'DELETE', url: '/api/environments/staging' });
    expect(res.statusCode).toBe(200);
    expect((await list()).map((e) => e.key)).toEqual(['development', 'production']);
  });

  it('404 for an unknown environment, 403 for an editor', async () => {
    expect((await t.request(t.adminToken, { method: 'DELETE', url: '/api/environments/moon' })).statusCode).toBe(404);
    expect((await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/environments/staging' })).statusCode).toBe(403);
  });
});
