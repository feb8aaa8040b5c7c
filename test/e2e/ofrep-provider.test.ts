import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature } from '@openfeature/server-sdk';
import { bucket } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Remote evaluation through the real OpenFeature OFREP provider against the real server. A second
 * provider, bound to its own OpenFeature domain, holds a client key: single-flag evaluation is not
 * for client keys (bulk only), so every one of its evaluations is refused and resolves to the default.
 */
const CLIENT_KEY_DOMAIN = 'client-key';

describe('OFREP with @openfeature/ofrep-provider', () => {
  let server: ServerProcess;
  let call: ReturnType<typeof api>;
  let sdkKey: string;
  let clientKey: string;

  beforeAll(async () => {
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    const key = await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'ofrep', environment: 'production' });
    expect(key.status).toBe(201);
    sdkKey = key.body.key;
    await call('POST', '/api/flags', { key: 'new-checkout' });
    // Visible to client keys, so the client-key rows show that even a visible flag is bulk-only.
    await call('POST', '/api/flags', { key: 'theme', type: 'string', variations: [{ key: 'light', value: 'light' }, { key: 'dark', value: 'dark' }], clientVisible: true });
    const flag = await call<{ version: number }>('GET', '/api/flags/new-checkout');
    await call('POST', '/api/flags/new-checkout/environments/production/stage', { stage: '10%', version: flag.body.version });
    await call('PATCH', '/api/segments/internal', { version: 1, included: ['dogfooder'] });
    const retries = await call<{ version: number }>('POST', '/api/flags', { key: 'retries', type: 'number', variations: [{ key: 'few', value: 3 }, { key: 'many', value: 5 }] });
    const byPlan = [{ id: 'pro', clauses: [{ attribute: 'company.plan', operator: 'in', values: ['pro'] }], serve: { variation: 'many' } }];
    expect((await call('PATCH', '/api/flags/retries/environments/production', { version: retries.body.version, on: true, rules: byPlan, defaultServe: { variation: 'few' } })).status).toBe(200);
    const limits = await call<{ version: number }>('POST', '/api/flags', { key: 'limits', type: 'json', variations: [{ key: 'std', value: { rpm: 60 } }, { key: 'big', value: { rpm: 600 } }] });
    expect((await call('PATCH', '/api/flags/limits/environments/production', { version: limits.body.version, on: true, defaultServe: { variation: 'std' } })).status).toBe(200);
    await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: server.url, headers: [['Authorization', `Bearer ${key.body.key}`]] }));
    const client = await call<{ key: string; kind: string }>('POST', '/api/sdk-keys', { name: 'ofrep-client', environment: 'production', kind: 'client' });
    expect(client.body.kind).toBe('client');
    clientKey = client.body.key;
    await OpenFeature.setProviderAndWait(CLIENT_KEY_DOMAIN, new OFREPProvider({ baseUrl: server.url, headers: [['Authorization', `Bearer ${clientKey}`]] }));
  });

  afterAll(async () => {
    await OpenFeature.close();
    await server.stop();
    removeDataDir(server.dataDir);
  });

  function usersAt(inside: boolean): string {
    for (let i = 0; ; i++) {
      const id = `user-${i}`;
      if (bucket('new-checkout', id) < 10_000 === inside) return id;
    }
  }

  it('evaluates a 10% rollout: SPLIT inside and outside, dogfood users by TARGETING_MATCH', async () => {
    const client = OpenFeature.getClient();
    const inside = await client.getBooleanDetails('new-checkout', false, { targetingKey: usersAt(true) });
    expect(inside).toMatchObject({ value: true, variant: 'on', reason: 'SPLIT' });
    const outside = await client.getBooleanDetails('new-checkout', true, { targetingKey: usersAt(false) });
    expect(outside).toMatchObject({ value: false, variant: 'off', reason: 'SPLIT' });
    const dogfood = await client.getBooleanDetails('new-checkout', false, { targetingKey: 'dogfooder' });
    expect(dogfood).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
  });

  it('reports unknown flags and type mismatches the OpenFeature way', async () => {
    const client = OpenFeature.getClient();
    const missing = await client.getBooleanDetails('nope', true, { targetingKey: 'u' });
    expect(missing).toMatchObject({ value: true, errorCode: 'FLAG_NOT_FOUND' });
    const mismatch = await client.getBooleanDetails('theme', false, { targetingKey: 'u' });
    expect(mismatch).toMatchObject({ value: false, errorCode: 'TYPE_MISMATCH' });
    const theme = await client.getStringDetails('theme', 'x', { targetingKey: 'u' });
    expect(theme).toMatchObject({ value: 'light', reason: 'DISABLED' });
  });

  type Kind = 'boolean' | 'string' | 'number' | 'object';
  interface Row {
    name: string;
    flag: string;
    kind: Kind;
    defaultValue: boolean | string | number | { rpm: number };
    context: Record<string, unknown>;
    expected: Record<string, unknown>;
    /** Evaluated by the provider holding a client key. */
    clientKey?: true;
  }
  /** The server answers a client key's single-flag evaluation 403 (no body): the provider's error, the caller's default. */
  const refused = { reason: 'ERROR', errorCode: 'GENERAL' };
  const rows = (): Row[] => [
    { name: 'boolean SPLIT inside a 10% rollout', flag: 'new-checkout', kind: 'boolean', defaultValue: false, context: { targetingKey: usersAt(true) }, expected: { value: true, variant: 'on', reason: 'SPLIT' } },
    { name: 'boolean TARGETING_MATCH for a dogfood user', flag: 'new-checkout', kind: 'boolean', defaultValue: false, context: { targetingKey: 'dogfooder' }, expected: { value: true, reason: 'TARGETING_MATCH', flagMetadata: { ruleId: 'dogfood' } } },
    { name: 'targetingKey wins over a userId attribute', flag: 'new-checkout', kind: 'boolean', defaultValue: true, context: { targetingKey: usersAt(false), userId: 'dogfooder' }, expected: { value: false, reason: 'SPLIT' } },
    { name: 'string DISABLED', flag: 'theme', kind: 'string', defaultValue: 'x', context: { targetingKey: 'u' }, expected: { value: 'light', variant: 'light', reason: 'DISABLED' } },
    { name: 'number STATIC', flag: 'retries', kind: 'number', defaultValue: 0, context: { targetingKey: 'u' }, expected: { value: 3, variant: 'few', reason: 'STATIC' } },
    { name: 'number TARGETING_MATCH on a nested attribute', flag: 'retries', kind: 'number', defaultValue: 0, context: { targetingKey: 'u', company: { plan: 'pro', seats: 4 } }, expected: { value: 5, variant: 'many', reason: 'TARGETING_MATCH' } },
    { name: 'object STATIC', flag: 'limits', kind: 'object', defaultValue: { rpm: 1 }, context: { targetingKey: 'u' }, expected: { value: { rpm: 60 }, variant: 'std', reason: 'STATIC' } },
    { name: 'FLAG_NOT_FOUND', flag: 'nope', kind: 'boolean', defaultValue: true, context: { targetingKey: 'u' }, expected: { value: true, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' } },
    { name: 'TYPE_MISMATCH', flag: 'theme', kind: 'number', defaultValue: 7, context: { targetingKey: 'u' }, expected: { value: 7, reason: 'ERROR', errorCode: 'TYPE_MISMATCH' } },
    { name: 'TARGETING_KEY_MISSING without a targetingKey', flag: 'new-checkout', kind: 'boolean', defaultValue: true, context: {}, expected: { value: true, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' } },
    { name: 'TARGETING_KEY_MISSING for an empty targetingKey', flag: 'new-checkout', kind: 'boolean', defaultValue: true, context: { targetingKey: '' }, expected: { value: true, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' } },
    { name: 'no key needed for a flag that is off', flag: 'theme', kind: 'string', defaultValue: 'x', context: {}, expected: { value: 'light', reason: 'DISABLED' } },
    { name: 'INVALID_CONTEXT for an over-long attribute', flag: 'theme', kind: 'string', defaultValue: 'x', context: { targetingKey: 'u', email: 'e'.repeat(2000) }, expected: { value: 'x', reason: 'ERROR', errorCode: 'INVALID_CONTEXT' } },
    { name: 'INVALID_CONTEXT for objects nested too deep', flag: 'theme', kind: 'string', defaultValue: 'x', context: { targetingKey: 'u', a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } }, expected: { value: 'x', errorCode: 'INVALID_CONTEXT' } },
    { name: 'client key: a flag visible to client keys is still refused one at a time (bulk only)', clientKey: true, flag: 'theme', kind: 'string', defaultValue: 'x', context: { targetingKey: 'u' }, expected: { value: 'x', ...refused } },
    { name: 'client key: a flag not visible to client keys, refused the same way', clientKey: true, flag: 'new-checkout', kind: 'boolean', defaultValue: true, context: { targetingKey: 'dogfooder' }, expected: { value: true, ...refused } },
    { name: 'client key: an unknown flag, refused the same way (no FLAG_NOT_FOUND that would tell it apart)', clientKey: true, flag: 'nope', kind: 'number', defaultValue: 7, context: { targetingKey: 'u' }, expected: { value: 7, ...refused } },
  ];

  it('resolves every type, reason and error through the provider (table)', async () => {
    const serverKeyClient = OpenFeature.getClient();
    const clientKeyClient = OpenFeature.getClient(CLIENT_KEY_DOMAIN);
    const resolve = (row: Row) => {
      const context = row.context as never;
      const client = row.clientKey ? clientKeyClient : serverKeyClient;
      if (row.kind === 'boolean') return client.getBooleanDetails(row.flag, row.defaultValue as boolean, context);
      if (row.kind === 'string') return client.getStringDetails(row.flag, row.defaultValue as string, context);
      if (row.kind === 'number') return client.getNumberDetails(row.flag, row.defaultValue as number, context);
      return client.getObjectDetails(row.flag, row.defaultValue as { rpm: number }, context);
    };
    for (const row of rows()) expect(await resolve(row), row.name).toMatchObject(row.expected);
  });

  it('answers what the provider cannot send (malformed JSON) with PARSE_ERROR, bad keys with 401 and client keys with 403, with no body', async () => {
    const post = (body: string, token = sdkKey) =>
      fetch(`${server.url}/ofrep/v1/evaluate/flags/theme`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    const malformed = await post('{"context":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ key: 'theme', errorCode: 'PARSE_ERROR' });
    const refused = await post('{"context":{}}', 'sy_sdk_bogus');
    expect(refused.status).toBe(401);
    expect(await refused.text()).toBe('');
    // What the client-key rows of the table got: bulk only, so 403 (the reason in WWW-Authenticate).
    const clientKeyRefused = await post('{"context":{"targetingKey":"u"}}', clientKey);
    expect(clientKeyRefused.status).toBe(403);
    expect(await clientKeyRefused.text()).toBe('');
    expect(clientKeyRefused.headers.get('www-authenticate')).toContain('client key');
  });

  it('bulk evaluation answers 304 to a matching ETag until a flag changes', async () => {
    const bulk = (etag?: string) =>
      fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json', ...(etag ? { 'if-none-match': etag } : {}) },
        body: JSON.stringify({ context: { targetingKey: 'dogfooder' } }),
      });
    const first = await bulk();
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    const body = (await first.json()) as { flags: { key: string; value: unknown }[] };
    expect(body.flags.map((f) => f.key).sort()).toEqual(['limits', 'new-checkout', 'retries', 'theme']);
    expect((await bulk(etag)).status).toBe(304);
    const theme = await call<{ version: number }>('GET', '/api/flags/theme');
    expect((await call('POST', '/api/flags/theme/environments/production/stage', { stage: '100%', variation: 'dark', version: theme.body.version })).status).toBe(200);
    const after = await bulk(etag);
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(etag);
  });
});
