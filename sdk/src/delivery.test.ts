/** The delivery protocol as the client sees it: stream, backoff, heartbeats, polling fallback, versions. */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type SwitchyardClient } from './client.js';
import type { SwitchyardError } from './errors.js';
import { silentLogger, type ClientOptions, type FetchLike } from './options.js';
import { booleanFlag, FakeClock, FakeServer, FakeStream, ruleSet, segment, type Route } from './testing/fakes.js';
import type { RuleSet } from './types.js';

let clients: SwitchyardClient[] = [];
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  clients = [];
});

const v5 = ruleSet(5, [booleanFlag('a', true), booleanFlag('b', true)]);

type Routes = Partial<Pick<FakeServer, 'stream' | 'rules'>>;

/** Routes are set before the client exists: it sends its first request from createClient. */
function setup(options: Partial<ClientOptions> = {}, initial: RuleSet = v5, routes: Routes = {}) {
  const server = new FakeServer(initial);
  const defaults = { stream: server.stream, rules: server.rules };
  Object.assign(server, routes);
  const clock = new FakeClock();
  const client = createClient({ url: 'http://sy.test', sdkKey: 'k', fetch: server.fetch, clock, random: () => 1, logger: silentLogger, ...options });
  clients.push(client);
  const changes: string[][] = [];
  const errors: SwitchyardError[] = [];
  const log: string[] = [];
  client.on('change', (keys) => changes.push([...keys].sort()));
  client.on('error', (e) => errors.push(e));
  client.on('stale', () => log.push('stale'));
  client.on('recovered', () => log.push('recovered'));
  return { server, clock, client, changes, errors, log, defaults };
}

const failing = () => new Response('down', { status: 503 });

describe('stream: backoff', () => {
  it('reconnects with capped exponential backoff', async () => {
    const { server, clock, errors } = setup({ streamFailuresBeforePolling: 100 }, v5, { stream: failing });
    const delays: number[] = [];
    await clock.advance(0);
    for (let i = 0; i < 8; i++) {
      delays.push(...clock.delays());
      await clock.advance(clock.delays()[0]!);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(server.count('/api/sdk/stream')).toBe(9);
    expect(errors.every((e) => e.code === 'HTTP' && e.status === 503)).toBe(true);
  });

  it('reopens a working stream the server closed within a second, jittered, never at once', async () => {
    const cases = [
      { name: 'lowest random', random: 0, expected: 500 },
      { name: 'middle', random: 0.5, expected: 750 },
      { name: 'highest random', random: 0.999, expected: 999.5 },
    ];
    for (const { name, random, expected } of cases) {
      const { server, clock, client, errors } = setup({ random: () => random });
      await client.ready();
      await clock.advance(20_000);
      server.lastStream!.end(); // a server restart or a proxy: the stream ends cleanly
      await clock.advance(0);
      expect(clock.delays(), name).toEqual([expected]);
      await clock.advance(expected);
      expect(server.count('/api/sdk/stream'), name).toBe(2);
      expect(server.openStreams, name).toBe(1);
      expect(errors, 'a routine close is not reported as an error').toEqual([]);
      await client.close();
    }
  });

  it('after a restart, starts the backoff afresh, however many failures came before', async () => {
    const { server, clock, changes, defaults } = setup({ streamFailuresBeforePolling: 100, random: () => 0.5 }, v5, { stream: failing });
    const realStream = defaults.stream;
    await clock.advance(0);
    await clock.advance(500 + 1_000 + 2_000); // three failures; the next wait is 4 s
    server.stream = realStream;
    await clock.advance(4_000);
    expect(server.openStreams).toBe(1);
    await clock.advance(10_000);
    // The server restarts: it ends the stream, refuses connections for a while, then takes a change.
    server.stream = failing;
    server.lastStream!.end();
    await clock.advance(0);
    expect(clock.delays()).toEqual([750]); // not the 8 s the earlier failures had grown the backoff to
    await clock.advance(750);
    expect(clock.delays()).toEqual([500]); // refused: the backoff from its start
    await clock.advance(500);
    expect(clock.delays()).toEqual([1_000]);
    server.stream = realStream;
    server.ruleSet = ruleSet(6, [booleanFlag('a', false, 2), booleanFlag('b', true)]);
    await clock.advance(1_000);
    expect(changes).toEqual([['a']]); // 2.25 s after the stream ended
  });

  it('keeps retrying within a second while a restarting server refuses connections, for 10 s; then backs off', async () => {
    const refused: Route = () => Promise.reject(new TypeError('fetch failed'));
    const { server, clock, client, log, defaults } = setup({ random: () => 0.5, streamFailuresBeforePolling: 3, pollIntervalMs: 600_000 });
    const reconnect = () => clock.delays().filter((d) => d < 60_000); // not the poll timer
    await client.ready();
    await clock.advance(5_000);
    server.stream = refused;
    server.rules = refused;
    server.lastStream!.end(); // SIGTERM: the server ends its streams, then stops listening
    await clock.advance(0);
    const waits: number[] = [];
    for (let t = 0; t < 10_000; ) {
      const [wait] = reconnect();
      waits.push(wait!);
      t += wait!;
      await clock.advance(wait!);
    }
    expect(waits).toEqual(Array(14).fill(750)); // quick retries through the first 10 s
    expect(log).toEqual(['stale']); // the third failure started polling, which failed too
    expect(reconnect()).toEqual([500]); // 10 s on: the backoff starts
    await clock.advance(500);
    expect(reconnect()).toEqual([1_000]);
    server.stream = defaults.stream;
    server.ruleSet = ruleSet(6, [booleanFlag('a', false, 2), booleanFlag('b', true)]);
    await clock.advance(1_000);
    expect(client.isEnabled('a', 'u')).toBe(false);
    expect(log).toEqual(['stale', 'recovered']);
  });

  it('backs off for a flapping server: streams that keep dying young count as failures', async () => {
    const { server, clock, client } = setup({ random: () => 0.5, streamFailuresBeforePolling: 100 });
    await client.ready();
    await clock.advance(10_000);
    server.lastStream!.end();
    await clock.advance(0);
    expect(clock.delays()).toEqual([750]); // the first young death: quick
    for (const expected of [500, 1_000, 2_000]) {
      await clock.advance(clock.delays()[0]!);
      expect(server.openStreams).toBe(1);
      await clock.advance(10_000);
      server.lastStream!.end();
      await clock.advance(0);
      expect(clock.delays()).toEqual([expected]); // died young again: the backoff grows
    }
    await clock.advance(2_000);
    for (let t = 0; t < 4; t++) {
      server.lastStream!.heartbeat();
      await clock.advance(15_000);
    }
    server.lastStream!.end(); // up for 60 s: healthy, so quick again
    await clock.advance(0);
    expect(clock.delays()).toEqual([750]);
  });

  it('honours Retry-After when it asks for longer', async () => {
    const retryLater = () => new Response(null, { status: 429, headers: { 'Retry-After': '20' } });
    const { clock } = setup({}, v5, { stream: retryLater });
    await clock.advance(0);
    expect(clock.delays()).toEqual([20_000]);
  });
});

describe('stream: liveness', () => {
  it('keeps a stream with heartbeats and reconnects a silent one, resuming with Last-Event-ID', async () => {
    const { server, clock, client } = setup();
    await client.ready();
    expect(server.lastStream!.request.headers).not.toHaveProperty('Last-Event-ID');
    for (let i = 0; i < 5; i++) {
      await clock.advance(15_000);
      server.lastStream!.heartbeat();
    }
    expect(server.count('/api/sdk/stream')).toBe(1);
    await clock.advance(44_999);
    expect(server.lastStream!.closed).toBe(false);
    await clock.advance(1);
    expect(server.lastStream!.closed).toBe(true); // aborted by the watchdog
    await clock.advance(1_000);
    expect(server.count('/api/sdk/stream')).toBe(2);
    expect(server.lastStream!.request.headers['Last-Event-ID']).toBe('5');
    expect(server.lastStream!.request.headers.Authorization).toBe('Bearer k');
    expect(server.lastStream!.request.headers.Accept).toBe('text/event-stream');
  });

  it('times out a connection attempt that never answers after requestTimeoutMs, and retries', async () => {
    const { server, clock, errors } = setup({}, v5, { stream: () => 'hang' });
    await clock.advance(9_999);
    expect(server.hanging).toBe(1);
    expect(errors).toEqual([]);
    await clock.advance(1);
    expect(server.hanging).toBe(0); // aborted: the socket is released
    expect(errors.map((e) => [e.code, e.message])).toEqual([['TIMEOUT', 'stream: no answer within 10000 ms']]);
    await clock.advance(1_000);
    expect(server.count('/api/sdk/stream')).toBe(2);
    expect(server.hanging).toBe(1);
  });

  it('times out a connection with a custom requestTimeoutMs, even when fetch ignores the abort', async () => {
    const deaf: FetchLike = () => new Promise<Response>(() => {}); // never settles, whatever the signal says
    const { clock, errors } = setup({ fetch: deaf, requestTimeoutMs: 2_500 });
    await clock.advance(2_500);
    expect(errors.map((e) => e.code)).toEqual(['TIMEOUT']);
    await clock.advance(1_000 + 2_500);
    expect(errors.map((e) => e.code)).toEqual(['TIMEOUT', 'TIMEOUT']);
  });

  it('times out a connection by the heartbeat watchdog when that is the shorter', async () => {
    const { clock, errors } = setup({ heartbeatTimeoutMs: 2_000 }, v5, { stream: () => 'hang' });
    await clock.advance(2_000);
    expect(errors.map((e) => [e.code, e.message])).toEqual([['TIMEOUT', 'stream: silent for 2000 ms']]);
  });

  it('leaves a stream that sent its headers to the heartbeat watchdog, not the request timeout', async () => {
    const opened: FakeStream[] = [];
    const silent: Route = (request) => new Response(opened[opened.push(new FakeStream(request)) - 1]!.body, { status: 200 });
    const { clock, errors } = setup({ bootstrap: v5, requestTimeoutMs: 1_000 }, v5, { stream: silent });
    await clock.advance(44_999);
    expect(errors).toEqual([]);
    expect(opened.map((s) => s.closed)).toEqual([false]);
    await clock.advance(1);
    expect(opened.map((s) => s.closed)).toEqual([true]);
    expect(errors.map((e) => e.message)).toEqual(['stream: silent for 45000 ms']);
  });
});

describe('stream: versions and changes', () => {
  it('never lets an older snapshot or patch overwrite newer rules', async () => {
    const { server, clock, client, changes } = setup();
    await client.ready();
    const stream = server.lastStream!;
    stream.event('patch', { version: 7, flags: { a: booleanFlag('a', false, 2) } }, 7);
    await clock.advance(0);
    expect(client.isEnabled('a', 'u')).toBe(false);
    stream.event('patch', { version: 6, flags: { a: booleanFlag('a', true, 3) } }, 6);
    stream.event('patch', { version: 7, flags: { b: null } }, 7);
    stream.event('snapshot', ruleSet(6, [booleanFlag('a', true)]), 6);
    await clock.advance(0);
    expect(client.version).toBe(7);
    expect(client.isEnabled('a', 'u')).toBe(false);
    expect(client.isEnabled('b', 'u')).toBe(true);
    expect(changes).toEqual([['a']]);
  });

  it('follows a server restored from an older backup: the snapshot opening a connection wins', async () => {
    const { server, clock, client, changes } = setup();
    await client.ready();
    server.lastStream!.event('patch', { version: 8, flags: { a: booleanFlag('a', false, 2) } }, 8);
    await clock.advance(0);
    expect(client.version).toBe(8);
    // The restored server is at version 6: it cannot resume from 8, so it opens with a snapshot.
    server.ruleSet = ruleSet(6, [booleanFlag('a', true, 9)]);
    server.lastStream!.end();
    await clock.advance(1_000);
    expect(server.lastStream!.request.headers['Last-Event-ID']).toBe('8');
    expect(client.version).toBe(6);
    expect(client.isEnabled('a', 'u')).toBe(true);
    expect(changes).toEqual([['a'], ['a', 'b']]); // the restored database has no flag b
  });

  it('reports the flags a patch changes, including flags using a changed segment', async () => {
    const inBeta = booleanFlag('beta_ui', true, 1, {
      defaultServe: { variation: 'off' },
      rules: [{ id: 'r1', clauses: [{ attribute: '', operator: 'in_segment', values: ['beta'] }], serve: { variation: 'on' } }],
    });
    const { server, clock, client, changes } = setup({}, ruleSet(1, [inBeta, booleanFlag('other', true)], [segment('beta', ['ann'])]));
    await client.ready();
    expect(client.isEnabled('beta_ui', 'bob')).toBe(false);
    server.lastStream!.event('patch', { version: 2, segments: { beta: segment('beta', ['ann', 'bob'], 2) } }, 2);
    await clock.advance(0);
    expect(client.isEnabled('beta_ui', 'bob')).toBe(true);
    server.lastStream!.event('patch', { version: 3, flags: { other: null, fresh: booleanFlag('fresh', true) } }, 3);
    await clock.advance(0);
    expect(client.isEnabled('other', 'bob', true)).toBe(true);
    expect(client.evaluate('other', 'bob', false).errorCode).toBe('FLAG_NOT_FOUND');
    server.lastStream!.event('snapshot', ruleSet(4, [inBeta, booleanFlag('fresh', false, 2)], [segment('beta', ['ann'], 3)]), 4);
    await clock.advance(0);
    expect(changes).toEqual([['beta_ui'], ['fresh', 'other'], ['beta_ui', 'fresh']]);
  });

  it('drops a stream that sends malformed data and resumes from the last applied version', async () => {
    const { server, clock, client, errors } = setup();
    await client.ready();
    server.lastStream!.write('event: patch\ndata: {not json\n\n');
    await clock.advance(0);
    expect(server.lastStream!.closed).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(['INVALID_DATA']);
    await clock.advance(1_000);
    expect(server.lastStream!.request.headers['Last-Event-ID']).toBe('5');
    expect(client.isEnabled('a', 'u')).toBe(true);
  });
});

describe('polling', () => {
  it('polls with the ETag and treats 304 as unchanged', async () => {
    const { server, clock, client, changes } = setup({ streaming: false, pollIntervalMs: 10_000 });
    await client.ready();
    await clock.advance(10_000);
    await clock.advance(10_000);
    const polls = server.requests.filter((r) => r.path === '/api/sdk/rules');
    expect(polls.map((r) => r.headers['If-None-Match'])).toEqual([undefined, '"v5"', '"v5"']);
    expect(server.count('/api/sdk/stream')).toBe(0);
    server.ruleSet = ruleSet(6, [booleanFlag('a', false, 2), booleanFlag('b', true)]);
    await clock.advance(10_000);
    expect(changes).toEqual([['a']]);
    expect(client.isEnabled('a', 'u')).toBe(false);
  });

  it('falls back to polling after N stream failures and stops once the stream is back', async () => {
    const { server, clock, client, log, defaults } = setup({ streamFailuresBeforePolling: 3, pollIntervalMs: 30_000 }, v5, { stream: failing });
    const realStream = defaults.stream;
    await clock.advance(0);
    await clock.advance(1_000 + 2_000 - 1); // failures at 0 s and 1 s
    expect(server.count('/api/sdk/rules')).toBe(0);
    await clock.advance(1); // the third failure, at 3 s, starts polling at once
    expect(server.count('/api/sdk/rules')).toBe(1);
    expect(client.version).toBe(5);
    await clock.advance(30_000); // stream retries continue in the background while polling
    expect(server.count('/api/sdk/rules')).toBe(2);
    expect(server.count('/api/sdk/stream')).toBeGreaterThan(4);
    server.stream = realStream;
    await clock.advance(30_000);
    expect(server.openStreams).toBe(1);
    const streams = server.count('/api/sdk/stream');
    const polls = server.count('/api/sdk/rules');
    for (let i = 0; i < 8; i++) {
      server.lastStream!.heartbeat();
      await clock.advance(15_000);
    }
    expect(server.count('/api/sdk/rules')).toBe(polls);
    expect(server.count('/api/sdk/stream')).toBe(streams);
    expect(log).toEqual([]); // polling kept the data fresh: never stale
  });

  it('times out a poll that never answers: error, stale, retried, recovered once the server answers', async () => {
    const { server, clock, client, errors, log, defaults } = setup({ streaming: false, bootstrap: v5, pollIntervalMs: 30_000, requestTimeoutMs: 5_000 }, v5, { rules: () => 'hang' });
    await clock.advance(4_999);
    expect(errors).toEqual([]);
    expect(log).toEqual([]);
    await clock.advance(1);
    expect(server.hanging).toBe(0);
    expect(errors.map((e) => [e.code, e.message])).toEqual([['TIMEOUT', 'rules: no answer within 5000 ms']]);
    expect(log).toEqual(['stale']);
    expect(client.isEnabled('a', 'u')).toBe(true); // still serving the last rules
    await clock.advance(30_000 + 5_000); // retried after the poll interval; times out again
    expect(server.count('/api/sdk/rules')).toBe(2);
    expect(errors.map((e) => e.code)).toEqual(['TIMEOUT', 'TIMEOUT']);
    server.rules = defaults.rules;
    server.ruleSet = ruleSet(6, [booleanFlag('a', false, 2), booleanFlag('b', true)]);
    await clock.advance(30_000);
    expect(log).toEqual(['stale', 'recovered']);
    expect(client.isEnabled('a', 'u')).toBe(false);
  });

  it('times out a poll whose response headers came but whose body never ends', async () => {
    const endless: Route = () => new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"version":')) }), { status: 200 });
    const { clock, errors, log } = setup({ streaming: false, bootstrap: v5 }, v5, { rules: endless });
    await clock.advance(10_000);
    expect(errors.map((e) => e.code)).toEqual(['TIMEOUT']);
    expect(log).toEqual(['stale']);
  });

  it('reports stale when stream and polling both fail, and recovered after', async () => {
    const { server, clock, client, log, defaults } = setup({ bootstrap: v5 }, v5, { stream: failing, rules: failing });
    const realRules = defaults.rules;
    await clock.advance(7_000);
    expect(log).toEqual(['stale']);
    await clock.advance(60_000);
    expect(log).toEqual(['stale']);
    server.rules = realRules;
    await clock.advance(30_000);
    expect(log).toEqual(['stale', 'recovered']);
    expect(client.isEnabled('a', 'u')).toBe(true);
  });
});

describe('authorization', () => {
  it('stops after 401 on the stream: error, no retries, no timers, ready(false)', async () => {
    const { server, clock, client, errors, log } = setup({}, v5, { stream: () => new Response('bad key', { status: 401 }) });
    const ready = client.ready();
    await clock.advance(0);
    await expect(ready).resolves.toBe(false);
    expect(errors.map((e) => e.code)).toEqual(['UNAUTHORIZED']);
    expect(log).toEqual(['stale']);
    expect(clock.pending).toBe(0);
    await clock.advance(600_000);
    expect(server.requests).toHaveLength(1);
  });

  it('stops after 403 on polling, still serving bootstrap', async () => {
    const { server, clock, client, errors } = setup({ streaming: false, bootstrap: v5 }, v5, { rules: () => new Response(null, { status: 403 }) });
    await clock.advance(100_000);
    expect(server.requests).toHaveLength(1);
    expect(errors.map((e) => [e.code, e.status])).toEqual([['UNAUTHORIZED', 403]]);
    expect(client.isEnabled('a', 'u')).toBe(true);
  });
});

describe('provisional rules', () => {
  it('lets the first server snapshot replace bootstrap rules that claim a newer version', async () => {
    const { client, clock, changes } = setup({ bootstrap: ruleSet(99, [booleanFlag('a', false)]) });
    expect(client.version).toBe(99);
    await clock.advance(0);
    expect(client.version).toBe(5);
    expect(client.isEnabled('a', 'u')).toBe(true);
    expect(changes).toEqual([['a', 'b']]);
  });

  it('ignores malformed bootstrap rules and reports them', async () => {
    const logged: unknown[] = [];
    const { client } = setup({ bootstrap: { version: 1 } as unknown as RuleSet, logger: { warn: () => {}, error: (...args: unknown[]) => void logged.push(args) } });
    expect(client.initialized).toBe(false);
    expect(logged).toHaveLength(1);
    await expect(client.ready()).resolves.toBe(true); // the server's rules still arrive
  });
});
