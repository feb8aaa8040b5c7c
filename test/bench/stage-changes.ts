/**
 * Stage changes per second through the REST API, each one a versioned, audited transaction,
 * for 10 s over keep-alive connections. Target: ≥ 2,000/s on a 2-core machine.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/stage-changes.ts [--duration 10]
 */
import { Agent, request } from 'node:http';
import { api, removeDataDir, startServerProcess } from '../support/server-process.js';

const durationAt = process.argv.indexOf('--duration');
const duration = durationAt > 0 ? Number(process.argv[durationAt + 1]) : 10;
const WORKERS = 8;
const STAGES = ['dogfood', '10%', '25%', '50%', '100%', 'off'];

const server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
try {
  const call = api(server.url, server.adminToken);
  for (let i = 0; i < WORKERS; i++) await call('POST', '/api/flags', { key: `bench-${i}` });
  const agent = new Agent({ keepAlive: true, maxSockets: WORKERS });
  const { hostname, port } = new URL(server.url);
  const post = (path: string, payload: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ hostname, port, path, method: 'POST', agent, headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(payload);
    });
  let done = 0;
  let failed = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + duration * 1000;

  // Each worker owns one flag and carries its version from response to request, like an editor.
  async function worker(i: number): Promise<void> {
    let version = 1;
    for (let step = 0; performance.now() < deadline; step++) {
      const started = performance.now();
      const response = await post(`/api/flags/bench-${i}/environments/production/stage`, JSON.stringify({ stage: STAGES[step % STAGES.length], version }));
      const body = JSON.parse(response.body) as { version?: number };
      if (response.status !== 200 || body.version === undefined) {
        failed++;
        continue;
      }
      version = body.version;
      done++;
      latencies.push(performance.now() - started);
    }
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i)));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();

  const audit = await call<{ items: { id: number }[] }>('GET', '/api/audit?limit=1');
  latencies.sort((a, b) => a - b);
  const rate = done / seconds;
  console.log(`Stage changes through the API (${WORKERS} concurrent editors, ${seconds.toFixed(1)} s):`);
  console.log(`  ${done} changes, ${failed} failed, ${rate.toFixed(0)}/s  p50 ${latencies[Math.floor(latencies.length / 2)]!.toFixed(1)} ms  p99 ${latencies[Math.floor(latencies.length * 0.99)]!.toFixed(1)} ms`);
  console.log(`  audit entries written: latest id ${audit.body.items[0]!.id}`);
  console.log(`  target ≥ 2000/s: ${rate >= 2000 ? 'PASS' : 'FAIL'}`);
} finally {
  await server.stop();
  removeDataDir(server.dataDir);
}
