/**
 * OFREP throughput and p99 (autocannon, 50 connections) next to a bare Fastify route answering the
 * same JSON (`bare-fastify.ts`), in interleaved rounds of the same run: single evaluation (target
 * ratio ≥ 0.8) and bulk evaluation of 50 flags (target ≥ 0.5). The server runs as shipped, at the
 * default log level.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/ofrep.ts [--duration 4] [--rounds 7] [--only single|bulk] [--cpu-prof DIR]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { NODE_SOURCE_ARGS, ROOT, api, removeDataDir, startServerProcess } from '../support/server-process.js';
import { option, serverNodeArgs } from './measure.js';

const durationAt = process.argv.indexOf('--duration');
const duration = durationAt > 0 ? Number(process.argv[durationAt + 1]) : 4;
const CONNECTIONS = 50;
const roundsAt = process.argv.indexOf('--rounds');
const ROUNDS = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 7;
const BULK_FLAGS = 50;

/** A short warm-up lets V8 optimise both servers before measuring (once per side). */
async function warmUp(url: string, headers: Record<string, string>, body: string) {
  await autocannon({ url, method: 'POST', headers, body, connections: CONNECTIONS, duration: 2 });
}

async function load(url: string, headers: Record<string, string>, body: string) {
  const result = await autocannon({ url, method: 'POST', headers, body, connections: CONNECTIONS, duration });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p99: result.latency.p99, p50: result.latency.p50 };
}

async function startBare(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [...serverNodeArgs(), ...NODE_SOURCE_ARGS, join(ROOT, 'test/bench/bare-fastify.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

// The server as shipped: the default log level (info), not a quieter one chosen for the benchmark.
const server = await startServerProcess({ nodeArgs: serverNodeArgs(), env: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' } });
const bare = await startBare();
try {
  const call = api(server.url, server.adminToken);
  const key = await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'bench', environment: 'production' });
  // 50 flags, as the bulk target says; the single-flag route evaluates the first one.
  for (let i = 0; i < BULK_FLAGS; i++) {
    await call('POST', '/api/flags', { key: `bench-flag-${i}` });
    await call('POST', `/api/flags/bench-flag-${i}/environments/production/stage`, { stage: '10%', version: 1 });
  }
  const headers = { authorization: `Bearer ${key.body.key}`, 'content-type': 'application/json' };
  const body = JSON.stringify({ context: { targetingKey: 'user-12345', plan: 'pro' } });
  const only = option('only', '');
  const sides = [
    { name: 'single', target: 0.8, ofrep: `${server.url}/ofrep/v1/evaluate/flags/bench-flag-0`, bare: `${bare.url}/evaluate` },
    { name: `bulk (${BULK_FLAGS} flags)`, target: 0.5, ofrep: `${server.url}/ofrep/v1/evaluate/flags`, bare: `${bare.url}/evaluate-bulk` },
  ].filter((side) => !only || side.name.startsWith(only));
  // Interleaved rounds: the machine's speed drifts within a run (rounds of one run here ranged
  // 0.61–0.87 at 10 s per side), so each round measures both sides back to back, briefly, and the
  // ratio is taken per round; the median of many short rounds is steadier than a few long ones.
  for (const side of sides) {
    await warmUp(side.ofrep, headers, body);
    await warmUp(side.bare, headers, body);
  }
  const rounds: Record<string, { ofrep: number; bare: number; ratio: number; p99: number; bareP99: number }[]> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    for (const side of sides) {
      const ofrep = await load(side.ofrep, headers, body);
      // The same request bytes, Authorization included (the bare route ignores it).
      const reference = await load(side.bare, headers, body);
      (rounds[side.name] ??= []).push({ ofrep: ofrep.rps, bare: reference.rps, ratio: ofrep.rps / reference.rps, p99: ofrep.p99, bareP99: reference.p99 });
      console.log(`round ${round} ${side.name}: OFREP ${ofrep.rps.toFixed(0)} req/s, bare ${reference.rps.toFixed(0)} req/s → ${(ofrep.rps / reference.rps).toFixed(2)}`);
    }
  }
  console.log(`\nOFREP evaluation vs a bare Fastify route answering the same JSON (${CONNECTIONS} connections, ${duration} s per side, ${ROUNDS} interleaved rounds, server at LOG_LEVEL=${process.env.BENCH_LOG_LEVEL ?? 'info'}):`);
  for (const side of sides) {
    const results = rounds[side.name]!;
    const ratios = results.map((r) => r.ratio).sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    const mid = results.find((r) => r.ratio === median)!;
    console.log(`  ${side.name.padEnd(16)}: OFREP ${mid.ofrep.toFixed(0).padStart(6)} req/s (p99 ${mid.p99} ms), bare ${mid.bare.toFixed(0).padStart(6)} req/s (p99 ${mid.bareP99} ms); ratio median ${median.toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(', ')}) — target ≥ ${side.target} ${median >= side.target ? 'PASS' : 'FAIL'}`);
  }
} finally {
  bare.stop();
  await server.stop();
  removeDataDir(server.dataDir);
}
