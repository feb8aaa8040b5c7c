import { describe, expect, it } from 'vitest';
import { FakeClock, settle } from './testing/fakes.js';
import { createWebClient, INSIGHT_RETRIES, MAX_INSIGHT_KEYS, type EventSourceLike, type WebClientOptions, type WebFetch, type WebStorage } from './web.js';

/** One bulk request the fake server holds until the test answers it. */
interface PendingRequest {
  url: string;
  body: string;
  keepalive?: boolean;
  headers: Record<string, string>;
  context: Record<string, unknown>;
  signal: AbortSignal;
  answer(status: number, body?: unknown, etag?: string): void;
  /** The network failed: fetch rejects. */
  fail(): void;
}

/** A `fetch` that records each request and answers only when told (it ignores aborts, like a bad proxy). */
function fakeFetch() {
  const requests: PendingRequest[] = [];
  const fetch: WebFetch = (url, init) =>
    new Promise((resolve, reject) => {
      requests.push({
        url,
        body: init.body,
        keepalive: init.keepalive,
        headers: init.headers,
        context: (JSON.parse(init.body) as { context: Record<string, unknown> }).context,
        signal: init.signal,
        answer: (status, body, etag) => resolve(new Response(body === undefined ? null : JSON.stringify(body), { status, headers: etag ? { etag } : {} })),
        fail: () => reject(new TypeError('Failed to fetch')),
      });
    });
  return { fetch, requests };
}

function memoryStorage(): WebStorage & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return { items, getItem: (key) => items.get(key) ?? null, setItem: (key, value) => void items.set(key, value) };
}

class FakeEventSource implements EventSourceLike {
  static opened: FakeEventSource[] = [];
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.opened.push(this);
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  message(data: unknown) {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) });
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
}

const flags = (values: Record<string, unknown>) => ({ flags: Object.entries(values).map(([key, value]) => ({ key, value, reason: 'STATIC', variant: String(value) })) });

function setup(overrides: Partial<WebClientOptions> = {}) {
  const clock = new FakeClock();
  const server = fakeFetch();
  const storage = memoryStorage();
  const options: WebClientOptions = { url: 'https://flags.example.com', clientKey: 'sy_client', context: { targetingKey: 'alice' }, fetch: server.fetch, clock, storage, ...overrides };
  const client = createWebClient(options);
  const changes: string[][] = [];
  const errors: Error[] = [];
  client.on('change', (keys) => changes.push(keys));
  client.on('error', (error) => errors.push(error));
  return { client, clock, server, storage, options, changes, errors, last: () => server.requests.at(-1)! };
}

describe('createWebClient', () => {
  it('asks the server for the one user over OFREP bulk evaluation with the client key', async () => {
    const { client, last } = setup();
    await settle();
    expect(last().url).toBe('https://flags.example.com/ofrep/v1/evaluate/flags');
    expect(last().headers.authorization).toBe('Bearer sy_client');
    expect(last().context).toEqual({ targetingKey: 'alice' });
    last().answer(200, { flags: [{ key: 'on', value: true, reason: 'STATIC' }, { key: 'broken', errorCode: 'PARSE_ERROR', errorDetails: 'bad' }] }, '"1-a"');
    expect(await client.ready()).toBe(true);
    expect(client.allFlags()).toEqual({ on: true }); // an error entry is no value: callers get their default
    expect(client.isEnabled('broken', true)).toBe(true);
  });

  it('starts cache-first: the values stored for the same user answer the very first call, before any network', async () => {
    const first = setup();
    first.last().answer(200, flags({ 'new-checkout': true, theme: 'dark' }), '"1-a"');
    await first.client.ready();
    first.client.close();

    // A reload: a new client on the same storage answers synchronously, with no request answered yet.
    const server = fakeFetch();
    const reloaded = createWebClient({ ...first.options, fetch: server.fetch });
    expect(reloaded.isEnabled('new-checkout')).toBe(true);
    expect(reloaded.variation('theme', 'light')).toBe('dark');
    await settle();
    expect(server.requests[0]!.headers['if-none-match']).toBe('"1-a"'); // its ETag was kept too

    // Another user on the same device never sees Alice's values.
    const bob = createWebClient({ ...first.options, fetch: fakeFetch().fetch, context: { targetingKey: 'bob' } });
    expect(bob.isEnabled('new-checkout')).toBe(false);
    expect(bob.allFlags()).toEqual({});
    // Nor does a client of another server or key.
    expect(createWebClient({ ...first.options, fetch: fakeFetch().fetch, clientKey: 'other' }).allFlags()).toEqual({});
    // The user ID is not written out in the storage entry's name.
    expect([...first.storage.items.keys()].join()).not.toContain('alice');
  });

  it('answers from bootstrap values on the first call, then takes the server answer and reports the changed keys', async () => {
    const { client, last, changes } = setup({ bootstrap: { banner: true, limit: 5 } });
    expect(client.isEnabled('banner')).toBe(true);
    expect(client.variation('limit', 0)).toBe(5);
    await settle();
    expect(last().headers['if-none-match']).toBeUndefined();
    last().answer(200, flags({ banner: true, limit: 10 }), '"1-a"');
    await client.ready();
    expect(client.variation('limit', 0)).toBe(10);
    expect(changes).toEqual([['limit']]);
  });

  it('returns the default for a value of another type, and never throws from isEnabled/variation', async () => {
    const { client, last } = setup();
    last().answer(200, flags({ flag: 'yes', count: 3, list: [1], obj: { a: 1 }, nothing: null }));
    await client.ready();
    const cases = [
      { name: 'string for a boolean', got: client.isEnabled('flag'), expected: false },
      { name: 'string for a number', got: client.variation('flag', 1), expected: 1 },
      { name: 'number for a string', got: client.variation('count', 'x'), expected: 'x' },
      { name: 'matching number', got: client.variation('count', 0), expected: 3 },
      { name: 'array for an object', got: client.variation('list', { d: 1 }), expected: { d: 1 } },
      { name: 'object for an object', got: client.variation('obj', {}), expected: { a: 1 } },
      { name: 'null for an object', got: client.variation('nothing', { d: 1 }), expected: { d: 1 } },
      { name: 'unknown flag', got: client.isEnabled('missing', true), expected: true },
    ];
    for (const c of cases) expect(c.got, c.name).toEqual(c.expected);
  });

  it('polls with If-None-Match: a 304 keeps the values, a change emits `change` with the changed keys', async () => {
    const { client, clock, last, server, changes } = setup({ pollIntervalMs: 1000 });
    last().answer(200, flags({ a: true, b: 'x', c: 1 }), '"1-a"');
    await client.ready();
    expect(changes).toEqual([['a', 'b', 'c']]);

    await clock.advance(1000);
    expect(server.requests).toHaveLength(2);
    expect(last().headers['if-none-match']).toBe('"1-a"');
    last().answer(304, undefined, '"1-a"');
    await settle();
    expect(client.allFlags()).toEqual({ a: true, b: 'x', c: 1 });
    expect(changes).toHaveLength(1);

    await clock.advance(1000);
    last().answer(200, flags({ a: false, b: 'x', d: 2 }), '"2-a"');
    await settle();
    expect(changes.at(-1)!.sort()).toEqual(['a', 'c', 'd']);
    expect(client.allFlags()).toEqual({ a: false, b: 'x', d: 2 });
    await clock.advance(1000);
    expect(last().headers['if-none-match']).toBe('"2-a"');
  });

  it('does not poll with pollIntervalMs 0, and stops everything on close()', async () => {
    const quiet = setup({ pollIntervalMs: 0 });
    quiet.last().answer(200, flags({}));
    await quiet.client.ready();
    await quiet.clock.advance(60_000);
    expect(quiet.server.requests).toHaveLength(1);

    const closing = setup({ pollIntervalMs: 1000 });
    closing.last().answer(200, flags({}));
    await closing.client.ready();
    closing.client.close();
    await closing.clock.advance(10_000);
    expect(closing.server.requests).toHaveLength(1);
    expect(closing.clock.pending).toBe(0);
  });

  it('identify switches user at once to their stored values, and a late answer for the earlier user is ignored', async () => {
    const { client, last, server, options, changes } = setup();
    // Bob used this device before: his values are stored.
    const bobServer = fakeFetch();
    const bob = createWebClient({ ...options, context: { targetingKey: 'bob' }, fetch: bobServer.fetch });
    await settle();
    bobServer.requests[0]!.answer(200, flags({ beta: 'bob' }), '"1-b"');
    await bob.ready();
    bob.close();

    const aliceRequest = last();
    const switched = client.identify({ targetingKey: 'bob', plan: 'pro' });
    expect(client.variation('beta', 'none')).toBe('bob'); // at once, from storage
    expect(changes).toEqual([['beta']]);
    await settle();
    const bobRequest = server.requests.at(-1)!;
    expect(bobRequest.context).toEqual({ targetingKey: 'bob', plan: 'pro' });
    expect(bobRequest.headers['if-none-match']).toBe('"1-b"');
    expect(aliceRequest.signal.aborted).toBe(true);

    bobRequest.answer(200, flags({ beta: 'bob-pro' }), '"1-c"');
    expect(await switched).toBe(true);
    // Alice's request answers late (this fetch ignores the abort): it must not overwrite Bob's values.
    aliceRequest.answer(200, flags({ beta: 'alice' }), '"1-a"');
    await settle();
    expect(client.variation('beta', 'none')).toBe('bob-pro');
    expect(changes).toEqual([['beta'], ['beta']]);
    expect(await client.ready()).toBe(true);
  });

  it('a request with no answer times out: `error`, ready() false, and the cached values stay served', async () => {
    const first = setup();
    first.last().answer(200, flags({ cached: true }), '"1-a"');
    await first.client.ready();
    first.client.close();

    const { client, clock, errors } = setup({ storage: first.storage, requestTimeoutMs: 5000, pollIntervalMs: 1000 });
    const ready = client.ready();
    await clock.advance(4999);
    expect(errors).toEqual([]);
    await clock.advance(1);
    expect(await ready).toBe(false);
    expect(errors.map((e) => e.message)).toEqual(['Switchyard: no answer within 5000 ms']);
    expect(client.isEnabled('cached')).toBe(true);
    // It tries again on the polling schedule; the stored variant made that isEnabled an insights count.
    expect(clock.delays()).toEqual([1000, 60_000]);
  });

  it('an HTTP error or a malformed answer is an `error`, never a throw; values are kept', async () => {
    const { client, clock, last, errors } = setup({ bootstrap: { kept: true }, pollIntervalMs: 1000 });
    last().answer(401);
    expect(await client.ready()).toBe(false);
    await clock.advance(1000);
    last().answer(200, { nope: 1 });
    await settle();
    expect(errors.map((e) => e.message)).toEqual(['Switchyard: bulk evaluation answered HTTP 401 (unknown or revoked key)', 'Switchyard: malformed bulk evaluation answer']);
    expect(client.isEnabled('kept')).toBe(true);
  });

  it('a 403 (secure mode refusing the signature) is an `error` that says why, keeps the values, and the client retries on schedule', async () => {
    const { client, clock, last, server, errors } = setup({ bootstrap: { kept: true }, pollIntervalMs: 1000, context: { targetingKey: 'mallory', switchyardSignature: 'ab12' } });
    expect(last().context).toEqual({ targetingKey: 'mallory', switchyardSignature: 'ab12' }); // sent as given: the server checks and strips it
    last().answer(403);
    expect(await client.ready()).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^Switchyard: bulk evaluation answered HTTP 403 \(.*switchyardSignature must sign this targetingKey\)$/);
    expect(client.allFlags()).toEqual({ kept: true });
    await clock.advance(1000);
    expect(server.requests).toHaveLength(2);
    client.close();
  });

  it('works when storage throws (blocked, full) and when a listener throws', async () => {
    const broken: WebStorage = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    const { client, last, changes } = setup({ storage: broken });
    client.on('change', () => {
      throw new Error('listener bug');
    });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      last().answer(200, flags({ on: true }));
      expect(await client.ready()).toBe(true);
      await settle();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(client.isEnabled('on')).toBe(true);
    expect(changes).toEqual([['on']]);
    expect(uncaught).toEqual([new Error('listener bug')]);
  });

  describe('OFREP event streams', () => {
    it('connects to advertised SSE streams instead of polling, and re-fetches on each refetchEvaluation', async () => {
      FakeEventSource.opened = [];
      const { client, clock, last, server, changes } = setup({ EventSource: FakeEventSource, pollIntervalMs: 1000 });
      last().answer(200, { ...flags({ a: 1 }), eventStreams: [{ type: 'sse', url: 'https://sse.example.com/s?channel=prod' }, { type: 'websocket', url: 'wss://x' }] }, '"1-a"');
      await client.ready();
      const [stream] = FakeEventSource.opened;
      expect(FakeEventSource.opened.map((s) => s.url)).toEqual(['https://sse.example.com/s?channel=prod']); // unknown types ignored
      stream!.open();
      await clock.advance(5000);
      expect(server.requests).toHaveLength(1); // no polling while the stream is there

      stream!.message({ type: 'somethingNew' });
      stream!.message('not json');
      await settle();
      expect(server.requests).toHaveLength(1);

      stream!.message({ type: 'refetchEvaluation', etag: '"2"', lastModified: 1771622898 });
      await settle();
      expect(last().url).toBe('https://flags.example.com/ofrep/v1/evaluate/flags?flagConfigEtag=%222%22&flagConfigLastModified=1771622898');
      expect(last().headers['if-none-match']).toBe('"1-a"');
      last().answer(200, { ...flags({ a: 2 }), eventStreams: [{ type: 'sse', url: 'https://sse.example.com/s?channel=prod' }] }, '"2-a"');
      await settle();
      expect(client.variation('a', 0)).toBe(2);
      expect(changes.at(-1)).toEqual(['a']);
      expect(FakeEventSource.opened).toHaveLength(1); // the same stream is kept

      // A reconnect may have missed events: an immediate re-fetch.
      stream!.open();
      await settle();
      expect(server.requests).toHaveLength(3);
      expect(last().url).toBe('https://flags.example.com/ofrep/v1/evaluate/flags');
      last().answer(304);
      await settle();

      // The stream gives up for good: back to polling.
      stream!.readyState = 2;
      stream!.onerror?.({});
      await clock.advance(1000);
      expect(server.requests).toHaveLength(4);
      client.close();
    });

    it('a reload whose first answer is a 304 (no body) still connects to the streams stored with the values', async () => {
      FakeEventSource.opened = [];
      const first = setup({ EventSource: FakeEventSource });
      const eventStreams = [{ type: 'sse', endpoint: { requestUri: '/ofrep/v1/events?ticket=1.abc' } }];
      first.last().answer(200, { ...flags({ a: 1 }), eventStreams }, '"1-a"');
      await first.client.ready();
      first.client.close();
      expect(FakeEventSource.opened).toHaveLength(1);

      // The reload: same storage, unchanged flags.
      const server = fakeFetch();
      const clock = new FakeClock();
      const reloaded = createWebClient({ ...first.options, fetch: server.fetch, clock, pollIntervalMs: 1000 });
      await settle();
      expect(server.requests[0]!.headers['if-none-match']).toBe('"1-a"');
      server.requests[0]!.answer(304);
      expect(await reloaded.ready()).toBe(true);
      expect(FakeEventSource.opened.map((s) => s.url)).toEqual(['https://flags.example.com/ofrep/v1/events?ticket=1.abc', 'https://flags.example.com/ofrep/v1/events?ticket=1.abc']);
      const stream = FakeEventSource.opened[1]!;
      stream.open();
      await clock.advance(5000);
      expect(server.requests).toHaveLength(1); // notified, not polling

      stream.message({ type: 'refetchEvaluation', etag: '"2"' });
      await settle();
      expect(server.requests[1]!.url).toBe('https://flags.example.com/ofrep/v1/evaluate/flags?flagConfigEtag=%222%22');
      server.requests[1]!.answer(200, { ...flags({ a: 2 }), eventStreams }, '"2-a"');
      await settle();
      expect(reloaded.variation('a', 0)).toBe(2);

      // Another user: the stream is the key's, so it stays open; nothing reconnects.
      const switched = reloaded.identify({ targetingKey: 'bob' });
      await settle();
      server.requests[2]!.answer(200, { ...flags({ a: 3 }), eventStreams }, '"2-b"');
      expect(await switched).toBe(true);
      expect(FakeEventSource.opened).toHaveLength(2);
      expect(stream.closed).toBe(false);
      reloaded.close();
      expect(stream.closed).toBe(true);
    });

    it('builds the URL of an `endpoint` entry on the OFREP base origin when it names none', async () => {
      FakeEventSource.opened = [];
      const { client, last } = setup({ EventSource: FakeEventSource });
      last().answer(200, { ...flags({}), eventStreams: [{ type: 'sse', endpoint: { requestUri: '/events?env=prod' } }, { type: 'sse', endpoint: { origin: 'https://push.example.com', requestUri: '/e' } }] });
      await client.ready();
      expect(FakeEventSource.opened.map((s) => s.url)).toEqual(['https://flags.example.com/events?env=prod', 'https://push.example.com/e']);
      client.close();
      expect(FakeEventSource.opened.every((s) => s.closed)).toBe(true);
    });
  });

  it('rejects bad options with a TypeError naming the option', () => {
    const good = { url: 'https://flags.example.com', clientKey: 'k', context: {}, fetch: fakeFetch().fetch, storage: null };
    const cases: { name: string; options: unknown; option: string }[] = [
      { name: 'no options', options: undefined, option: 'options' },
      { name: 'relative url', options: { ...good, url: '/flags' }, option: 'url' },
      { name: 'non-http url', options: { ...good, url: 'ftp://flags.example.com' }, option: 'url' },
      { name: 'empty key', options: { ...good, clientKey: '' }, option: 'clientKey' },
      { name: 'no context', options: { ...good, context: undefined }, option: 'context' },
      { name: 'numeric targetingKey', options: { ...good, context: { targetingKey: 7 } }, option: 'context' },
      { name: 'array bootstrap', options: { ...good, bootstrap: [] }, option: 'bootstrap' },
      { name: 'negative poll interval', options: { ...good, pollIntervalMs: -1 }, option: 'pollIntervalMs' },
      { name: 'NaN poll interval', options: { ...good, pollIntervalMs: Number.NaN }, option: 'pollIntervalMs' },
      { name: 'zero timeout', options: { ...good, requestTimeoutMs: 0 }, option: 'requestTimeoutMs' },
      { name: 'fetch not a function', options: { ...good, fetch: 'fetch' }, option: 'fetch' },
    ];
    for (const c of cases) {
      let thrown: unknown;
      try {
        createWebClient(c.options as WebClientOptions);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, c.name).toBeInstanceOf(TypeError);
      expect((thrown as Error).message, c.name).toContain(`option "${c.option}"`);
    }
    const client = createWebClient(good);
    expect(() => client.identify({ targetingKey: 1 } as never)).toThrow(/option "context"/);
    client.close();
  });

  describe('evaluation insights', () => {
    const summaryOf = (request: PendingRequest | undefined) => request && (JSON.parse(request.body) as { sdk: string; version: string; evaluations: { flag: string; variation: string; count: number }[] });

    it('counts served values per flag and variant, uploads one summary per interval with the client key, and the last on close', async () => {
      const { client, clock, server } = setup({ insightsIntervalMs: 1000 });
      server.requests[0]!.answer(200, { flags: [{ key: 'banner', value: true, variant: 'on' }, { key: 'color', value: 'red', variant: 'warm' }] });
      await client.ready();
      for (let i = 0; i < 3; i++) client.isEnabled('banner');
      client.variation('color', 'blue');
      client.variation('color', 42); // another type: the default is served, nothing counted
      client.isEnabled('unknown');
      await clock.advance(1000);
      const upload = server.requests.find((r) => r.url.endsWith('/api/sdk/evaluations'));
      expect(upload?.url).toBe('https://flags.example.com/api/sdk/evaluations');
      expect(upload?.headers.authorization).toBe('Bearer sy_client');
      expect(summaryOf(upload)).toEqual({ sdk: 'switchyard-web', version: '0.1.0', evaluations: [{ flag: 'banner', variation: 'on', count: 3 }, { flag: 'color', variation: 'warm', count: 1 }] });
      upload!.answer(202);
      await settle();
      expect(client.insightsStats()).toEqual({ flushed: 1, dropped: 0 });
      expect(clock.delays()).toEqual([29_000]); // the poll only: idle insights keep no timer
      client.isEnabled('banner');
      client.close();
      const last = server.requests.filter((r) => r.url.endsWith('/api/sdk/evaluations')).at(-1);
      expect(summaryOf(last)?.evaluations).toEqual([{ flag: 'banner', variation: 'on', count: 1 }]);
      expect(last?.keepalive).toBe(true);
    });

    it('sends a summary the server did not take (5xx, 429, network) again with the next one, at twice the pace each time, and drops it after INSIGHT_RETRIES such uploads in a row', async () => {
      const { client, clock, server } = setup({ insightsIntervalMs: 1000 });
      server.requests[0]!.answer(200, { flags: [{ key: 'early', value: true, variant: 'on' }] });
      await client.ready();
      const uploads = () => server.requests.filter((r) => r.url.endsWith('/api/sdk/evaluations'));
      client.isEnabled('early');
      client.isEnabled('early');
      await clock.advance(1000);
      uploads()[0]!.answer(503);
      await settle();
      expect(client.insightsStats()).toEqual({ flushed: 0, dropped: 0 });
      expect(clock.delays()).toContain(2000);
      client.isEnabled('early'); // merged with the two waiting
      await clock.advance(1999);
      expect(uploads()).toHaveLength(1);
      await clock.advance(1);
      expect(summaryOf(uploads()[1])?.evaluations).toEqual([{ flag: 'early', variation: 'on', count: 3 }]);
      uploads()[1]!.fail();
      await settle();
      await clock.advance(4000);
      expect(summaryOf(uploads()[2])?.evaluations).toEqual([{ flag: 'early', variation: 'on', count: 3 }]);
      uploads()[2]!.answer(429);
      await settle();
      expect(INSIGHT_RETRIES).toBe(3);
      await clock.advance(8000);
      expect(summaryOf(uploads()[3])?.evaluations).toEqual([{ flag: 'early', variation: 'on', count: 3 }]);
      uploads()[3]!.answer(502);
      await settle();
      // The fourth failure in a row: dropped and counted, and the pace is back to the interval.
      expect(client.insightsStats()).toEqual({ flushed: 0, dropped: 3 });
      expect(uploads()).toHaveLength(4);
      client.isEnabled('early');
      await clock.advance(1000);
      expect(summaryOf(uploads()[4])?.evaluations).toEqual([{ flag: 'early', variation: 'on', count: 1 }]);
      uploads()[4]!.answer(202);
      await settle();
      expect(client.insightsStats()).toEqual({ flushed: 1, dropped: 3 });
      client.close();
    });

    it('after a failed upload, a success resets the pace; close() sends what waits for a retry, as the page leaves', async () => {
      const { client, clock, server } = setup({ insightsIntervalMs: 1000 });
      server.requests[0]!.answer(200, { flags: [{ key: 'a', value: true, variant: 'on' }, { key: 'b', value: 'x', variant: 'v1' }] });
      await client.ready();
      const uploads = () => server.requests.filter((r) => r.url.endsWith('/api/sdk/evaluations'));
      client.isEnabled('a');
      await clock.advance(1000);
      uploads()[0]!.answer(500);
      await settle();
      client.variation('b', 'y');
      await clock.advance(2000);
      expect(summaryOf(uploads()[1])?.evaluations).toEqual([
        { flag: 'a', variation: 'on', count: 1 },
        { flag: 'b', variation: 'v1', count: 1 },
      ]);
      uploads()[1]!.answer(202);
      await settle();
      expect(client.insightsStats()).toEqual({ flushed: 1, dropped: 0 });
      client.isEnabled('a');
      expect(clock.delays()).toContain(1000);
      await clock.advance(1000);
      uploads()[2]!.fail();
      await settle();
      client.close();
      expect(uploads()).toHaveLength(4);
      expect(summaryOf(uploads()[3])?.evaluations).toEqual([{ flag: 'a', variation: 'on', count: 1 }]);
      expect(uploads()[3]!.keepalive).toBe(true);
      uploads()[3]!.answer(503);
      await settle();
      expect(client.insightsStats()).toEqual({ flushed: 1, dropped: 1 }); // closed: nothing left to retry with
    });

    it('drops and counts at once a summary the server refuses (4xx); bootstrap values without variants are not counted; insights: false sends nothing', async () => {
      const { client, clock, server } = setup({ insightsIntervalMs: 1000, bootstrap: { early: true } });
      expect(client.isEnabled('early')).toBe(true);
      server.requests[0]!.answer(200, { flags: [{ key: 'early', value: true, variant: 'on' }] });
      await client.ready();
      client.isEnabled('early');
      client.isEnabled('early');
      await clock.advance(1000);
      const upload = server.requests.at(-1)!;
      expect(summaryOf(upload)?.evaluations).toEqual([{ flag: 'early', variation: 'on', count: 2 }]);
      upload.answer(401);
      await settle();
      expect(client.insightsStats()).toEqual({ flushed: 0, dropped: 2 });
      expect(clock.delays()).toEqual([29_000]); // the poll only: nothing waits for a retry

      const off = setup({ insights: false, insightsIntervalMs: 1000 });
      off.server.requests[0]!.answer(200, { flags: [{ key: 'f', value: true, variant: 'on' }] });
      await off.client.ready();
      off.client.isEnabled('f');
      await off.clock.advance(5000);
      off.client.close();
      expect(off.server.requests.filter((r) => r.url.endsWith('/api/sdk/evaluations'))).toEqual([]);
    });

    it('keeps at most MAX_INSIGHT_KEYS counters, counting the overflow as dropped', async () => {
      const { client, server } = setup();
      const many = Array.from({ length: MAX_INSIGHT_KEYS + 5 }, (_, i) => ({ key: `f${i}`, value: true, variant: 'on' }));
      server.requests[0]!.answer(200, { flags: many });
      await client.ready();
      for (const f of many) client.isEnabled(f.key);
      expect(client.insightsStats().dropped).toBe(5);
    });

    it('refuses a bad insightsIntervalMs', () => {
      expect(() => setup({ insightsIntervalMs: 0 })).toThrow(/insightsIntervalMs/);
    });
  });
});
