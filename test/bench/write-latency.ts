/**
 * Write latency on PostgreSQL when the database is across a network: one Switchyard server whose
 * PostgreSQL connection goes through a proxy (server/src/testing/pg-proxy.ts) that holds every
 * packet `--delay-ms` in each direction, one stage change at a time from one keep-alive client.
 * Prints the response time per change and how many packets the server sent PostgreSQL per change
 * (its round trips, plus its background work: the feed's safety-net poll, the webhook pump).
 * Each delay gets its own server and schema, in the order given; `0` is the proxy alone.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/write-latency.ts [--delays 0,1] [--changes 300]
 */
import { PostgresProxy } from '../../server/src/testing/pg-proxy.js';
import { createTestSchema } from '../../server/src/testing/postgres.js';
import { CLI_KIND, api, removeDataDir, startServerProcess } from '../support/server-process.js';
import { Cleanup } from './cleanup.js';
import { jsonPoster } from './keep-alive.js';
import { loadAverage, ms, option, summary } from './measure.js';
import { benchPostgres } from './replicas.js';

const DELAYS = option('delays', '0,1').split(',').map(Number);
const CHANGES = Number(option('changes', '300'));
const WARMUP = 20;
const STAGES = ['10%', '20%', '30%', '40%', '50%'];

const cleanup = new Cleanup();

async function measure(delayMs: number): Promise<void> {
  const schema = await createTestSchema('bench_write_latency');
  cleanup.add(() => schema.drop());
  const proxy = new PostgresProxy(new URL(schema.url), delayMs);
  const url = await proxy.listen();
  cleanup.add(() => proxy.close());
  const server = await startServerProcess({ env: { SWITCHYARD_DATABASE_URL: url, LOG_LEVEL: 'warn' } });
  cleanup.add(() => server.stop().then(() => removeDataDir(server.dataDir)));
  const created = await api(server.url, server.adminToken)<{ version: number }>('POST', '/api/flags', { key: 'latency' });
  if (created.status !== 201) throw new Error(`creating the flag: HTTP ${created.status}`);
  const poster = jsonPoster(server.url, server.adminToken);
  cleanup.add(() => poster.close());
  let version = created.body.version;
  const times: number[] = [];
  let packets = 0;
  for (let i = 0; i < WARMUP + CHANGES; i++) {
    const before = proxy.sent;
    const response = await poster.post('/api/flags/latency/environments/production/stage', { stage: STAGES[i % STAGES.length], version });
    if (response.status !== 200) throw new Error(`stage change: HTTP ${response.status} ${response.body}`);
    version = (JSON.parse(response.body) as { version: number }).version;
    if (i < WARMUP) continue;
    times.push(response.at - response.sent);
    packets += proxy.sent - before;
  }
  const t = summary(times);
  console.log(`  ${String(delayMs).padStart(3)} ms each way: p50 ${ms(t.p50).padStart(8)}, p99 ${ms(t.p99).padStart(8)}, max ${ms(t.max).padStart(8)}; ${(packets / CHANGES).toFixed(1)} packets to PostgreSQL per change`);
}

try {
  console.log(`write latency: ${CHANGES} sequential stage changes per delay, one server on PostgreSQL through a delaying proxy`);
  console.log(`server: ${CLI_KIND}`);
  console.log(`load average before: ${loadAverage()}`);
  const postgres = await benchPostgres();
  cleanup.add(() => postgres.stop());
  console.log(`database: ${postgres.description}\n`);
  for (const delay of DELAYS) await measure(delay);
  console.log(`\nload average after: ${loadAverage()}`);
} finally {
  await cleanup.run();
}
