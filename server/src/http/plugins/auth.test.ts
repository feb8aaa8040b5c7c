import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestAppOptions, type TestContext } from '../../testing/test-app.js';
import { CSRF_HEADER } from '../sessions.routes.js';

const LIMIT = 5;
const PROXY = '10.0.0.2';

/** Failed authentications are limited per client address: the answer to a failure turns into 429. */
describe('failed authentication limit', () => {
  let t: TestContext;
  afterEach(async () => t?.close());

  const start = async (options: TestAppOptions = {}) => {
    t = await createTestApp({ authFailuresPerMinute: LIMIT, ...options });
  };

  const api = (token: string, remoteAddress = '192.0.2.1', headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'GET', url: '/api/flags', remoteAddress, headers: { authorization: `Bearer ${token}`, ...headers } });

  const badToken = (i: number) => `sy_api_wrong_${i}`;

  it(`answers 401 to ${LIMIT} bad tokens from one address, then 429 with Retry-After; a valid token still works from there`, async () => {
    await start();
    for (let i = 0; i < LIMIT; i++) expect((await api(badToken(i))).statusCode, `attempt ${i + 1}`).toBe(401);
    const limited = await api(badToken(LIMIT));
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.json()).toEqual({ error: { code: 'rate_limited', message: expect.stringMatching(/too many failed authentication attempts.*retry in \d+ s/) } });

    // Valid credentials pass, never counted nor refused: an office behind one address keeps working.
    for (let i = 0; i < LIMIT + 1; i++) expect((await api(t.tokens.viewer)).statusCode).toBe(200);
    const sdk = await t.app.inject({ method: 'GET', url: '/api/sdk/rules', remoteAddress: '192.0.2.1', headers: { authorization: `Bearer ${await t.sdkKey('production')}` } });
    expect(sdk.statusCode).toBe(200);
    // …while the address stays limited for wrong ones.
    expect((await api(badToken(99))).statusCode).toBe(429);
    // Another address has a count of its own.
    expect((await api(badToken(0), '192.0.2.77')).statusCode).toBe(401);
  });

  it('counts wrong SDK keys (OFREP, rules) and failed dashboard sign-ins against the same address', async () => {
    await start();
    const from = '198.51.100.9';
    for (let i = 0; i < LIMIT - 2; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/x', remoteAddress: from, headers: { authorization: `Bearer sdk_wrong_${i}` }, payload: { context: { targetingKey: 'u' } } });
      expect(res.statusCode).toBe(401);
    }
    const signIn = (token: string) => t.app.inject({ method: 'POST', url: '/api/session', remoteAddress: from, headers: { [CSRF_HEADER]: '1' }, payload: { token } });
    expect((await signIn('wrong-one')).statusCode).toBe(401);
    expect((await signIn('wrong-two')).statusCode).toBe(401);
    const limited = await signIn('wrong-three');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(limited.json().error.code).toBe('rate_limited');
    // Signing in with a valid token still works from there.
    expect((await signIn(t.tokens.editor)).statusCode).toBe(200);
  });

  it('without trust in a proxy, X-Forwarded-For cannot dodge the limit', async () => {
    await start();
    for (let i = 0; i <= LIMIT; i++) await api(badToken(i), PROXY, { 'x-forwarded-for': `203.0.113.${i}` });
    expect((await api(badToken(0), PROXY, { 'x-forwarded-for': '203.0.113.200' })).statusCode).toBe(429);
  });

  it('behind a trusted proxy, counts per client address (X-Forwarded-For), not per proxy', async () => {
    await start({ trustProxy: [PROXY] });
    for (let i = 0; i < LIMIT; i++) await api(badToken(i), PROXY, { 'x-forwarded-for': '203.0.113.1' });
    expect((await api(badToken(0), PROXY, { 'x-forwarded-for': '203.0.113.1' })).statusCode).toBe(429);
    expect((await api(badToken(0), PROXY, { 'x-forwarded-for': '203.0.113.2' })).statusCode).toBe(401);
    // A peer that is not the proxy is itself the client, whatever it claims.
    for (let i = 0; i <= LIMIT; i++) await api(badToken(i), '192.0.2.50', { 'x-forwarded-for': `203.0.113.${100 + i}` });
    expect((await api(badToken(0), '192.0.2.50', { 'x-forwarded-for': '203.0.113.250' })).statusCode).toBe(429);
  });
});

/** SDK routes read a cached key without the bearer() expression: the answers must stay the same. */
describe('SDK key spellings once the key is cached', () => {
  let t: TestContext;
  afterEach(async () => t?.close());

  it('takes any spelling of the Bearer scheme and refuses anything but exactly the key', async () => {
    t = await createTestApp();
    const key = await t.sdkKey('production');
    const evaluate = (authorization: string) =>
      t.app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/missing', headers: { authorization }, payload: { context: { targetingKey: 'u' } } });
    // The first request caches the key; the flag does not exist, so a recognised key answers 404.
    expect((await evaluate(`Bearer ${key}`)).statusCode).toBe(404);
    for (const spelling of [`Bearer ${key}`, `bearer ${key}`, `BEARER ${key}`, `Bearer   ${key}`, `Bearer\t${key}`]) {
      expect((await evaluate(spelling)).statusCode, JSON.stringify(spelling)).toBe(404);
    }
    for (const spelling of [`Bearer ${key} extra`, `Bearer ${key}x`, `Bearer ${key.slice(0, -1)}`, `Bearer`, `Bearer `, key, `Basic ${key}`]) {
      expect((await evaluate(spelling)).statusCode, JSON.stringify(spelling)).toBe(401);
    }
  });
});
