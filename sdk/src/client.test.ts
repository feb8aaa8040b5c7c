import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type SwitchyardClient } from './client.js';
import { resolveOptions, silentLogger, type ClientOptions } from './options.js';
import { booleanFlag, FakeClock, FakeServer, ruleSet, settle } from './testing/fakes.js';
import type { FlagConfig } from './types.js';

const colorFlag: FlagConfig = {
  ...booleanFlag('button_color', true),
  type: 'string',
  variations: [
    { key: 'red', value: 'red' },
    { key: 'blue', value: 'blue' },
  ],
  offVariation: 'red',
  defaultServe: { variation: 'blue' },
};

const halfFlag: FlagConfig = {
  ...booleanFlag('half', true),
  defaultServe: { rollout: { variations: [{ variation: 'on', weight: 50_000 }, { variation: 'off', weight: 50_000 }] } },
};

const rules = ruleSet(5, [booleanFlag('enabled', true), booleanFlag('disabled', false), colorFlag, halfFlag]);

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

describe('createClient: readiness', () => {
  it('becomes ready with the server snapshot and fires `ready` once', async () => {
    const { client } = setup();
    let readyEvents = 0;
    client.on('ready', () => readyEvents++);
    expect(client.initialized).toBe(false);
    expect(client.isEnabled('enabled', 'u1')).toBe(false);
    await expect(client.ready({ timeoutMs: 1000 })).resolves.toBe(true);
    await settle();
    expect(client.isEnabled('enabled', 'u1')).toBe(true);
    expect(client.version).toBe(5);
    expect(readyEvents).toBe(1);
  });

  it('serves bootstrap values before the server answers', async () => {
    const server = new FakeServer(rules);
    server.stream = () => 'hang';
    const { client } = setup({ bootstrap: ruleSet(1, [booleanFlag('enabled', false), booleanFlag('boot_only', true)]) }, server);
    let ready = 0;
    client.on('ready', () => ready++);
    expect(client.initialized).toBe(true);
    expect(client.isEnabled('boot_only', 'u1')).toBe(true);
    expect(client.isEnabled('enabled', 'u1')).toBe(false);
    await expect(client.ready()).resolves.toBe(true);
    await settle();
    expect(ready).toBe(1);
  });

  it('reports what the first server snapshot changed relative to bootstrap', async () => {
    const { client, clock } = setup({ bootstrap: ruleSet(1, [booleanFlag('enabled', false), booleanFlag('disabled', false)]) });
    const changes: string[][] = [];
    client.on('change', (keys) => changes.push([...keys].sort()));
    await clock.advance(0);
    expect(client.version).toBe(5);
    expect(changes).toEqual([['button_color', 'enabled', 'half']]);
  });

  it('resolves ready(false) on timeout and stays usable with defaults', async () => {
    const server = new FakeServer(rules);
    server.stream = () => 'hang';
    const { client, clock } = setup({}, server);
    const ready = client.ready({ timeoutMs: 2_000 });
    await clock.advance(1_999);
    let settled: boolean | undefined;
    void ready.then((r) => (settled = r));
    await settle();
    expect(settled).toBeUndefined();
    await clock.advance(1);
    expect(settled).toBe(false);
    expect(client.isEnabled('enabled', 'u1', true)).toBe(true);
    expect(client.variation('button_color', 'u1', 'green')).toBe('green');
  });

  it('resolves pending ready(false) on close', async () => {
    const server = new FakeServer(rules);
    server.stream = () => 'hang';
    const { client } = setup({}, server);
    const ready = client.ready();
    await client.close();
    await expect(ready).resolves.toBe(false);
  });
});

describe('createClient: evaluation', () => {
  it('evaluates with value, variant and reason', async () => {
    const { client } = setup();
    await client.ready();
    expect(client.evaluate('button_color', 'u1', 'green')).toEqual({ value: 'blue', variant: 'blue', reason: 'STATIC' });
    expect(client.evaluate('disabled', { userId: 'u1' }, true)).toEqual({ value: false, variant: 'off', reason: 'DISABLED' });
    expect(client.variation('button_color', undefined, 'green')).toBe('blue');
  });

  it('reports FLAG_NOT_FOUND and TYPE_MISMATCH with the default value', async () => {
    const { client } = setup();
    await client.ready();
    expect(client.evaluate('nope', 'u1', 'x')).toMatchObject({ value: 'x', reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(client.evaluate('button_color', 'u1', 3)).toMatchObject({ value: 3, reason: 'ERROR', errorCode: 'TYPE_MISMATCH' });
    expect(client.evaluate('enabled', 'u1', { a: 1 })).toMatchObject({ value: { a: 1 }, errorCode: 'TYPE_MISMATCH' });
    expect(client.variation('button_color', 'u1', false)).toBe(false);
    expect(client.isEnabled('button_color', 'u1', true)).toBe(true);
  });

  it('buckets a string user ID and a context identically', async () => {
    const { client } = setup();
    await client.ready();
    for (let i = 0; i < 200; i++) {
      const id = `user-${i}`;
      expect(client.isEnabled('half', id)).toBe(client.evaluate('half', { userId: id }, false).value);
    }
    // A context without a userId (or with "") cannot be bucketed: the caller's default, with TARGETING_KEY_MISSING.
    expect(client.evaluate('half', {}, true)).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
    expect(client.isEnabled('half', { userId: '' })).toBe(false);
  });

  it('isEnabled never throws, whatever it is given', async () => {
    const { client } = setup();
    await client.ready();
    const hostile = { get userId(): string { throw new Error('boom'); } };
    const garbage: unknown[] = [null, undefined, 42, NaN, {}, [], () => 1, Symbol('s'), 'enabled', hostile, new Date()];
    for (const flag of garbage) {
      for (const context of garbage) {
        for (const fallback of [undefined, true, false, 'yes', null]) {
          const call = () => client.isEnabled(flag as string, context as string, fallback as boolean);
          expect(call).not.toThrow();
          expect(typeof call()).toBe('boolean');
        }
      }
    }
    expect(client.isEnabled('half', hostile as never, false)).toBe(false);
    expect(client.isEnabled('half', hostile as never, true)).toBe(true);
    expect(() => client.evaluate(null as never, hostile as never, 1)).not.toThrow();
    expect(client.evaluate(Object.create(null) as never, 'u', 1)).toMatchObject({ value: 1, errorCode: 'FLAG_NOT_FOUND' });
    expect(client.evaluate('half', hostile as never, 1)).toMatchObject({ value: 1, errorCode: 'GENERAL' });
    expect(() => client.allFlags(hostile as never)).not.toThrow();
  });

  it('allFlags lists every flag value for a context', async () => {
    const { client } = setup();
    await client.ready();
    expect(client.allFlags('u1')).toMatchObject({ enabled: true, disabled: false, button_color: 'blue' });
    expect(Object.keys(client.allFlags('u1')).sort()).toEqual(['button_color', 'disabled', 'enabled', 'half']);
  });

  it('isEnabled allocates nothing for a string user ID', async () => {
    const { client } = setup();
    await client.ready();
    // Same shared frozen result object for every user on a fixed serve.
    expect(client.evaluate('enabled', 'a', false)).toBe(client.evaluate('enabled', 'b', false));
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) return; // heap measurement needs --expose-gc; the bench covers it
    gc();
    const before = process.memoryUsage().heapUsed;
    let on = 0;
    for (let i = 0; i < 100_000; i++) if (client.isEnabled('half', 'user-fixed')) on++;
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(1_000_000);
    expect(on === 0 || on === 100_000).toBe(true);
  });
});

describe('createClient: events', () => {
  it('delivers payloads, unsubscribes, fires once-listeners once, and isolates a throwing listener', async () => {
    const errors: unknown[] = [];
    const { client, clock, server } = setup({ logger: { warn: () => {}, error: (...args: unknown[]) => void errors.push(args) } });
    const seen: string[] = [];
    client.on('change', () => {
      throw new Error('listener bug');
    });
    const off = client.on('change', (keys) => seen.push(keys.join(',')));
    client.once('change', () => seen.push('once'));
    const offSecond = client.on('change', () => {
      seen.push('first');
      offSecond(); // unsubscribing during an emit skips nobody
    });
    client.on('change', () => seen.push('second'));
    await client.ready();
    await clock.advance(0);
    server.lastStream!.event('patch', { version: 6, flags: { enabled: booleanFlag('enabled', false, 2) } }, 6);
    await clock.advance(0);
    off();
    server.lastStream!.event('patch', { version: 7, flags: { enabled: booleanFlag('enabled', true, 3) } }, 7);
    await clock.advance(0);
    expect(seen).toEqual(['enabled', 'once', 'first', 'second', 'second']);
    expect(errors).toHaveLength(2); // the throwing listener, on both changes
    expect(client.isEnabled('enabled', 'u1')).toBe(true);
  });
});

describe('createClient: options', () => {
  it('fails fast on a missing url or sdkKey', () => {
    expect(() => createClient({ url: '', sdkKey: 'k' })).toThrow(/options.url is required/);
    expect(() => createClient({ url: 'http://x' } as ClientOptions)).toThrow(/options.sdkKey is required/);
    expect(() => createClient({ url: 42, sdkKey: 'k' } as unknown as ClientOptions)).toThrow(/options.url is required/);
    expect(() => createClient(undefined as unknown as ClientOptions)).toThrow(/options.url is required/);
  });

  it('rejects a requestTimeoutMs that is not a usable number of milliseconds, naming the option', () => {
    const fetch = new FakeServer(rules).fetch;
    const invalid = [
      { name: 'zero', value: 0 },
      { name: 'negative', value: -5 },
      { name: 'NaN', value: Number.NaN },
      { name: 'Infinity', value: Number.POSITIVE_INFINITY },
      { name: 'beyond what a timer can wait (Node would fire it at once)', value: 2 ** 31 },
      { name: 'a string', value: '5000' },
    ];
    for (const { name, value } of invalid) {
      expect(() => createClient({ url: 'http://x', sdkKey: 'k', fetch, requestTimeoutMs: value as number }), name).toThrow(/options\.requestTimeoutMs must be 1 to 2147483647 ms, got /);
    }
    expect(resolveOptions({ url: 'http://x', sdkKey: 'k', fetch }).requestTimeoutMs).toBe(10_000);
    expect(resolveOptions({ url: 'http://x', sdkKey: 'k', fetch, requestTimeoutMs: 2_500.7 }).requestTimeoutMs).toBe(2_500);
  });
});

describe('createClient: close', () => {
  it('leaves no timers and aborts the stream and in-flight fetches', async () => {
    const server = new FakeServer(rules);
    const { client, clock } = setup({ streamFailuresBeforePolling: 1 }, server);
    await client.ready();
    expect(server.openStreams).toBe(1);
    expect(clock.pending).toBeGreaterThan(0); // heartbeat watchdog, healthy-stream timer
    server.rules = () => 'hang';
    server.stream = () => 'hang';
    server.lastStream!.end();
    await clock.advance(1_000 + 10_000); // the reconnect attempt hangs until its timeout, and polling starts
    await clock.advance(500); // polling hangs; the next reconnect attempt hangs
    expect(server.hanging).toBe(2);
    void client.ready({ timeoutMs: 10_000 });
    await client.close();
    await settle();
    expect(clock.pending).toBe(0);
    expect(server.hanging).toBe(0);
    expect(server.openStreams).toBe(0);
    // Still answers from the last rules after close.
    expect(client.isEnabled('enabled', 'u1')).toBe(true);
  });
});
