import type { RuleSet } from '@switchyard/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, type ErrorBody, type TestContext } from '../testing/test-app.js';

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const rules = async (key: string, headers: Record<string, string> = {}) => t.request(key, { method: 'GET', url: '/api/sdk/rules', headers });

describe('GET /api/sdk/rules', () => {
  it("returns the SDK key's environment rule set with an ETag of its version", async () => {
    await createFlag(t, 'checkout');
    await setStage(t, 'checkout', 'production', '10%');
    const res = await rules(await t.sdkKey('production'));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const body = res.json<RuleSet>();
    expect(res.headers.etag).toBe(`"${body.version}"`);
    expect(body.environment).toBe('production');
    expect(body.flags.checkout).toMatchObject({ key: 'checkout', on: true, salt: 'checkout', bucketBy: 'userId' });
    expect(Object.keys(body.segments)).toEqual(['internal']);
  });

  it('304 for a matching If-None-Match (also weak or in a list), 200 otherwise', async () => {
    const key = await t.sdkKey('staging');
    const first = await rules(key);
    const etag = first.headers.etag as string;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`]) {
      const res = await rules(key, { 'if-none-match': inm });
      expect(res.statusCode, inm).toBe(304);
      expect(res.body).toBe('');
    }
    expect((await rules(key, { 'if-none-match': '"0"' })).statusCode).toBe(200);
  });

  it('moves the version to the change-feed position of each change, only in the environments it touches', async () => {
    const prod = await t.sdkKey('production');
    const dev = await t.sdkKey('development');
    const before = { prod: (await rules(prod)).json<RuleSet>().version, dev: (await rules(dev)).json<RuleSet>().version };
    const etag = (await rules(prod)).headers.etag as string;
    await createFlag(t, 'f');
    const created = (await rules(dev)).json<RuleSet>().version;
    await setStage(t, 'f', 'production', 'dogfood');
    const after = await rules(prod, { 'if-none-match': etag });
    expect(after.statusCode).toBe(200);
    const body = after.json<RuleSet>();
    expect(body.flags.f!.rules[0]!.id).toBe('dogfood');
    // Two changes reached production, in order: each one's position is above everything before it.
    expect(created).toBeGreaterThan(Math.max(before.prod, before.dev));
    expect(body.version).toBeGreaterThan(created);
    // Creating the flag reaches development; the stage change does not.
    expect((await rules(dev)).json<RuleSet>().version).toBe(created);
    expect(after.headers.etag).toBe(`"${body.version}"`);
  });

  it('archived flags disappear from the rule set', async () => {
    await createFlag(t, 'f');
    await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/f', payload: { version: 1, archived: true } });
    expect((await rules(await t.sdkKey('production'))).json<RuleSet>().flags).toEqual({});
  });

  it('401 without or with a bad key, 403 for an API token', async () => {
    expect((await t.request(null, { method: 'GET', url: '/api/sdk/rules' })).statusCode).toBe(401);
    expect((await rules('sy_sdk_bogus')).statusCode).toBe(401);
    const res = await rules(t.adminToken);
    expect(res.statusCode).toBe(403);
    expect(res.json<ErrorBody>().error.message).toMatch(/SDK key/);
  });
});
