import { signUserKey } from '@switchyard/sdk/node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SseReader } from '../testing/sse.js';
import { createFlag, createTestApp, setStage, type TestContext } from '../testing/test-app.js';

/**
 * Client keys: public, per environment; OFREP bulk evaluation of client-visible flags and its
 * change notifications, nothing else. (The leak test and the role matrix cover every route.)
 */
let t: TestContext;
let client: string;
let url: string;
const open: AbortController[] = [];

async function createKey(environment: string, kind?: 'client' | 'server') {
  const res = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: `${kind ?? 'default'}-key`, environment, ...(kind ? { kind } : {}) } });
  expect(res.statusCode).toBe(201);
  return res.json<{ id: number; key: string; kind: string; prefix: string }>();
}

const bulk = (context: Record<string, unknown>, token = client, query = '', headers: Record<string, string> = {}) =>
  t.request(token, { method: 'POST', url: `/ofrep/v1/evaluate/flags${query}`, payload: { context }, headers });

beforeEach(async () => {
  t = await createTestApp();
  client = (await createKey('production', 'client')).key;
  await createFlag(t, 'visible-banner', { clientVisible: true });
  await createFlag(t, 'secret-project');
  await t.request(t.adminToken, { method: 'PATCH', url: '/api/segments/internal', payload: { version: 1, included: ['employee-1'] } });
  await setStage(t, 'visible-banner', 'production', 'dogfood');
  await setStage(t, 'secret-project', 'production', '100%');
});
afterEach(async () => {
  for (const controller of open.splice(0)) controller.abort();
  await t.close();
});

describe('client keys', () => {
  it('are created with kind client and a recognisable prefix; server keys stay the default', async () => {
    const made = await createKey('staging', 'client');
    expect(made).toMatchObject({ kind: 'client' });
    expect(made.key.startsWith('sy_client_')).toBe(true);
    const server = await createKey('staging');
    expect(server).toMatchObject({ kind: 'server' });
    expect(server.key.startsWith('sy_sdk_')).toBe(true);
    const bad = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: 'x', environment: 'staging', kind: 'browser' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { message: string } }>().error.message).toContain('kind');
  });

  it('bulk evaluation returns only flags marked visible to client keys, without rule ids', async () => {
    const res = await bulk({ targetingKey: 'employee-1' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ flags: { key: string; metadata?: unknown }[] }>();
    expect(body.flags).toEqual([{ key: 'visible-banner', value: true, reason: 'TARGETING_MATCH', variant: 'on', metadata: {} }]);
    // A server key sees everything, with rule ids.
    const server = (await createKey('production')).key;
    const all = (await bulk({ targetingKey: 'employee-1' }, server)).json<{ flags: { key: string }[] }>();
    expect(all.flags.map((f) => f.key).sort()).toEqual(['secret-project', 'visible-banner']);
  });

  it('a flag becomes visible (and invisible) by its per-flag switch', async () => {
    const flag = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/secret-project' })).json<{ version: number; clientVisible: boolean }>();
    expect(flag.clientVisible).toBe(false);
    const patched = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/secret-project', payload: { version: flag.version, clientVisible: true } });
    expect(patched.statusCode).toBe(200);
    expect((await bulk({ targetingKey: 'u' })).json<{ flags: { key: string }[] }>().flags.map((f) => f.key).sort()).toEqual(['secret-project', 'visible-banner']);
  });

  it('are refused by single-flag OFREP, rules, stream and metrics with 403', async () => {
    const single = await t.request(client, { method: 'POST', url: '/ofrep/v1/evaluate/flags/visible-banner', payload: { context: { targetingKey: 'u' } } });
    expect(single.statusCode).toBe(403);
    expect(single.headers['www-authenticate']).toContain('client key');
    expect((await t.request(client, { method: 'GET', url: '/api/sdk/rules' })).statusCode).toBe(403);
    expect((await t.request(client, { method: 'GET', url: '/api/flags' })).statusCode).toBe(403);
  });

  it('advertise change notifications; a stage change sends refetchEvaluation, and the re-fetch sees it', async () => {
    const first = await bulk({ targetingKey: 'someone' });
    const { eventStreams } = first.json<{ eventStreams: { type: string; endpoint: { requestUri: string } }[] }>();
    expect(eventStreams).toHaveLength(1);
    expect(eventStreams[0]!.type).toBe('sse');
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    open.push(controller);
    const response = await fetch(`${url}${eventStreams[0]!.endpoint.requestUri}`, { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const stream = new SseReader(response);
    await setStage(t, 'visible-banner', 'production', '100%');
    const event = await stream.event(0);
    const data = JSON.parse(event.data) as { type: string; etag: string };
    expect(data.type).toBe('refetchEvaluation');
    expect(event.id).toBe(data.etag.replaceAll('"', ''));
    const again = await bulk({ targetingKey: 'someone' }, client, `?flagConfigEtag=${encodeURIComponent(data.etag)}`, { 'if-none-match': first.headers.etag as string });
    expect(again.statusCode).toBe(200);
    expect(again.json<{ flags: { value: unknown }[] }>().flags[0]!.value).toBe(true);
  });

  it('a forged or revoked ticket gets 401', async () => {
    const { eventStreams } = (await bulk({})).json<{ eventStreams: { endpoint: { requestUri: string } }[] }>();
    const uri = eventStreams[0]!.endpoint.requestUri;
    const forged = uri.replace(/ticket=(\d+)\.(.)/, (_m, id: string, c: string) => `ticket=${id}.${c === 'A' ? 'B' : 'A'}`);
    expect((await t.request(null, { method: 'GET', url: forged })).statusCode).toBe(401);
    expect((await t.request(null, { method: 'GET', url: '/ofrep/v1/events?ticket=nonsense' })).statusCode).toBe(401);
  });

  describe('secure mode', () => {
    it('needs the user key signed with the environment secret; anonymous contexts need none', async () => {
      const on = await t.request(t.adminToken, { method: 'POST', url: '/api/environments/production/secure-mode' });
      expect(on.statusCode).toBe(200);
      const { secret, clientSecureMode } = on.json<{ secret: string; clientSecureMode: boolean }>();
      expect(clientSecureMode).toBe(true);
      expect((await bulk({ targetingKey: 'employee-1' })).statusCode).toBe(403);
      expect((await bulk({ targetingKey: 'employee-1', switchyardSignature: signUserKey(secret, 'someone-else') })).statusCode).toBe(403);
      const signed = await bulk({ targetingKey: 'employee-1', switchyardSignature: signUserKey(secret, 'employee-1') });
      expect(signed.statusCode).toBe(200);
      expect(signed.json<{ flags: { value: unknown }[] }>().flags[0]!.value).toBe(true);
      expect((await bulk({})).statusCode).toBe(200);
      // Rotating: the old signature stops working at once.
      const rotated = (await t.request(t.adminToken, { method: 'POST', url: '/api/environments/production/secure-mode' })).json<{ secret: string }>().secret;
      expect(rotated).not.toBe(secret);
      expect((await bulk({ targetingKey: 'employee-1', switchyardSignature: signUserKey(secret, 'employee-1') })).statusCode).toBe(403);
      expect((await bulk({ targetingKey: 'employee-1', switchyardSignature: signUserKey(rotated, 'employee-1') })).statusCode).toBe(200);
      // Off: anyone's key again. The secret never appears in environment listings.
      const off = await t.request(t.adminToken, { method: 'DELETE', url: '/api/environments/production/secure-mode' });
      expect(off.json()).toMatchObject({ clientSecureMode: false });
      expect((await bulk({ targetingKey: 'employee-1' })).statusCode).toBe(200);
      expect(JSON.stringify((await t.request(t.adminToken, { method: 'GET', url: '/api/environments' })).json())).not.toContain(rotated);
    });

    it('is admin-only', async () => {
      const editor = t.tokens.editor;
      expect((await t.request(editor, { method: 'POST', url: '/api/environments/production/secure-mode' })).statusCode).toBe(403);
      expect((await t.request(t.adminToken, { method: 'POST', url: '/api/environments/nowhere/secure-mode' })).statusCode).toBe(404);
    });
  });
});
