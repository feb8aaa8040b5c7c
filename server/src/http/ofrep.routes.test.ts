import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, type TestContext } from '../testing/test-app.js';

let t: TestContext;
let sdk: string;
beforeEach(async () => {
  t = await createTestApp();
  sdk = await t.sdkKey('production');
  await createFlag(t, 'checkout');
  await createFlag(t, 'color', { type: 'string', variations: [{ key: 'blue', value: 'blue' }, { key: 'green', value: 'green' }] });
  await t.request(t.adminToken, { method: 'PATCH', url: '/api/segments/internal', payload: { version: 1, included: ['dogfooder'] } });
  await setStage(t, 'checkout', 'production', 'dogfood');
  await t.request(t.adminToken, {
    method: 'PATCH',
    url: '/api/flags/color/environments/production',
    payload: { version: 1, on: true, rules: [{ id: 'plan', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'green' } }] },
  });
});
afterEach(async () => {
  await t.close();
});

const single = (key: string, context: Record<string, unknown>, token = sdk) => t.request(token, { method: 'POST', url: `/ofrep/v1/evaluate/flags/${key}`, payload: { context } });
const bulk = (context: Record<string, unknown>, headers: Record<string, string> = {}, token = sdk) =>
  t.request(token, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context }, headers });

describe('POST /ofrep/v1/evaluate/flags/:key', () => {
  it('evaluates with targetingKey as userId', async () => {
    const inside = await single('checkout', { targetingKey: 'dogfooder' });
    expect(inside.statusCode).toBe(200);
    expect(inside.json()).toEqual({ key: 'checkout', value: true, reason: 'TARGETING_MATCH', variant: 'on', metadata: { ruleId: 'dogfood' } });
    const outside = await single('checkout', { targetingKey: 'someone' });
    expect(outside.json()).toMatchObject({ value: false, reason: 'STATIC', variant: 'off' });
    // An explicit userId wins over targetingKey.
    expect((await single('checkout', { targetingKey: 'someone', userId: 'dogfooder' })).json()).toMatchObject({ value: true });
  });

  it('evaluates attributes and reports DISABLED for a flag that is off', async () => {
    expect((await single('color', { targetingKey: 'u', plan: 'pro' })).json()).toMatchObject({ value: 'green', reason: 'TARGETING_MATCH' });
    expect((await single('color', { targetingKey: 'u', plan: 'free' })).json()).toMatchObject({ value: 'blue', reason: 'STATIC' });
    await createFlag(t, 'dark');
    expect((await single('dark', {})).json()).toMatchObject({ value: false, reason: 'DISABLED' });
  });

  it('404 FLAG_NOT_FOUND for an unknown flag', async () => {
    const res = await single('nope', { targetingKey: 'u' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ key: 'nope', errorCode: 'FLAG_NOT_FOUND' });
  });

  it('evaluates in the SDK key environment only', async () => {
    const staging = await t.sdkKey('staging');
    expect((await single('checkout', { targetingKey: 'dogfooder' }, staging)).json()).toMatchObject({ value: false, reason: 'DISABLED' });
  });

  it('401 without or with a bad key, 403 for an API token', async () => {
    expect((await t.request(null, { method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', payload: { context: {} } })).statusCode).toBe(401);
    expect((await single('checkout', {}, 'sy_sdk_bogus')).statusCode).toBe(401);
    for (const token of [t.adminToken, t.tokens.viewer]) {
      const res = await single('checkout', {}, token);
      expect(res.statusCode).toBe(403);
      expect(res.json<{ error: { message: string } }>().error.message).toMatch(/SDK key/);
    }
  });
});

describe('POST /ofrep/v1/evaluate/flags', () => {
  it('evaluates every flag', async () => {
    const res = await bulk({ targetingKey: 'dogfooder', plan: 'pro' });
    expect(res.statusCode).toBe(200);
    const flags = res.json<{ flags: { key: string; value: unknown }[] }>().flags;
    expect(Object.fromEntries(flags.map((f) => [f.key, f.value]))).toEqual({ checkout: true, color: 'green' });
  });

  it('304 for the same ETag and context, 200 after a change or for another context', async () => {
    const first = await bulk({ targetingKey: 'u1' });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    expect((await bulk({ targetingKey: 'u1' }, { 'if-none-match': etag })).statusCode).toBe(304);
    expect((await bulk({ targetingKey: 'u2' }, { 'if-none-match': etag })).statusCode).toBe(200);
    await setStage(t, 'checkout', 'production', '100%');
    const changed = await bulk({ targetingKey: 'u1' }, { 'if-none-match': etag });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('401 / 403', async () => {
    expect((await t.request(null, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: {} } })).statusCode).toBe(401);
    expect((await bulk({}, {}, t.tokens.editor)).statusCode).toBe(403);
  });
});
