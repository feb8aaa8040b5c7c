/**
 * What evaluation insights cost `isEnabled` (issue 15: at most 10 ns more per call), side by side in
 * one run: the same bootstrapped rules, the same 100,000 distinct user IDs, through
 *   (a) the core client without insights — what a browser app on `@switchyard/sdk` runs,
 *   (b) the core client with `metrics: evaluationInsights` — counting only,
 *   (c) the Node entry's default client — guard metrics and insights, as `createNodeClient` ships;
 * once for one hot flag and once for 17 flags called in turn (every call a different flag).
 * Rounds are interleaved (each round times every candidate once) and the best round counts, so a
 * machine whose speed drifts slows every candidate alike. Printed: ns per call and the differences.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/sdk-insights.ts
 */
import type { createClient, FlagConfig, RuleSet } from '@switchyard/sdk';
import { evaluationInsights } from '@switchyard/sdk/insights';
import { NODE_SDK, withDefaultMetrics } from '@switchyard/sdk/node';

/**
 * Each candidate runs its own copy of the client module (a distinct module URL): V8 keeps type
 * feedback per function literal, so clients sharing one copy would make each other's call sites
 * polymorphic — slower than any application with one client ever is.
 */
const copyOfClient = async (copy: string): Promise<typeof createClient> =>
  ((await import(new URL(`../../sdk/src/client.ts?copy=${copy}`, import.meta.url).href)) as { createClient: typeof createClient }).createClient;

const USERS = 100_000;
const ROUNDS = 30;
/** Issue 15: counting may make `isEnabled` at most this much slower. */
const BUDGET_NS = 10;
const ids = Array.from({ length: USERS }, (_, i) => `user-${i}-${(i * 2654435761) % 1_000_003}`);

const rollout = (key: string): FlagConfig => ({
  key,
  type: 'boolean',
  variations: [
    { key: 'off', value: false },
    { key: 'on', value: true },
  ],
  on: true,
  offVariation: 'off',
  targets: [],
  rules: [],
  defaultServe: { rollout: { variations: [{ variation: 'on', weight: 10_000 }, { variation: 'off', weight: 90_000 }] } },
  salt: key,
  bucketBy: 'userId',
  version: 1,
});
/** `rollout`, and 16 more flags for the scenario where consecutive calls never repeat a flag. */
const MANY = Array.from({ length: 16 }, (_, i) => `flag-${i}`);
const ruleSet: RuleSet = { environment: 'bench', version: 1, flags: Object.fromEntries(['rollout', ...MANY].map((key) => [key, rollout(key)])), segments: {} };

// No network at all: every request fails at once (uploads are retried later, long after the run).
const noFetch = () => Promise.reject(new Error('no network in the benchmark'));
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const common = { url: 'http://127.0.0.1:9', sdkKey: 'bench', bootstrap: ruleSet, fetch: noFetch, logger, streaming: false, pollIntervalMs: 3_600_000, insightsIntervalMs: 3_600_000 };

const copies = [await copyOfClient('a'), await copyOfClient('b'), await copyOfClient('c')] as const;
if (new Set(copies).size !== copies.length) throw new Error('the client module was not copied: the comparison would be unfair');
const plain = copies[0](common);
const counting = copies[1]({ ...common, metrics: evaluationInsights });
// What `createClient` of `@switchyard/sdk/node` does, on its own copy of the core client.
const nodeDefault = copies[2]({ ...common, metrics: withDefaultMetrics(common, NODE_SDK) });
type Client = typeof plain;

const SCENARIOS: { name: string; call: (client: Client, i: number) => boolean }[] = [
  { name: 'one flag, 10% rollout', call: (client, i) => client.isEnabled('rollout', ids[i]!) },
  // The worst case for the counters' one-entry cache: every call another flag (a map lookup each).
  { name: '17 flags in turn, 10% rollouts', call: (client, i) => client.isEnabled(i % 17 === 0 ? 'rollout' : MANY[i % 16]!, ids[i]!) },
];

console.log(`isEnabled over ${USERS.toLocaleString('en')} distinct user IDs (best of ${ROUNDS} interleaved rounds):`);
for (const scenario of SCENARIOS) {
  const candidates = [
    { name: '(a) core client, no insights', client: plain, ns: Infinity, on: 0 },
    { name: '(b) core client + evaluationInsights', client: counting, ns: Infinity, on: 0 },
    { name: '(c) Node entry default (guard + insights)', client: nodeDefault, ns: Infinity, on: 0 },
  ];
  const { call } = scenario;
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of candidates) {
      const { client } = c;
      let on = 0;
      const started = process.hrtime.bigint();
      for (let i = 0; i < USERS; i++) if (call(client, i)) on++;
      const ns = Number(process.hrtime.bigint() - started) / USERS;
      if (ns < c.ns) c.ns = ns;
      c.on = on;
    }
  }
  console.log(` ${scenario.name}:`);
  for (const c of candidates) console.log(`  ${c.name.padEnd(44)} ${c.ns.toFixed(1).padStart(6)} ns/call   (${((c.on / USERS) * 100).toFixed(2)}% on)`);
  const [a, b, n] = candidates as [(typeof candidates)[0], (typeof candidates)[0], (typeof candidates)[0]];
  if (a.on !== b.on || a.on !== n.on) throw new Error('the clients disagree: the comparison is void');
  for (const [label, delta] of [
    ['insights cost (b − a)', b.ns - a.ns],
    ['Node default cost (c − a)', n.ns - a.ns],
  ] as const) {
    console.log(`  ${label.padEnd(44)} ${delta >= 0 ? '+' : ''}${delta.toFixed(1)} ns/call (budget ≤ ${BUDGET_NS} ns) ${delta <= BUDGET_NS ? 'PASS' : 'FAIL'}`);
  }
}

// Counting really happened (the counters were not optimised away), and nothing was dropped.
const evaluations = counting.metricsStats().evaluations;
await Promise.all([plain, counting, nodeDefault].map((client) => client.close()));
if (!evaluations || evaluations.dropped !== 0) throw new Error(`insights did not count as expected: ${JSON.stringify(evaluations)}`);
