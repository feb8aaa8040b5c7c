import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type SwitchyardClient } from './client.js';
import { EvaluationInsights, evaluationInsights, INSIGHTS_DEFAULTS, SDK_VERSION, withEvaluationInsights } from './insights.js';
import { guardMetrics } from './metrics.js';
import { silentLogger, type FetchLike } from './options.js';
import { booleanFlag, FakeClock, FakeServer, ruleSet, settle } from './testing/fakes.js';
import { WEB_SDK } from './web.js';

interface Summary {
  sdk: string;
  version: string;
  evaluations: { flag: string; variation: string; count: number }[];
}

const half = { rollout: { variations: [{ variation: 'on', weight: 50_000 }, { variation: 'off', weight: 50_000 }] } };
const ON = Object.freeze({ value: true, variant: 'on', reason: 'STATIC' as const });
const OFF = Object.freeze({ value: false, variant: 'off', reason: 'DISABLED' as const });
const TARGETED_ON = Object.freeze({ value: true, variant: 'on', reason: 'TARGETING_MATCH' as const });

function recorder(status: () => number, options: { maxKeys?: number; maxAttempts?: number } = {}) {
  const clock = new FakeClock();
  const uploads: Summary[] = [];
  const urls: string[] = [];
  const fetch: FetchLike = async (url, init) => {
    urls.push(url);
    uploads.push(JSON.parse(init.body!) as Summary);
    return new Response(null, { status: status() });
  };
  const insights = new EvaluationInsights(
    { baseUrl: 'http://s', sdkKey: 'k', fetch, clock, random: () => 1, logger: silentLogger, insightsIntervalMs: 1000, maxInsightKeys: options.maxKeys ?? 100, maxAttempts: options.maxAttempts ?? 3 },
    undefined,
    { name: 'test-sdk', version: '9.9.9' },
  );
  return { clock, uploads, urls, insights };
}

describe('EvaluationInsights', () => {
  it('sums outcomes per flag variation and uploads one summary per interval with the SDK name and version; idle, no timer', async () => {
    const { clock, uploads, urls, insights } = recorder(() => 202);
    expect(clock.pending).toBe(0);
    for (let i = 0; i < 5; i++) insights.evaluated('a', ON);
    insights.evaluated('a', TARGETED_ON); // another outcome, same variation: adds up
    insights.evaluated('a', OFF);
    expect(clock.pending).toBe(1);
    await clock.advance(999);
    expect(uploads).toEqual([]);
    await clock.advance(1);
    expect(urls).toEqual(['http://s/api/sdk/evaluations']);
    expect(uploads).toEqual([
      {
        sdk: 'test-sdk',
        version: '9.9.9',
        evaluations: [
          { flag: 'a', variation: 'on', count: 6 },
          { flag: 'a', variation: 'off', count: 1 },
        ],
      },
    ]);
    expect(insights.stats()).toEqual({ dropped: 0, flushed: 0, failedBatches: 0, evaluations: { dropped: 0, flushed: 1, failedBatches: 0 } });
    expect(clock.pending).toBe(0);
    await clock.advance(10_000);
    expect(uploads).toHaveLength(1); // nothing counted: nothing sent
  });

  it('keeps at most maxInsightKeys counters; the overflow is dropped and counted', async () => {
    const { clock, uploads, insights } = recorder(() => 202, { maxKeys: 2 });
    const results = Array.from({ length: 5 }, (_, i) => Object.freeze({ value: i, variant: `v${i}`, reason: 'STATIC' as const }));
    for (const r of results) {
      insights.evaluated('f', r);
      insights.evaluated('f', r);
    }
    await clock.advance(1000);
    expect(uploads[0]!.evaluations).toEqual([
      { flag: 'f', variation: 'v0', count: 2 },
      { flag: 'f', variation: 'v1', count: 2 },
    ]);
    expect(insights.stats().evaluations).toEqual({ dropped: 6, flushed: 1, failedBatches: 0 });
  });

  it('retries while the server is away, merged with newer counts, then drops the summary with a count', async () => {
    const { clock, uploads, insights } = recorder(() => 503, { maxAttempts: 3 });
    insights.evaluated('f', ON);
    await clock.advance(1000);
    insights.evaluated('f', ON);
    insights.evaluated('f', OFF);
    await clock.advance(60_000);
    await clock.advance(60_000);
    expect(uploads).toHaveLength(3);
    expect(uploads[1]!.evaluations).toEqual([
      { flag: 'f', variation: 'on', count: 2 },
      { flag: 'f', variation: 'off', count: 1 },
    ]);
    expect(insights.stats().evaluations).toEqual({ dropped: 3, flushed: 0, failedBatches: 1 });
    expect(clock.pending).toBe(0);
  });

  it('drops a refused summary (4xx) at once, and one with no answer after the request timeout is retried', async () => {
    const refused = recorder(() => 400);
    refused.insights.evaluated('f', ON);
    await refused.clock.advance(1000);
    expect(refused.insights.stats().evaluations).toEqual({ dropped: 1, flushed: 0, failedBatches: 1 });
    expect(refused.clock.pending).toBe(0);

    const clock = new FakeClock();
    let calls = 0;
    const hanging: FetchLike = (_url, init) => {
      calls++;
      return new Promise((_resolve, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    };
    const insights = new EvaluationInsights({ baseUrl: 'http://s', sdkKey: 'k', fetch: hanging, clock, random: () => 1, logger: silentLogger, insightsIntervalMs: 1000, requestTimeoutMs: 500, maxAttempts: 2 });
    insights.evaluated('f', ON);
    await clock.advance(1500);
    expect(calls).toBe(1);
    expect(insights.stats().evaluations).toMatchObject({ dropped: 0, failedBatches: 0 });
    await clock.advance(5000);
    expect(calls).toBe(2);
    expect(insights.stats().evaluations).toEqual({ dropped: 1, flushed: 0, failedBatches: 1 });
  });

  it('close() uploads what is left, stops the timer and closes the guard metrics too', async () => {
    const { clock, uploads, insights } = recorder(() => 202);
    insights.evaluated('f', ON);
    await insights.close();
    expect(uploads).toHaveLength(1);
    expect(clock.pending).toBe(0);
    insights.evaluated('f', OFF); // after close: not counted, no timer
    expect(clock.pending).toBe(0);
  });

  it('defaults: a minute between uploads, 10,000 counters', () => {
    expect(INSIGHTS_DEFAULTS).toMatchObject({ insightsIntervalMs: 60_000, maxInsightKeys: 10_000 });
  });

  it('reports the package version (core, Node, OpenFeature and web)', () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(SDK_VERSION).toBe(version);
    expect(WEB_SDK.version).toBe(version);
  });
});

describe('client with evaluation insights', () => {
  let client: SwitchyardClient | undefined;
  afterEach(() => client?.close());

  function serverWith(...flags: ReturnType<typeof booleanFlag>[]) {
    const server = new FakeServer(ruleSet(3, flags));
    const summaries: Summary[] = [];
    const metrics: unknown[] = [];
    const fetch: FetchLike = async (url, init) => {
      if (url.endsWith('/api/sdk/evaluations')) {
        summaries.push(JSON.parse(init.body!) as Summary);
        return new Response(null, { status: 202 });
      }
      if (url.endsWith('/api/sdk/metrics')) {
        metrics.push(JSON.parse(init.body!));
        return new Response(null, { status: 202 });
      }
      return server.fetch(url, init);
    };
    return { server, summaries, metrics, fetch };
  }

  it('counts isEnabled, variation and evaluate per flag and served variation (errors and unknown flags not), with guard metrics alongside', async () => {
    const { summaries, metrics, fetch } = serverWith(booleanFlag('split', true, 1, { defaultServe: half, guarded: true }), booleanFlag('dark', false));
    client = createClient({ url: 'http://s', sdkKey: 'k', fetch, clock: new FakeClock(), logger: silentLogger, metrics: withEvaluationInsights(guardMetrics) });
    await client.ready();
    let on = 0;
    for (let i = 0; i < 100; i++) if (client.isEnabled('split', `u${i}`)) on++;
    client.variation('dark', 'u1', true);
    client.evaluate('dark', 'u2', true);
    client.isEnabled('split'); // no user ID: TARGETING_KEY_MISSING, not counted
    client.isEnabled('missing', 'u1');
    client.allFlags('u1'); // not an application's evaluation: not counted
    await client.flush();
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.sdk).toBe('switchyard-js');
    expect(new Set(summaries[0]!.evaluations.map((e) => JSON.stringify(e)))).toEqual(
      new Set([
        JSON.stringify({ flag: 'split', variation: 'on', count: on }),
        JSON.stringify({ flag: 'split', variation: 'off', count: 100 - on }),
        JSON.stringify({ flag: 'dark', variation: 'off', count: 2 }),
      ]),
    );
    expect(metrics).toHaveLength(1); // the guarded flag's exposures still go to guard metrics
    expect(client.metricsStats().evaluations).toEqual({ dropped: 0, flushed: 1, failedBatches: 0 });
  });

  it('evaluationInsights alone: no guard metrics upload; the core client without it counts nothing', async () => {
    const { summaries, metrics, fetch } = serverWith(booleanFlag('f', true, 1, { guarded: true }));
    client = createClient({ url: 'http://s', sdkKey: 'k', fetch, clock: new FakeClock(), logger: silentLogger, metrics: evaluationInsights });
    await client.ready();
    client.isEnabled('f', 'u1');
    await client.close();
    expect(summaries.map((s) => s.evaluations)).toEqual([[{ flag: 'f', variation: 'on', count: 1 }]]);
    expect(metrics).toEqual([]);

    const plain = serverWith(booleanFlag('f', true));
    client = createClient({ url: 'http://s', sdkKey: 'k', fetch: plain.fetch, clock: new FakeClock(), logger: silentLogger });
    await client.ready();
    client.isEnabled('f', 'u1');
    await client.close();
    expect(plain.summaries).toEqual([]);
  });

  it('is on by default in the Node entry and the OpenFeature provider; insights: false turns it off', async () => {
    const { createClient: createNodeEntryClient } = await import('./node.js');
    const { SwitchyardProvider } = await import('./openfeature.js');
    const node = serverWith(booleanFlag('f', true));
    client = createNodeEntryClient({ url: 'http://s', sdkKey: 'k', fetch: node.fetch, clock: new FakeClock(), logger: silentLogger });
    await client.ready();
    client.isEnabled('f', 'u1');
    await client.close();
    expect(node.summaries).toEqual([{ sdk: 'switchyard-node', version: SDK_VERSION, evaluations: [{ flag: 'f', variation: 'on', count: 1 }] }]);

    const off = serverWith(booleanFlag('f', true));
    client = createNodeEntryClient({ url: 'http://s', sdkKey: 'k', fetch: off.fetch, clock: new FakeClock(), logger: silentLogger, insights: false });
    await client.ready();
    client.isEnabled('f', 'u1');
    await client.close();
    expect(off.summaries).toEqual([]);

    const of = serverWith(booleanFlag('f', true));
    const provider = new SwitchyardProvider({ url: 'http://s', sdkKey: 'k', fetch: of.fetch, clock: new FakeClock(), logger: silentLogger });
    await provider.initialize();
    await provider.resolveBooleanEvaluation('f', false, { targetingKey: 'u1' });
    await provider.onClose();
    await settle();
    expect(of.summaries).toEqual([{ sdk: 'switchyard-openfeature', version: SDK_VERSION, evaluations: [{ flag: 'f', variation: 'on', count: 1 }] }]);
  });

  it('offline clients count nothing', async () => {
    const { createClient: createNodeEntryClient } = await import('./node.js');
    const fetch: FetchLike = () => Promise.reject(new Error('no network offline'));
    client = createNodeEntryClient({ url: '', sdkKey: '', offline: true, bootstrap: ruleSet(1, [booleanFlag('f', true)]), fetch, clock: new FakeClock(), logger: silentLogger });
    expect(client.isEnabled('f', 'u1')).toBe(true);
    await client.close();
    expect(client.metricsStats().evaluations).toBeUndefined();
  });
});
