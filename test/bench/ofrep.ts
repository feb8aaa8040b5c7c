/**
 * OFREP single-flag evaluation throughput and p99 (autocannon, 50 connections, 10 s) next to a bare
 * Fastify JSON route measured the same way in the same run. Target: ratio ≥ 0.6.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/ofrep.ts [--duration 10]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { NODE_SOURCE_ARGS, ROOT, api, removeDataDir, startServerProcess } from '../support/server-process.js';

const durationAt = process.argv.indexOf('--duration');
const duration = durationAt > 0 ? Number(process.argv[durationAt + 1]) : 10;
const CONNECTIONS = 50;

async function load(url: string, headers: Record<string, string>, body: string) {
  // A short warm-up lets V8 optimise both servers before measuring.
  await autocannon({ url, method: 'POST', headers, body, connections: CONNECTIONS, duration: 2 });
  const result = await autocannon({ url, method: 'POST', headers, body, connections: CONNECTIONS, duration });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p99: result.latency.p99, p50: result.latency.p50 };
}

async function startBare(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [...NODE_SOURCE_ARGS, join(ROOT, 'test/bench/bare-fastify.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
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

const server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
try {
  const call = api(server.url, server.adminToken);
  const key = await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'bench', environment: 'production' });
  await call('POST', '/api/flags', { key: 'bench-flag' });
  await call('POST', '/api/flags/bench-flag/environments/production/stage', { stage: '10%', version: 1 });

  const body = JSON.stringify({ context: { targetingKey: 'user-12345', plan: 'pro' } });
  const ofrep = await load(`${server.url}/ofrep/v1/evaluate/flags/bench-flag`, { authorization: `Bearer ${key.body.key}`, 'content-type': 'application/json' }, body);
  const bare = await startBare();
  let reference;
  try {
    reference = await load(`${bare.url}/evaluate`, { 'content-type': 'application/json' }, body);
  } finally {
    bare.stop();
  }
  const ratio = ofrep.rps / reference.rps;
  console.log(`OFREP single evaluation (${CONNECTIONS} connections, ${duration} s):`);
  console.log(`  switchyard OFREP : ${ofrep.rps.toFixed(0).padStart(7)} req/s   p50 ${ofrep.p50} ms   p99 ${ofrep.p99} ms`);
  console.log(`  bare Fastify     : ${reference.rps.toFixed(0).padStart(7)} req/s   p50 ${reference.p50} ms   p99 ${reference.p99} ms`);
  console.log(`  ratio            : ${ratio.toFixed(2)} (target ≥ 0.60) ${ratio >= 0.6 ? 'PASS' : 'FAIL'}`);
} finally {
  await server.stop();
  removeDataDir(server.dataDir);
}
