import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, type ErrorBody, type TestContext } from '../testing/test-app.js';

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

interface SegmentBody {
  key: string;
  name: string;
  description: string;
  unitAttribute: string;
  included: string[];
  excluded: string[];
  rules: unknown[];
  version: number;
  updatedBy: string;
}

const beta = { key: 'beta', name: 'Beta testers', included: ['u1', 'u2'], excluded: ['u3'], rules: [{ id: 'staff', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@corp.example'] }] }] };

async function create(payload: Record<string, unknown> = beta) {
  const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/segments', payload });
  expect(res.statusCode).toBe(201);
  return res.json<SegmentBody>();
}

describe('segments', () => {
  it('lists the built-in internal segment', async () => {
    const res = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/segments' });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ items: SegmentBody[] }>().items.map((s) => s.key)).toEqual(['internal']);
  });

  it('creates, reads (with ETag), updates and deletes a segment', async () => {
    const created = await create();
    expect(created).toMatchObject({ ...beta, description: '', unitAttribute: 'userId', version: 1, updatedBy: 'editor' });
    const read = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/segments/beta' });
    expect(read.headers.etag).toBe('"1"');
    expect(read.json()).toEqual(created);
    const updated = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/segments/beta', payload: { version: 1, included: ['u9'] } });
    expect(updated.statusCode).toBe(200);
    expect(updated.json<SegmentBody>()).toMatchObject({ included: ['u9'], excluded: ['u3'], version: 2 });
    const viaIfMatch = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/segments/beta', headers: { 'if-match': '"2"' }, payload: { name: 'Beta' } });
    expect(viaIfMatch.statusCode).toBe(200);
    const deleted = await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/segments/beta', payload: { version: 3 } });
    expect(deleted.statusCode).toBe(200);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/segments/beta' })).statusCode).toBe(404);
  });

  it('401 / 403: credentials and roles', async () => {
    expect((await t.request(null, { method: 'GET', url: '/api/segments' })).statusCode).toBe(401);
    expect((await t.request('nope', { method: 'GET', url: '/api/segments' })).statusCode).toBe(401);
    expect((await t.request(await t.sdkKey('production'), { method: 'GET', url: '/api/segments' })).statusCode).toBe(403);
    expect((await t.request(t.tokens.viewer, { method: 'POST', url: '/api/segments', payload: beta })).statusCode).toBe(403);
    await create();
    expect((await t.request(t.tokens.viewer, { method: 'PATCH', url: '/api/segments/beta', payload: { version: 1, name: 'x' } })).statusCode).toBe(403);
    expect((await t.request(t.tokens.viewer, { method: 'DELETE', url: '/api/segments/beta', payload: { version: 1 } })).statusCode).toBe(403);
  });

  it('409 on a duplicate key or a stale version; 428 without a version; 404 when unknown', async () => {
    await create();
    expect((await t.request(t.tokens.editor, { method: 'POST', url: '/api/segments', payload: beta })).statusCode).toBe(409);
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/segments/beta', payload: { version: 1, name: 'B' } });
    const stale = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/segments/beta', payload: { version: 1, name: 'C' } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json<ErrorBody>().error.code).toBe('version_conflict');
    expect((await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/segments/beta', payload: { name: 'C' } })).statusCode).toBe(428);
    expect((await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/segments/beta', payload: { version: 1 } })).statusCode).toBe(409);
    expect((await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/segments/beta' })).statusCode).toBe(428);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/segments/nope' })).statusCode).toBe(404);
    expect((await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/segments/nope', payload: { version: 1, name: 'x' } })).statusCode).toBe(404);
    expect((await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/segments/nope', payload: { version: 1 } })).statusCode).toBe(404);
  });

  it('the internal segment cannot be deleted (but can be edited)', async () => {
    const res = await t.request(t.adminToken, { method: 'DELETE', url: '/api/segments/internal', payload: { version: 1 } });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toMatch(/"internal".*cannot be deleted/);
    const edit = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/segments/internal', payload: { version: 1, included: ['me'] } });
    expect(edit.statusCode).toBe(200);
  });

  it('a segment in use by a flag rule cannot be deleted until the rule goes', async () => {
    await create();
    await createFlag(t, 'f');
    await t.request(t.tokens.editor, {
      method: 'PATCH',
      url: '/api/flags/f/environments/staging',
      payload: { version: 1, rules: [{ id: 'beta', clauses: [{ operator: 'in_segment', values: ['beta'] }], serve: { variation: 'on' } }] },
    });
    const res = await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/segments/beta', payload: { version: 1 } });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toMatch(/used by flag\(s\): f/);
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/f/environments/staging', payload: { version: 2, rules: [] } });
    expect((await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/segments/beta', payload: { version: 1 } })).statusCode).toBe(200);
  });

  it('a segment change reaches SDKs: dogfood users added to internal get a dogfood flag', async () => {
    await createFlag(t, 'f');
    await setStage(t, 'f', 'production', 'dogfood');
    const sdk = await t.sdkKey('production');
    const evaluate = async () => (await t.request(sdk, { method: 'POST', url: '/ofrep/v1/evaluate/flags/f', payload: { context: { targetingKey: 'dana' } } })).json<{ value: unknown }>().value;
    expect(await evaluate()).toBe(false);
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/segments/internal', payload: { version: 1, included: ['dana'] } });
    expect(await evaluate()).toBe(true);
  });
});

interface SegmentUseBody {
  flagKey: string;
  flagName: string;
  flagArchived: boolean;
  environment: string;
  ruleId: string;
  ruleDescription: string | null;
  ruleIndex: number;
  operator: 'in_segment' | 'not_in_segment';
}

describe('segment usage: which flags use a segment', () => {
  const usage = async (key: string, token = t.tokens.viewer) => t.request(token, { method: 'GET', url: `/api/segments/${key}/usage` });
  const setRules = async (flag: string, environment: string, rules: unknown[]) => {
    const version = (await t.request(t.adminToken, { method: 'GET', url: `/api/flags/${flag}` })).json<{ version: number }>().version;
    const res = await t.request(t.tokens.editor, { method: 'PATCH', url: `/api/flags/${flag}/environments/${environment}`, payload: { version, rules } });
    expect(res.statusCode, res.body).toBe(200);
  };
  const inBeta = (id: string, extra: Record<string, unknown> = {}) => ({ id, clauses: [{ operator: 'in_segment', values: ['beta'] }], serve: { variation: 'on' }, ...extra });

  it('lists every flag, environment and rule that names the segment, in order; nothing for an unused one', async () => {
    await create();
    await create({ key: 'other', name: 'Other' });
    expect((await usage('beta')).json()).toEqual({ items: [] });

    await createFlag(t, 'zeta', { name: 'Zeta checkout' });
    await createFlag(t, 'alpha', { name: 'Alpha search' });
    await setRules('zeta', 'production', [inBeta('beta-users', { description: 'Beta testers first' })]);
    await setRules('alpha', 'production', [
      { id: 'pro', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } },
      { id: 'not-beta', clauses: [{ attribute: 'country', operator: 'in', values: ['fr'] }, { operator: 'not_in_segment', values: ['beta'] }], serve: { variation: 'off' } },
    ]);
    await setRules('alpha', 'staging', [inBeta('beta-staging'), { id: 'other-only', clauses: [{ operator: 'in_segment', values: ['other'] }], serve: { variation: 'on' } }]);

    const res = await usage('beta');
    expect(res.statusCode).toBe(200);
    expect(res.json<{ items: SegmentUseBody[] }>().items).toEqual([
      { flagKey: 'alpha', flagName: 'Alpha search', flagArchived: false, environment: 'staging', ruleId: 'beta-staging', ruleDescription: null, ruleIndex: 0, operator: 'in_segment' },
      { flagKey: 'alpha', flagName: 'Alpha search', flagArchived: false, environment: 'production', ruleId: 'not-beta', ruleDescription: null, ruleIndex: 1, operator: 'not_in_segment' },
      { flagKey: 'zeta', flagName: 'Zeta checkout', flagArchived: false, environment: 'production', ruleId: 'beta-users', ruleDescription: 'Beta testers first', ruleIndex: 0, operator: 'in_segment' },
    ]);
    expect((await usage('other')).json<{ items: SegmentUseBody[] }>().items.map((u) => `${u.flagKey}/${u.environment}/${u.ruleId}`)).toEqual(['alpha/staging/other-only']);
  });

  it('agrees with the delete refusal: archived flags count, and once the rules go the list is empty and the delete works', async () => {
    await create();
    await createFlag(t, 'old', { name: 'Old flag' });
    await setRules('old', 'development', [inBeta('beta')]);
    const archived = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/old', payload: { version: 2, archived: true } });
    expect(archived.statusCode, archived.body).toBe(200);

    expect((await usage('beta')).json<{ items: SegmentUseBody[] }>().items).toEqual([expect.objectContaining({ flagKey: 'old', flagArchived: true, environment: 'development', ruleId: 'beta' })]);
    const refused = await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/segments/beta', payload: { version: 1 } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<ErrorBody>().error.message).toMatch(/used by flag\(s\): old/);

    await setRules('old', 'development', []);
    expect((await usage('beta')).json()).toEqual({ items: [] });
    expect((await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/segments/beta', payload: { version: 1 } })).statusCode).toBe(200);
    expect((await usage('beta')).statusCode).toBe(404);
  });

  it('shows the dogfood rule of a flag at the dogfood stage under "internal"', async () => {
    await createFlag(t, 'f', { name: 'F' });
    await setStage(t, 'f', 'production', 'dogfood');
    const items = (await usage('internal')).json<{ items: SegmentUseBody[] }>().items;
    expect(items).toEqual([expect.objectContaining({ flagKey: 'f', environment: 'production', ruleId: 'dogfood', ruleIndex: 0, operator: 'in_segment' })]);
  });

  it('404 for an unknown segment; viewers may read it, credentials are required', async () => {
    const unknown = await usage('nope');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<ErrorBody>().error.code).toBe('not_found');
    expect(unknown.json<ErrorBody>().error.message).toMatch(/nope/);
    expect((await usage('internal', t.tokens.viewer)).statusCode).toBe(200);
    expect((await t.request(null, { method: 'GET', url: '/api/segments/internal/usage' })).statusCode).toBe(401);
    expect((await t.request(await t.sdkKey('production'), { method: 'GET', url: '/api/segments/internal/usage' })).statusCode).toBe(403);
    // A key longer than any segment key is refused by the router (414), never a 500.
    expect((await usage('x'.repeat(150))).statusCode).toBe(414);
  });

  it('is in the OpenAPI document with its answer described', async () => {
    const doc = (await t.request(null, { method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { summary?: string }>> }>();
    expect(doc.paths['/api/segments/{key}/usage']?.get?.summary).toMatch(/Which flags use a segment/);
  });
});
