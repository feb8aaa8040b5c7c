import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditCount, changeFlag, createFlag, createTestApp, readFlag, setStage, snapshotDatabase, type TestContext } from '../testing/test-app.js';

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

async function exportYaml(query = ''): Promise<string> {
  const res = await t.request(t.adminToken, { method: 'GET', url: `/api/gitops/export${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

async function apply(document: string, extra: Record<string, unknown> = {}) {
  return t.request(t.adminToken, { method: 'POST', url: '/api/gitops/apply', payload: { document, filename: 'flags.yaml', ...extra } });
}

async function plan(document: string, extra: Record<string, unknown> = {}) {
  return t.request(t.adminToken, { method: 'POST', url: '/api/gitops/plan', payload: { document, filename: 'flags.yaml', ...extra } });
}

const FILE = `environments:
  development: { name: Development }
  production: { name: Production, critical: true }
  staging: { name: Staging }
segments:
  internal:
    name: Internal users
    description: 'Dogfood users: they get every release first.'
    included: [alice]
flags:
  new-checkout:
    description: The new checkout flow
    tags: [web]
    environments:
      production: { stage: 10% }
      staging: { stage: 100% }
  banner-color:
    type: string
    variations:
      - { key: blue, value: blue }
      - { key: red, value: red }
    environments:
      production:
        on: true
        offVariation: blue
        targets: [{ variation: red, values: [bob] }]
        rules: []
        defaultServe: { variation: blue }
        salt: banner-color
        bucketBy: userId
`;

describe('flags as code over the API', () => {
  it('applies a file, then export → apply → export is byte-identical and the second apply writes nothing', async () => {
    const first = await apply(FILE, { message: 'initial', commit: 'abc123' });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().summary).toEqual({ create: 2, update: 1, delete: 0 });
    const flag = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/new-checkout' })).json();
    expect(flag.environments.production.stage).toBe('10%');
    expect(flag.environments.staging.stage).toBe('100%');
    expect(flag.environments.development.stage).toBe('off');
    expect(flag.managedBy).toBeNull();

    const exported = await exportYaml();
    const before = await snapshotDatabase(t.db);
    const again = await apply(exported);
    expect(again.json()).toMatchObject({ applied: false, changes: [] });
    expect(await snapshotDatabase(t.db)).toEqual(before);
    expect(await exportYaml()).toBe(exported);
    expect(exported).toContain("stage: 10%");

    const audit = (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?limit=5' })).json().items;
    expect(audit[0]).toMatchObject({ source: 'gitops', message: 'initial', commit: 'abc123', actor: 'admin' });
  });

  it("leaves a running canary's guarded marker alone: not exported, not planned, not overwritten", async () => {
    expect((await apply(FILE)).statusCode).toBe(200);
    const current = await readFlag(t, 'new-checkout');
    await changeFlag(t, 'new-checkout', current.version, (f) => ({
      ...f,
      environments: { ...f.environments, production: { ...f.environments.production!, guarded: true } },
    }), { actor: 'release-guard', source: 'release-guard' });
    const exported = await exportYaml();
    expect(exported).not.toContain('guarded');
    const again = await apply(exported);
    expect(again.json()).toMatchObject({ applied: false, changes: [] });
    expect((await readFlag(t, 'new-checkout')).environments.production!.guarded).toBe(true);
  });

  it('exports JSON too, and one environment alone', async () => {
    await apply(FILE);
    const json = await t.request(t.adminToken, { method: 'GET', url: '/api/gitops/export', headers: { accept: 'application/json' } });
    expect(json.headers['content-type']).toMatch(/json/);
    expect(json.json().flags['new-checkout'].environments.production).toEqual({ stage: '10%' });
    const prod = await exportYaml('?environment=production&format=yaml');
    expect(prod).not.toContain('staging');
    const roundTrip = await apply(json.body, { filename: 'flags.json' });
    expect(roundTrip.json().changes).toEqual([]);
    expect((await t.request(t.adminToken, { method: 'GET', url: '/api/gitops/export?environment=nope' })).statusCode).toBe(404);
  });

  it('plans with before → after, and dry-run changes nothing', async () => {
    await apply(FILE);
    const edited = FILE.replace('production: { stage: 10% }', 'production: { stage: 50% }');
    const res = await plan(edited);
    expect(res.json().changes).toEqual([
      { action: 'update', resource: 'flag', key: 'new-checkout', fields: [{ path: 'environments.production.stage', before: '10%', after: '50%' }] },
    ]);
    const before = await snapshotDatabase(t.db);
    const dry = await apply(edited, { dryRun: true });
    expect(dry.json()).toMatchObject({ applied: false, dryRun: true, summary: { update: 1 } });
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('a dashboard edit after the plan makes apply fail with 409 naming the flag, and nothing is written', async () => {
    await apply(FILE);
    const edited = FILE.replace('production: { stage: 10% }', 'production: { stage: 50% }');
    const { versions } = (await plan(edited)).json();
    await setStage(t, 'new-checkout', 'production', '25%');
    const count = (await auditCount(t.db));
    const res = await apply(edited, { expectedVersions: versions });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/flag "new-checkout" was changed by someone else/);
    expect((await auditCount(t.db))).toBe(count);
  });

  it('prune deletes what the file does not name (never the internal segment); without it nothing is deleted', async () => {
    await apply(FILE);
    await createFlag(t, 'stray');
    const withoutPrune = await plan(FILE);
    expect(withoutPrune.json().changes).toEqual([]);
    const pruned = await apply(FILE, { prune: true });
    expect(pruned.json().changes).toEqual([{ action: 'delete', resource: 'flag', key: 'stray', fields: [] }]);
    expect((await t.request(t.adminToken, { method: 'GET', url: '/api/flags/stray' })).statusCode).toBe(404);
  });

  it('is all or nothing: a failure late in the batch leaves no trace', async () => {
    await apply(FILE);
    const before = await snapshotDatabase(t.db);
    // The segment is written first inside the transaction; the stale flag version then aborts it all.
    const edited = FILE.replace('production: { stage: 10% }', 'production: { stage: 50% }').replace("included: [alice]", 'included: [alice, carol]');
    const { versions } = (await plan(edited)).json();
    const versionsWithStaleFlag = { ...versions, 'flag:new-checkout': versions['flag:new-checkout'] - 1 };
    const res = await apply(edited, { expectedVersions: versionsWithStaleFlag });
    expect(res.statusCode).toBe(409);
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('viewers can export and plan but not apply; the JSON Schema is public', async () => {
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/gitops/export' })).statusCode).toBe(200);
    expect((await t.request(t.tokens.viewer, { method: 'POST', url: '/api/gitops/plan', payload: { document: FILE } })).statusCode).toBe(200);
    expect((await t.request(t.tokens.viewer, { method: 'POST', url: '/api/gitops/apply', payload: { document: FILE } })).statusCode).toBe(403);
    const schema = await t.request(null, { method: 'GET', url: '/api/gitops/schema.json' });
    expect(schema.statusCode).toBe(200);
    expect(schema.json().properties.flags).toBeDefined();
  });
});
