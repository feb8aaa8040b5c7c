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
  });

  it('targetingKey wins over a userId attribute; an empty targetingKey is no key', async () => {
    expect((await single('checkout', { targetingKey: 'dogfooder', userId: 'someone' })).json()).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect((await single('checkout', { targetingKey: 'someone', userId: 'dogfooder' })).json()).toMatchObject({ value: false, reason: 'STATIC' });
    expect((await single('checkout', { targetingKey: '', userId: 'dogfooder' })).json()).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
  });

  it('takes nested context objects; rules address them by dot path, own properties only', async () => {
    await t.request(t.adminToken, {
      method: 'PATCH',
      url: '/api/flags/color/environments/production',
      payload: { version: 2, on: true, rules: [{ id: 'nested', clauses: [{ attribute: 'company.plan', operator: 'in', values: ['pro'] }], serve: { variation: 'green' } }] },
    });
    const nested = await single('color', { targetingKey: 'u1', company: { plan: 'pro', size: { seats: 3 } } });
    expect(nested.statusCode).toBe(200);
    expect(nested.json()).toMatchObject({ value: 'green', reason: 'TARGETING_MATCH' });
    expect((await single('color', { targetingKey: 'u1', company: { plan: 'free' } })).json()).toMatchObject({ value: 'blue', reason: 'STATIC' });
    // A top-level attribute spelled with the dot wins over the path.
    expect((await single('color', { targetingKey: 'u1', 'company.plan': 'free', company: { plan: 'pro' } })).json()).toMatchObject({ value: 'blue' });
    expect((await single('color', { targetingKey: 'u1', company: { plan: { is: 'pro' } } })).json()).toMatchObject({ value: 'blue' });
  });

  it('a partial rollout without a targeting key (missing or "") is 400 TARGETING_KEY_MISSING; no key is needed otherwise', async () => {
    await setStage(t, 'checkout', 'production', '10%');
    for (const context of [{}, { targetingKey: '' }, { plan: 'pro' }]) {
      const res = await single('checkout', context);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ key: 'checkout', errorCode: 'TARGETING_KEY_MISSING', errorDetails: expect.stringMatching(/userId/) });
    }
    expect((await single('checkout', { targetingKey: 'u1' })).json()).toMatchObject({ reason: 'SPLIT' });
    expect((await single('color', {})).json()).toMatchObject({ value: 'blue', reason: 'STATIC' });
    const entries = (await bulk({})).json<{ flags: { key: string }[] }>().flags;
    expect(entries).toContainEqual({ key: 'checkout', errorCode: 'TARGETING_KEY_MISSING', errorDetails: expect.any(String) });
    expect(entries).toContainEqual(expect.objectContaining({ key: 'color', value: 'blue' }));
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

  it('401 without or with a bad key, 403 for an API token: no body, as OFREP specifies; the reason in WWW-Authenticate', async () => {
    for (const res of [await t.request(null, { method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', payload: { context: {} } }), await single('checkout', {}, 'sy_sdk_bogus')]) {
      expect(res.statusCode).toBe(401);
      expect(res.body).toBe('');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="switchyard", error_description="(missing|invalid).*"$/);
    }
    for (const token of [t.adminToken, t.tokens.viewer]) {
      const res = await single('checkout', {}, token);
      expect(res.statusCode).toBe(403);
      expect(res.body).toBe('');
      expect(res.headers['www-authenticate']).toMatch(/SDK key/);
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

describe('OFREP errors answer in OFREP shape', () => {
  const post = (url: string, payload: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => t.request(sdk, { method: 'POST', url, payload, headers });
  const urls = [
    { name: 'single', url: '/ofrep/v1/evaluate/flags/checkout', key: 'checkout' },
    { name: 'bulk', url: '/ofrep/v1/evaluate/flags', key: undefined },
  ];
  const cases = [
    { name: 'malformed JSON', payload: '{"context":', status: 400, errorCode: 'PARSE_ERROR', details: /malformed JSON/ },
    { name: 'a prototype key', payload: '{"context":{"__proto__":{"x":1}}}', status: 400, errorCode: 'PARSE_ERROR', details: /malformed JSON/ },
    { name: 'a context that is not an object', payload: '{"context":"u1"}', status: 400, errorCode: 'INVALID_CONTEXT', details: /body\.context/ },
    { name: 'an unknown field', payload: '{"context":{},"flags":["x"]}', status: 400, errorCode: 'INVALID_CONTEXT', details: /body\.flags: unknown field/ },
    { name: 'a body over 64 KB', payload: JSON.stringify({ context: { a: 'x'.repeat(70_000) } }), status: 413, errorCode: 'INVALID_CONTEXT', details: /over 65536 bytes/ },
    { name: 'a body that is not JSON', payload: 'u1', headers: { 'content-type': 'text/plain' }, status: 415, errorCode: 'PARSE_ERROR', details: /application\/json/ },
  ];
  describe.each(urls)('$name', ({ url, key }) => {
    it.each(cases)('$name → $status $errorCode', async ({ payload, headers, status, errorCode, details }) => {
      const res = await post(url, payload, headers);
      expect(res.statusCode).toBe(status);
      const body = res.json<Record<string, unknown>>();
      expect(body).toEqual({ ...(key === undefined ? {} : { key }), errorCode, errorDetails: expect.stringMatching(details) });
    });
  });

  it('the rest of the API keeps Switchyard\'s error shape', async () => {
    const res = await t.request(t.adminToken, { method: 'POST', url: '/api/flags', payload: '{"key":', headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'bad_request' } });
  });
});

describe('OFREP under the failed-authentication limit', () => {
  it('answers 429 with Retry-After and no body, as OFREP specifies', async () => {
    const limited = await createTestApp({ authFailuresPerMinute: 2 });
    try {
      const attempt = () => limited.request('sy_sdk_bogus', { method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', payload: { context: {} } });
      expect((await attempt()).statusCode).toBe(401);
      expect((await attempt()).statusCode).toBe(401);
      const res = await attempt();
      expect(res.statusCode).toBe(429);
      expect(res.body).toBe('');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});
