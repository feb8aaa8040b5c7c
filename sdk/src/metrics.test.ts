import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type SwitchyardClient } from './client.js';
import { guardMetrics, MAX_UPLOAD_COUNT, MetricsRecorder, valueBucket } from './metrics.js';
import { silentLogger, type FetchLike } from './options.js';
import { booleanFlag, FakeClock, FakeServer, ruleSet, settle } from './testing/fakes.js';

interface Upload {
  exposures: { flag: string; variation: string; count: number }[];
  events: { name: string; flag: string; variation: string; count: number; sum: number; buckets?: Record<string, number> }[];
}

function recorder(status: () => number, options: { maxKeys?: number; maxAttempts?: number } = {}) {
  const clock = new FakeClock();
  const uploads: Upload[] = [];
  const fetch: FetchLike = async (_url, init) => {
    uploads.push(JSON.parse(init.body!) as Upload);
    return new Response(null, { status: status() });
  };
  const metrics = new MetricsRecorder({ baseUrl: 'http://s', sdkKey: 'k', fetch, clock, random: () => 1, logger: silentLogger, flushIntervalMs: 1000, maxMetricKeys: options.maxKeys ?? 100, maxAttempts: options.maxAttempts ?? 3 });
  return { clock, uploads, metrics };
}

describe('MetricsRecorder', () => {
  it('aggregates exposures and events and uploads them every interval; idle, it keeps no timer', async () => {
    const { clock, uploads, metrics } = recorder(() => 202);
    expect(clock.pending).toBe(0);
    metrics.exposure('f', 'on');
    metrics.exposure('f', 'on');
    metrics.exposure('f', 'off');
    metrics.event('latency_ms', 'f', 'on', 3);
    metrics.event('latency_ms', 'f', 'on', 100);
    expect(clock.pending).toBe(1);
    await clock.advance(1000);
    expect(uploads).toEqual([
      {
        exposures: [{ flag: 'f', variation: 'on', count: 2 }, { flag: 'f', variation: 'off', count: 1 }],
        events: [{ name: 'latency_ms', flag: 'f', variation: 'on', count: 2, sum: 103, buckets: { [valueBucket(3)]: 1, [valueBucket(100)]: 1 } }],
      },
    ]);
    expect(metrics.stats()).toEqual({ dropped: 0, flushed: 1, failedBatches: 0 });
    expect(clock.pending).toBe(0);
  });

  it('retries a failed upload with backoff, merged with newer counts, then drops it with a count', async () => {
    const { clock, uploads, metrics } = recorder(() => 503, { maxAttempts: 3 });
    metrics.exposure('f', 'on');
    await clock.advance(1000);
    expect(uploads).toHaveLength(1);
    metrics.exposure('f', 'on');
    expect(clock.delays()[0]).toBeGreaterThanOrEqual(1000);
    await clock.advance(60_000);
    await clock.advance(60_000);
    expect(uploads.length).toBe(3);
    expect(uploads[1]!.exposures.reduce((s, e) => s + e.count, 0)).toBe(2);
    expect(metrics.stats()).toMatchObject({ dropped: 2, failedBatches: 1, flushed: 0 });
  });

  describe('never sends more than the server accepts in one upload', () => {
    function busy(status: () => number) {
      const clock = new FakeClock();
      const uploads: Upload[] = [];
      const fetch: FetchLike = async (_url, init) => {
        uploads.push(JSON.parse(init.body!) as Upload);
        return new Response(null, { status: status() });
      };
      const metrics = new MetricsRecorder({ baseUrl: 'http://s', sdkKey: 'k', fetch, clock, random: () => 1, logger: silentLogger, flushIntervalMs: 5000, maxMetricKeys: 100, maxAttempts: 3 });
      return { clock, uploads, metrics };
    }
    const largest = (u: Upload) => Math.max(...u.exposures.map((e) => e.count), ...u.events.map((e) => e.count));

    it('splits a busy interval over uploads a second apart, losing nothing', async () => {
      const { clock, uploads, metrics } = busy(() => 202);
      for (let i = 0; i < 2 * MAX_UPLOAD_COUNT + 20_000; i++) metrics.exposure('f', 'on');
      for (let i = 0; i < MAX_UPLOAD_COUNT + 10; i++) metrics.event('latency_ms', 'f', 'on', i % 2 === 0 ? 3 : 900);
      await clock.advance(5000);
      expect(uploads).toHaveLength(1);
      await clock.advance(1000);
      await clock.advance(1000);
      expect(uploads).toHaveLength(3);
      expect(uploads.map(largest)).toEqual([MAX_UPLOAD_COUNT, MAX_UPLOAD_COUNT, 20_000]);
      expect(uploads.flatMap((u) => u.exposures).reduce((sum, e) => sum + e.count, 0)).toBe(2 * MAX_UPLOAD_COUNT + 20_000);
      const events = uploads.flatMap((u) => u.events);
      expect(events.reduce((sum, e) => sum + e.count, 0)).toBe(MAX_UPLOAD_COUNT + 10);
      // Every upload's histogram holds no more values than its count; together they are the whole.
      for (const e of events) expect(Object.values(e.buckets ?? {}).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(e.count);
      const values = events.flatMap((e) => Object.entries(e.buckets ?? {})).reduce<Record<string, number>>((all, [b, n]) => ({ ...all, [b]: (all[b] ?? 0) + n }), {});
      expect(values).toEqual({ [valueBucket(3)]: (MAX_UPLOAD_COUNT + 10) / 2, [valueBucket(900)]: (MAX_UPLOAD_COUNT + 10) / 2 });
      expect(events.reduce((sum, e) => sum + e.sum, 0)).toBeCloseTo(((MAX_UPLOAD_COUNT + 10) / 2) * 903, 3);
      await clock.advance(5000);
      expect(uploads).toHaveLength(3);
    });

    it('merges a retried batch with newer counts into one counter, still within the bound', async () => {
      let status = 503;
      const { clock, uploads, metrics } = busy(() => status);
      for (let i = 0; i < 40_000; i++) metrics.exposure('f', 'on');
      await clock.advance(5000);
      for (let i = 0; i < 40_000; i++) metrics.exposure('f', 'on');
      status = 202;
      await clock.advance(60_000);
      await clock.advance(1000);
      expect(uploads.map((u) => u.exposures)).toEqual([
        [{ flag: 'f', variation: 'on', count: 40_000 }],
        [{ flag: 'f', variation: 'on', count: MAX_UPLOAD_COUNT }],
        [{ flag: 'f', variation: 'on', count: 80_000 - MAX_UPLOAD_COUNT }],
      ]);
      expect(metrics.stats()).toMatchObject({ dropped: 0, flushed: 2 });
    });
  });

  it('times out an upload that never answers (on the injected clock), retries it, then drops it with a count', async () => {
    const clock = new FakeClock();
    const signals: AbortSignal[] = [];
    const hang: FetchLike = (_url, init) => {
      signals.push(init.signal);
      return new Promise<Response>(() => {}); // accepted, never answered; deaf to the abort as well
    };
    const metrics = new MetricsRecorder({ baseUrl: 'http://s', sdkKey: 'k', fetch: hang, clock, random: () => 1, logger: silentLogger, flushIntervalMs: 1000, maxMetricKeys: 100, maxAttempts: 2, requestTimeoutMs: 3_000 });
    metrics.exposure('f', 'on');
    await clock.advance(1000 + 2_999);
    expect(signals.map((s) => s.aborted)).toEqual([false]);
    await clock.advance(1);
    expect(signals.map((s) => s.aborted)).toEqual([true]); // the connection is released
    expect(metrics.stats()).toEqual({ dropped: 0, flushed: 0, failedBatches: 0 }); // waiting for its retry
    await clock.advance(60_000 + 3_000);
    expect(signals).toHaveLength(2);
    expect(metrics.stats()).toEqual({ dropped: 1, flushed: 0, failedBatches: 1 });
    await metrics.close(); // nothing left: close does not wait on anything
    expect(clock.pending).toBe(0);
  });

  it('bounds memory: counters beyond maxKeys are dropped and counted', () => {
    const { metrics } = recorder(() => 202, { maxKeys: 2 });
    metrics.exposure('a', 'on');
    metrics.exposure('b', 'on');
    metrics.exposure('c', 'on');
    metrics.event('error', 'a', 'on', undefined);
    metrics.exposure('a', 'on'); // an existing counter still counts
    expect(metrics.stats().dropped).toBe(2);
  });

  it('close() uploads what is left', async () => {
    const { uploads, metrics } = recorder(() => 202);
    metrics.event('error', 'f', 'on', undefined);
    await metrics.close();
    expect(uploads[0]!.events[0]).toMatchObject({ name: 'error', count: 1 });
  });

  it('value buckets are quarter-octaves', () => {
    expect(valueBucket(0.5)).toBe(0);
    expect(valueBucket(2)).toBe(4);
    expect(valueBucket(1024)).toBe(40);
  });
});

describe('client: exposures and track for guarded flags', () => {
  let client: SwitchyardClient | undefined;
  afterEach(() => client?.close());

  const half = { rollout: { variations: [{ variation: 'on', weight: 50_000 }, { variation: 'off', weight: 50_000 }] } };

  it('counts guarded flags only, attributes tracked events to each user’s variation, flushes on close', async () => {
    const server = new FakeServer(ruleSet(3, [booleanFlag('guarded', true, 1, { guarded: true, defaultServe: half }), booleanFlag('plain', true)]));
    const uploads: Upload[] = [];
    const fetch: FetchLike = async (url, init) => {
      if (url.endsWith('/api/sdk/metrics')) {
        uploads.push(JSON.parse(init.body!) as Upload);
        return new Response(null, { status: 202 });
      }
      return server.fetch(url, init);
    };
    const clock = new FakeClock();
    client = createClient({ url: 'http://s', sdkKey: 'k', fetch, clock, random: () => 0.5, logger: silentLogger, flushIntervalMs: 500, metrics: guardMetrics });
    await client.ready();
    await settle();
    const users = Array.from({ length: 200 }, (_, i) => `u${i}`);
    const served = new Map(users.map((u) => [u, client!.isEnabled('guarded', u) ? 'on' : 'off']));
    for (const u of users) client.isEnabled('plain', u);
    for (const u of users) client.track('error', u);
    client.track('latency_ms', 'u1', 250);
    await client.close();
    const all = uploads.flatMap((u) => u.exposures);
    expect(all.every((e) => e.flag === 'guarded')).toBe(true);
    const onUsers = [...served.values()].filter((v) => v === 'on').length;
    expect(all.find((e) => e.variation === 'on')?.count).toBe(onUsers);
    const errors = uploads.flatMap((u) => u.events).filter((e) => e.name === 'error');
    expect(errors.find((e) => e.variation === 'on')?.count).toBe(onUsers);
    expect(errors.find((e) => e.variation === 'off')?.count).toBe(users.length - onUsers);
    const latency = uploads.flatMap((u) => u.events).find((e) => e.name === 'latency_ms');
    expect(latency).toMatchObject({ flag: 'guarded', variation: served.get('u1'), count: 1, sum: 250 });
  });

  it('track is a no-op without guarded flags and never throws on odd input', async () => {
    const server = new FakeServer(ruleSet(3, [booleanFlag('plain', true)]));
    const clock = new FakeClock();
    client = createClient({ url: 'http://s', sdkKey: 'k', fetch: server.fetch, clock, random: () => 0.5, logger: silentLogger, metrics: guardMetrics });
    await client.ready();
    client.track('error', 'u1');
    client.track('', 'u1');
    client.track(42 as unknown as string, { userId: 'x' }, Number.NaN);
    expect(clock.pending).toBeGreaterThanOrEqual(0);
    expect(client.metricsStats()).toEqual({ dropped: 0, flushed: 0, failedBatches: 0 });
  });
});

describe('client without guardMetrics (the lean browser core)', () => {
  it('counts nothing, uploads nothing, and warns once that a guarded flag is not measured', async () => {
    const server = new FakeServer(ruleSet(3, [booleanFlag('guarded', true, 1, { guarded: true })]));
    const requests: string[] = [];
    const warnings: string[] = [];
    const fetch: FetchLike = (url, init) => (requests.push(new URL(url).pathname), server.fetch(url, init));
    const logger = { warn: (message: string) => void warnings.push(message), error: () => {} };
    const client = createClient({ url: 'http://s', sdkKey: 'k', fetch, clock: new FakeClock(), logger, flushIntervalMs: 10 });
    await client.ready();
    for (let i = 0; i < 50; i++) client.isEnabled('guarded', `u${i}`);
    client.track('error', 'u1');
    await client.flush();
    await client.close();
    expect(requests).not.toContain('/api/sdk/metrics');
    expect(client.metricsStats()).toEqual({ dropped: 0, flushed: 0, failedBatches: 0 });
    expect(warnings.filter((w) => w.includes('guarded'))).toHaveLength(1);
  });

  it('is on by default in the Node entry', async () => {
    const { createClient: createNodeEntryClient } = await import('./node.js');
    const server = new FakeServer(ruleSet(3, [booleanFlag('guarded', true, 1, { guarded: true })]));
    const uploads: string[] = [];
    const fetch: FetchLike = async (url, init) => {
      if (!url.endsWith('/api/sdk/metrics')) return server.fetch(url, init);
      uploads.push(init.body!);
      return new Response(null, { status: 202 });
    };
    const client = createNodeEntryClient({ url: 'http://s', sdkKey: 'k', fetch, clock: new FakeClock(), logger: silentLogger });
    await client.ready();
    client.isEnabled('guarded', 'u1');
    await client.close();
    expect(JSON.parse(uploads[0]!)).toMatchObject({ exposures: [{ flag: 'guarded', variation: 'on', count: 1 }] });
  });
});

describe('OpenFeature provider: track', () => {
  it('forwards tracking events to the client with the context mapped and the value', async () => {
    const { SwitchyardProvider } = await import('./openfeature.js');
    const calls: unknown[][] = [];
    const stub = { isEnabled: () => false, on: () => () => {}, track: (...args: unknown[]) => void calls.push(args) } as unknown as SwitchyardClient;
    const provider = new SwitchyardProvider(stub);
    provider.track('latency_ms', { targetingKey: 'u1', plan: 'pro' }, { value: 120 });
    provider.track('error', { targetingKey: 'u2' }, {});
    expect(calls).toEqual([
      ['latency_ms', { plan: 'pro', userId: 'u1' }, 120],
      ['error', { userId: 'u2' }, undefined],
    ]);
  });
});
