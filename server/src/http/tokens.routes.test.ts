import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type ErrorBody, type TestContext } from '../testing/test-app.js';

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

interface TokenBody {
  id: number;
  name: string;
  role: string;
  prefix: string;
  createdBy: string;
  revokedAt: string | null;
  token?: string;
}
interface SdkKeyBody {
  id: number;
  name: string;
  environment: string;
  prefix: string;
  revokedAt: string | null;
  key?: string;
}

describe('GET /api/me', () => {
  it('names the token and its role', async () => {
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/me' })).json()).toEqual({ name: 'viewer', role: 'viewer' });
    expect((await t.request(t.adminToken, { method: 'GET', url: '/api/me' })).json()).toEqual({ name: 'admin', role: 'admin' });
  });
  it('401 without or with bad credentials', async () => {
    expect((await t.request(null, { method: 'GET', url: '/api/me' })).statusCode).toBe(401);
    expect((await t.request('sy_api_x', { method: 'GET', url: '/api/me' })).statusCode).toBe(401);
  });
});

describe('API tokens', () => {
  it('creates a token shown once, lists it without the secret, and revokes it', async () => {
    const created = await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', payload: { name: 'ci', role: 'editor' } });
    expect(created.statusCode).toBe(201);
    const token = created.json<TokenBody>();
    expect(token.token).toMatch(/^sy_api_/);
    expect(token).toMatchObject({ name: 'ci', role: 'editor', createdBy: 'admin', revokedAt: null });
    expect(token.token!.startsWith(token.prefix.replace('…', ''))).toBe(true);

    const listed = await t.request(t.adminToken, { method: 'GET', url: '/api/tokens' });
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain(token.token!);
    const items = listed.json<{ items: TokenBody[] }>().items;
    expect(items.map((i) => i.name)).toEqual(['admin', 'editor', 'viewer', 'ci']);
    expect(items.every((i) => !('token' in i) && !('tokenHash' in i))).toBe(true);

    expect((await t.request(token.token!, { method: 'GET', url: '/api/me' })).statusCode).toBe(200);
    const revoked = await t.request(t.adminToken, { method: 'DELETE', url: `/api/tokens/${token.id}` });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json<TokenBody>().revokedAt).not.toBeNull();
    expect((await t.request(token.token!, { method: 'GET', url: '/api/me' })).statusCode).toBe(401);
    expect((await t.request(t.adminToken, { method: 'DELETE', url: `/api/tokens/${token.id}` })).statusCode).toBe(409);
  });

  it('404 when revoking an unknown token', async () => {
    expect((await t.request(t.adminToken, { method: 'DELETE', url: '/api/tokens/999' })).statusCode).toBe(404);
  });

  it('403 for editors and viewers managing tokens', async () => {
    for (const token of [t.tokens.editor, t.tokens.viewer]) {
      for (const req of [
        { method: 'GET' as const, url: '/api/tokens' },
        { method: 'POST' as const, url: '/api/tokens', payload: { name: 'x', role: 'admin' } },
        { method: 'DELETE' as const, url: '/api/tokens/1' },
        { method: 'GET' as const, url: '/api/sdk-keys' },
        { method: 'POST' as const, url: '/api/sdk-keys', payload: { name: 'x', environment: 'production' } },
        { method: 'DELETE' as const, url: '/api/sdk-keys/1' },
      ]) {
        const res = await t.request(token, req);
        expect(res.statusCode, `${req.method} ${req.url}`).toBe(403);
        expect(res.json<ErrorBody>().error.message).toMatch(/admin role/);
      }
    }
  });

  it('401 without credentials, 403 for SDK keys', async () => {
    expect((await t.request(null, { method: 'POST', url: '/api/tokens', payload: { name: 'x', role: 'admin' } })).statusCode).toBe(401);
    expect((await t.request(await t.sdkKey('development'), { method: 'GET', url: '/api/tokens' })).statusCode).toBe(403);
  });

  it('audits creation and revocation, never with the secret', async () => {
    const created = (await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', payload: { name: 'ci', role: 'viewer' } })).json<TokenBody>();
    await t.request(t.adminToken, { method: 'DELETE', url: `/api/tokens/${created.id}` });
    const audit = await t.request(t.adminToken, { method: 'GET', url: '/api/audit?resourceType=api_token&limit=2' });
    expect(audit.json<{ items: { action: string }[] }>().items.map((e) => e.action)).toEqual(['api_token.revoked', 'api_token.created']);
    expect(audit.body).not.toContain(created.token!);
  });
});

describe('SDK keys', () => {
  it('creates a key for one environment, lists it without the secret, and revokes it', async () => {
    const created = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: 'web', environment: 'staging' } });
    expect(created.statusCode).toBe(201);
    const key = created.json<SdkKeyBody>();
    expect(key.key).toMatch(/^sy_sdk_/);
    expect(key).toMatchObject({ name: 'web', environment: 'staging', revokedAt: null });
    const listed = await t.request(t.adminToken, { method: 'GET', url: '/api/sdk-keys' });
    expect(listed.body).not.toContain(key.key!);
    expect(listed.json<{ items: SdkKeyBody[] }>().items.map((k) => k.name)).toEqual(['web']);

    const rules = await t.request(key.key!, { method: 'GET', url: '/api/sdk/rules' });
    expect(rules.json<{ environment: string }>().environment).toBe('staging');
    expect((await t.request(t.adminToken, { method: 'DELETE', url: `/api/sdk-keys/${key.id}` })).statusCode).toBe(200);
    expect((await t.request(key.key!, { method: 'GET', url: '/api/sdk/rules' })).statusCode).toBe(401);
    expect((await t.request(t.adminToken, { method: 'DELETE', url: `/api/sdk-keys/${key.id}` })).statusCode).toBe(409);
  });

  it('400 for an unknown environment, 404 when revoking an unknown key', async () => {
    const res = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: 'web', environment: 'moon' } });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.message).toMatch(/environment.*moon/);
    expect((await t.request(t.adminToken, { method: 'DELETE', url: '/api/sdk-keys/42' })).statusCode).toBe(404);
  });
});
