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
