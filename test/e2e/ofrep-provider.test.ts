import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature } from '@openfeature/server-sdk';
import { bucket } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/** Remote evaluation through the real OpenFeature OFREP provider against the real server. */
describe('OFREP with @openfeature/ofrep-provider', () => {
  let server: ServerProcess;
  let call: ReturnType<typeof api>;
  let sdkKey: string;

  beforeAll(async () => {
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    const key = await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'ofrep', environment: 'production' });
    expect(key.status).toBe(201);
    sdkKey = key.body.key;
    await call('POST', '/api/flags', { key: 'new-checkout' });
    await call('POST', '/api/flags', { key: 'theme', type: 'string', variations: [{ key: 'light', value: 'light' }, { key: 'dark', value: 'dark' }] });
    const flag = await call<{ version: number }>('GET', '/api/flags/new-checkout');
    await call('POST', '/api/flags/new-checkout/environments/production/stage', { stage: '10%', version: flag.body.version });
    await call('PATCH', '/api/segments/internal', { version: 1, included: ['dogfooder'] });
    await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: server.url, headers: [['Authorization', `Bearer ${key.body.key}`]] }));
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
    expect(body.flags.map((f) => f.key).sort()).toEqual(['new-checkout', 'theme']);
    expect((await bulk(etag)).status).toBe(304);
    const theme = await call<{ version: number }>('GET', '/api/flags/theme');
    expect((await call('POST', '/api/flags/theme/environments/production/stage', { stage: '100%', variation: 'dark', version: theme.body.version })).status).toBe(200);
    const after = await bulk(etag);
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(etag);
  });
});
