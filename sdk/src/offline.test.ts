import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type SwitchyardClient } from './client.js';
import { guardMetrics } from './metrics.js';
import { silentLogger, type ClientOptions, type FetchLike } from './options.js';
import { booleanFlag, FakeClock, FakeServer, ruleSet, settle } from './testing/fakes.js';

/** `offline: true` (no network at all) and `ready({ detailed: true })` (why the client is not ready). */

const rules = ruleSet(3, [booleanFlag('enabled', true), { ...booleanFlag('guarded', true), guarded: true }]);

let clients: SwitchyardClient[] = [];
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  clients = [];
});

function setup(options: Partial<ClientOptions> = {}, server = new FakeServer(rules)) {
  const clock = new FakeClock();
  const client = createClient({ url: 'http://switchyard.test/', sdkKey: 'sdk-key', fetch: server.fetch, clock, random: () => 0.5, logger: silentLogger, ...options });
  clients.push(client);
  return { client, clock, server };
}

describe('createClient({ offline: true })', () => {
  it('makes no request at all (no rules, no stream, no metrics upload) and serves the bootstrap rules', async () => {
    const requests: string[] = [];
    const fetch: FetchLike = async (url) => {
      requests.push(url);
      return new Response(null, { status: 500 });
    };
    const { client, clock } = setup({ offline: true, fetch, bootstrap: rules, metrics: guardMetrics, flushIntervalMs: 1_000 });
    let ready = 0;
    client.on('ready', () => ready++);
    await expect(client.ready()).resolves.toBe(true);
    await expect(client.ready({ detailed: true })).resolves.toEqual({ ready: true, reason: undefined, error: undefined });
    expect(client.isEnabled('enabled', 'u1')).toBe(true);
    expect(client.isEnabled('guarded', 'u1')).toBe(true);
    client.track('error', 'u1');
    await clock.advance(60_000);
    await client.flush();
    await settle();
    expect(ready).toBe(1);
    expect(requests).toEqual([]);
    expect(clock.pending).toBe(0); // no stream watchdog, no poll, no metrics timer
    await client.close();
    expect(requests).toEqual([]);
  });

  it('without bootstrap: serves every default and ready() resolves at once, with reason "offline"', async () => {
    const server = new FakeServer(rules);
    const { client } = setup({ offline: true }, server);
    await expect(client.ready()).resolves.toBe(false);
    await expect(client.ready({ timeoutMs: 5_000, detailed: true })).resolves.toMatchObject({ ready: false, reason: 'offline' });
    expect(client.initialized).toBe(false);
    expect(client.isEnabled('enabled', 'u1')).toBe(false);
    expect(client.isEnabled('enabled', 'u1', true)).toBe(true);
    expect(client.variation('color', 'u1', 'blue')).toBe('blue');
    expect(server.requests).toHaveLength(0);
  });

  it('needs neither url, sdkKey nor fetch', async () => {
    const client = createClient({ offline: true, bootstrap: rules } as ClientOptions);
    clients.push(client);
    expect(client.isEnabled('enabled', 'u1')).toBe(true);
    // Online, they are still required.
    expect(() => createClient({ offline: false, bootstrap: rules } as ClientOptions)).toThrow(/options.url is required/);
  });

  it('is what makes the difference: the same client online opens a stream even with bootstrap', async () => {
    const server = new FakeServer(rules);
    setup({ bootstrap: rules }, server);
    await settle();
    expect(server.requests.map((r) => r.path)).toEqual(['/api/sdk/stream']);
  });
});

describe('ready({ detailed: true }): a timeout told from a rejected key', () => {
  it('unauthorized: the 401 error, at once (no need to wait for the timeout); ready() stays a boolean', async () => {
    const { client, clock } = setup({}, Object.assign(new FakeServer(rules), { stream: () => new Response('bad key', { status: 401 }) }));
    const detailed = client.ready({ timeoutMs: 10_000, detailed: true });
    const plain = client.ready({ timeoutMs: 10_000 });
    await settle();
    const result = await detailed;
    expect(result).toMatchObject({ ready: false, reason: 'unauthorized' });
    expect(result.error?.code).toBe('UNAUTHORIZED');
    expect(result.error?.status).toBe(401);
    await expect(plain).resolves.toBe(false);
    expect(clock.now()).toBe(1_000_000); // no time passed
  });

  it('403 is unauthorized too', async () => {
    const { client } = setup({ streaming: false }, Object.assign(new FakeServer(rules), { rules: () => new Response(null, { status: 403 }) }));
    const result = await client.ready({ detailed: true });
    expect(result).toMatchObject({ ready: false, reason: 'unauthorized' });
    expect(result.error?.status).toBe(403);
  });

  it('timeout: with the last failure meanwhile (here a 503), and the client keeps trying', async () => {
    const server = new FakeServer(rules);
    let down = true;
    const { stream, rules: poll } = server;
    server.stream = (request) => (down ? new Response('down', { status: 503 }) : stream(request));
    server.rules = (request) => (down ? new Response('down', { status: 503 }) : poll(request));
    const { client, clock } = setup({}, server);
    const detailed = client.ready({ timeoutMs: 2_000, detailed: true });
    await settle();
    await clock.advance(2_000);
    const result = await detailed;
    expect(result).toMatchObject({ ready: false, reason: 'timeout' });
    expect(result.error?.code).toBe('HTTP');
    expect(result.error?.status).toBe(503);
    down = false;
    await clock.advance(60_000);
    await expect(client.ready({ detailed: true })).resolves.toMatchObject({ ready: true, reason: undefined });
  });

  it('timeout without any failure: the server has not answered yet (error undefined)', async () => {
    const server = new FakeServer(rules);
    server.stream = () => 'hang';
    const { client, clock } = setup({}, server);
    const detailed = client.ready({ timeoutMs: 1_000, detailed: true });
    await clock.advance(1_000);
    await expect(detailed).resolves.toEqual({ ready: false, reason: 'timeout', error: undefined });
  });

  it('closed: close() before any rules', async () => {
    const server = new FakeServer(rules);
    server.stream = () => 'hang';
    const { client } = setup({}, server);
    const detailed = client.ready({ detailed: true });
    await client.close();
    await expect(detailed).resolves.toMatchObject({ ready: false, reason: 'closed' });
  });

  it('ready: { ready: true } once the rules are in', async () => {
    const { client } = setup();
    await expect(client.ready({ timeoutMs: 1_000, detailed: true })).resolves.toMatchObject({ ready: true, reason: undefined });
    await expect(client.ready({ detailed: false })).resolves.toBe(true);
  });
});
