import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dumpTables } from '../testing/databases.js';
import { createTestApp, type TestContext } from '../testing/test-app.js';
import { CSRF_HEADER, SESSION_COOKIE } from './sessions.routes.js';

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => t.close());

async function signIn(token: string): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/session', headers: { [CSRF_HEADER]: '1' }, payload: { token } });
  expect(res.statusCode).toBe(200);
  const cookie = res.cookies.find((c) => c.name === SESSION_COOKIE)!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  return `${SESSION_COOKIE}=${cookie.value}`;
}

describe('dashboard sessions', () => {
  it('exchanges an API token for a cookie that authenticates, and stores only a hash', async () => {
    const cookie = await signIn(t.tokens.editor);
    const me = await t.app.inject({ method: 'GET', url: '/api/me', headers: { cookie } });
    expect(me.json()).toEqual({ name: 'editor', role: 'editor' });
    const rows = (await dumpTables(t.db, ['sessions'])).sessions as { session_hash: string }[];
    expect(rows).toHaveLength(1);
    expect(cookie).not.toContain(rows[0]!.session_hash);
  });

  it('rejects a wrong token and SDK keys', async () => {
    const bad = await t.app.inject({ method: 'POST', url: '/api/session', headers: { [CSRF_HEADER]: '1' }, payload: { token: 'nope' } });
    expect(bad.statusCode).toBe(401);
    const sdk = await t.app.inject({ method: 'POST', url: '/api/session', headers: { [CSRF_HEADER]: '1' }, payload: { token: await t.sdkKey('production') } });
    expect(sdk.statusCode).toBe(401);
  });

  it('requires the CSRF header for cookie writes, not for bearer writes', async () => {
    const cookie = await signIn(t.tokens.editor);
    const without = await t.app.inject({ method: 'POST', url: '/api/flags', headers: { cookie }, payload: { key: 'a' } });
    expect(without.statusCode).toBe(403);
    expect(without.json().error.message).toContain('X-Switchyard-CSRF');
    const withHeader = await t.app.inject({ method: 'POST', url: '/api/flags', headers: { cookie, [CSRF_HEADER]: '1' }, payload: { key: 'a' } });
    expect(withHeader.statusCode).toBe(201);
    const bearer = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags', payload: { key: 'b' } });
    expect(bearer.statusCode).toBe(201);
  });

  it('keeps the role of the token: a viewer session cannot write', async () => {
    const cookie = await signIn(t.tokens.viewer);
    const res = await t.app.inject({ method: 'POST', url: '/api/flags', headers: { cookie, [CSRF_HEADER]: '1' }, payload: { key: 'a' } });
    expect(res.statusCode).toBe(403);
  });

  it('ends on sign-out and when the token is revoked', async () => {
    const cookie = await signIn(t.tokens.editor);
    const out = await t.app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie, [CSRF_HEADER]: '1' } });
    expect(out.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/me', headers: { cookie } })).statusCode).toBe(401);

    const again = await signIn(t.tokens.editor);
    const tokens = (await t.request(t.adminToken, { method: 'GET', url: '/api/tokens' })).json<{ items: { id: number; name: string }[] }>();
    const id = tokens.items.find((x) => x.name === 'editor')!.id;
    expect((await t.request(t.adminToken, { method: 'DELETE', url: `/api/tokens/${id}` })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/me', headers: { cookie: again } })).statusCode).toBe(401);
  });
});

describe('the session cookie behind a TLS-terminating proxy', () => {
  const PROXY = '10.1.2.3';
  const cases: { name: string; trustProxy?: boolean | string[]; from: string; proto?: string; secure: boolean }[] = [
    { name: 'no proxy trusted: X-Forwarded-Proto is ignored', from: PROXY, proto: 'https', secure: false },
    { name: 'the trusted proxy says https', trustProxy: [PROXY], from: PROXY, proto: 'https', secure: true },
    { name: 'a range holding the proxy says https', trustProxy: ['10.0.0.0/8'], from: PROXY, proto: 'https', secure: true },
    { name: 'a peer that is not the trusted proxy says https', trustProxy: [PROXY], from: '192.0.2.8', proto: 'https', secure: false },
    { name: 'the trusted proxy says http', trustProxy: true, from: PROXY, proto: 'http', secure: false },
    { name: 'the trusted proxy says nothing (plain HTTP to us)', trustProxy: true, from: PROXY, secure: false },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.secure ? 'Secure' : 'not Secure'}`, async () => {
      const app = await createTestApp(c.trustProxy === undefined ? {} : { trustProxy: c.trustProxy });
      try {
        const headers = { [CSRF_HEADER]: '1', ...(c.proto ? { 'x-forwarded-proto': c.proto } : {}) };
        const res = await app.app.inject({ method: 'POST', url: '/api/session', remoteAddress: c.from, headers, payload: { token: app.tokens.viewer } });
        expect(res.statusCode).toBe(200);
        const cookie = res.cookies.find((x) => x.name === SESSION_COOKIE)!;
        expect(Boolean(cookie.secure)).toBe(c.secure);
        const out = await app.app.inject({ method: 'DELETE', url: '/api/session', remoteAddress: c.from, headers: { ...headers, cookie: `${SESSION_COOKIE}=${cookie.value}` } });
        expect(Boolean(out.cookies.find((x) => x.name === SESSION_COOKIE)!.secure)).toBe(c.secure);
      } finally {
        await app.close();
      }
    });
  }
});
