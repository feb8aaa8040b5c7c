/**
 * `pnpm bench`: every benchmark in turn, each in its own process so they do not disturb each other.
 * Pass names to run a subset: `pnpm bench sdk-eval ofrep`. The server benchmarks (stage-changes,
 * write-latency, propagation, response-time) run the built server when `pnpm build` is fresh, else the sources, and
 * use SWITCHYARD_BENCH_DATABASE_URL (or SWITCHYARD_TEST_DATABASE_URL, or an embedded PostgreSQL), as does
 * pg-ceiling (pgbench, no Switchyard process).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { NODE_SOURCE_ARGS, ROOT } from '../support/server-process.js';

const BENCHMARKS: Record<string, string[]> = {
  'sdk-eval': [],
  'sdk-insights': [],
  'sdk-memory': ['--expose-gc'],
  'sdk-size': [],
  ofrep: [],
  'stage-changes': [],
  'pg-ceiling': [],
  'write-latency': [],
  propagation: [],
  'response-time': [],
  guard: [],
  'gitops-apply': [],
  'flag-list': [],
  'dashboard-list': [],
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(BENCHMARKS);
let failed = 0;
for (const name of names) {
  const flags = BENCHMARKS[name];
  if (!flags) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  const run = spawnSync(process.execPath, [...flags, ...NODE_SOURCE_ARGS, join(ROOT, `test/bench/${name}.ts`)], { stdio: 'inherit', cwd: ROOT });
  if (run.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
