/**
 * SDK heap with 10,000 flags loaded: heap used after loading minus before (after forced GC).
 * Target: ≤ 20 MB. Needs --expose-gc:
 *
 *   node --expose-gc --conditions=switchyard-source --import tsx test/bench/sdk-memory.ts
 */
import { createClient, type FlagConfig, type RuleSet } from '@switchyard/sdk';

const FLAGS = 10_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function ruleSetOf(count: number): RuleSet {
  const flags: Record<string, FlagConfig> = {};
  for (let i = 0; i < count; i++) {
    const key = `flag-${i}`;
    flags[key] = {
      key,
      type: 'boolean',
      variations: [
        { key: 'off', value: false },
        { key: 'on', value: true },
      ],
      on: true,
      offVariation: 'off',
      targets: i % 10 === 0 ? [{ variation: 'on', values: ['qa-1', 'qa-2'] }] : [],
      rules: [
        { id: 'dogfood', clauses: [{ attribute: '', operator: 'in_segment', values: ['internal'] }], serve: { variation: 'on' } },
        ...(i % 3 === 0 ? [{ id: 'beta', clauses: [{ attribute: 'plan', operator: 'in' as const, values: ['beta'] }], serve: { variation: 'on' } }] : []),
      ],
      defaultServe: { rollout: { variations: [{ variation: 'on', weight: (i * 37) % 100_000 }, { variation: 'off', weight: 100_000 - ((i * 37) % 100_000) }] } },
      salt: key,
      bucketBy: 'userId',
      version: 1,
    };
  }
  return { environment: 'bench', version: 1, flags, segments: { internal: { key: 'internal', included: ['alice', 'bob'], excluded: [], rules: [], version: 1 } } };
}

const neverFetch = (_url: string, init: { signal: AbortSignal }) =>
  new Promise<Response>((_resolve, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

// The rule set arrives as JSON text, as it does from the server; parse it inside the measurement.
const json = JSON.stringify(ruleSetOf(FLAGS));
gc();
gc();
const before = process.memoryUsage().heapUsed;
const client = createClient({ url: 'http://127.0.0.1:9', sdkKey: 'bench', bootstrap: JSON.parse(json) as RuleSet, fetch: neverFetch, logger: silent });
await client.ready();
let on = 0;
for (let i = 0; i < FLAGS; i++) if (client.isEnabled(`flag-${i}`, 'user-1')) on++;
gc();
gc();
const after = process.memoryUsage().heapUsed;
const mb = (after - before) / 1024 / 1024;
console.log(`SDK heap with ${FLAGS.toLocaleString('en')} flags loaded (rule set JSON ${(json.length / 1024 / 1024).toFixed(1)} MB; ${on} on for user-1):`);
console.log(`  heap delta: ${mb.toFixed(1)} MB (target ≤ 20 MB) ${mb <= 20 ? 'PASS' : 'FAIL'}`);
client.close();
