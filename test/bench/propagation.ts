/**
 * Propagation: how long a stage change takes to reach EVERY streaming SDK client.
 *
 * Sides, all running at once, their changes alternating so noise and drift hit them alike:
 *   - replicas: three Switchyard replicas on one PostgreSQL; the N streams spread evenly over them,
 *     stage changes sent round-robin to them (the change made on one reaches the others' streams
 *     through the change feed: LISTEN/NOTIFY, whose payload carries the entry);
 *   - sqlite:   one Switchyard on SQLite (`--sqlite no` leaves it out);
 *   - bare:     propagation-bare.ts, a bare node:http SSE server writing one Buffer to N sockets (the
 *     floor), sent the very payload Switchyard sent.
 * One change at a time is in flight. Each is measured from just before its POST (the stage change,
 * or the bare server's /broadcast) is handed to the socket, in this process, until the patch's data
 * event has run at the last of the N streams, in the client processes (stream-clients.ts), on one
 * clock. Both intervals include the clients' own processing. Patches are matched by their `id:`,
 * a feed position, the same on every replica.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/propagation.ts [--clients 1000,10000] [--changes 100] [--sqlite no] [--cpu-prof DIR]
 *
 * Target: p99 (over changes) of the time until every stream has the patch, three replicas on
 * PostgreSQL, ≤ 1.3× the bare broadcast's at the same N.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLI_KIND, NODE_SOURCE_ARGS, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { Cleanup } from './cleanup.js';
import { jsonPoster, type JsonPoster } from './keep-alive.js';
import { loadAverage, ms, option, serverNodeArgs, summary, verdict } from './measure.js';
import { benchPostgres, startReplicas } from './replicas.js';
import { CLIENTS_NICE, STREAM_SERVER_ENV, StreamClients } from './stream-clients.js';

const COUNTS = option('clients', '1000,10000').split(',').map(Number);
const CHANGES = Number(option('changes', '100'));
const WITH_SQLITE = option('sqlite', 'yes') !== 'no';
const REPLICAS = 3;
const TARGET_RATIO = 1.3;
const WARMUP_CHANGES = 5;
const WARMUP_CLIENTS = 20;
const COLLECT_TIMEOUT_MS = 15_000;
const ENVIRONMENT = 'development';
const STAGES = ['10%', '20%', '30%', '40%', '50%'];
const FLAG = 'propagation';
/** How every server is started: quiet logs; profiled with `--cpu-prof DIR`. */
const SERVER = { env: { LOG_LEVEL: 'warn', ...STREAM_SERVER_ENV }, nodeArgs: serverNodeArgs() };

/** One side of the comparison: where its streams go, how it makes a change, and its figures. */
interface Side {
  name: string;
  urls: string[];
  sdkKey: string;
  clients: StreamClients;
  /** Server processes whose memory per stream is reported (none for the floor). */
  pids: number[];
  /** Make one change; resolves with when its request was sent and when its response came. */
  trigger(): Promise<{ sent: number; at: number }>;
  /** Feed position of the last patch collected. */
  after: number;
  /** The data line of the last patch received. */
  patchData: string;
  /** Per change: the latency of the last stream to get it, from the request. */
  lasts: number[];
  /** Per delivery, from the request. */
  deliveries: number[];
  /** Per change: its response, from the request. */
  responses: number[];
  missing: number;
}

function side(name: string, urls: string[], sdkKey: string, pids: number[], trigger: Side['trigger']): Side {
  return { name, urls, sdkKey, clients: new StreamClients(), pids, trigger, after: 0, patchData: '{}', lasts: [], deliveries: [], responses: [], missing: 0 };
}

function reset(s: Side): void {
  s.lasts = [];
  s.deliveries = [];
  s.responses = [];
  s.missing = 0;
}

/** One change on `s`, waited for at every stream; recorded unless it is a warm-up. */
async function change(s: Side, record: boolean): Promise<void> {
  const { sent, at } = await s.trigger();
  const got = await s.clients.collect(s.after, sent, COLLECT_TIMEOUT_MS);
  s.after = got.version;
  s.patchData = got.patchData ?? s.patchData;
  if (!record) return;
  s.missing += got.missing;
  let last = Number.NEGATIVE_INFINITY;
  for (const latency of got.latencies) {
    s.deliveries.push(latency);
    if (latency > last) last = latency;
  }
  s.lasts.push(last);
  s.responses.push(at - sent);
}

/** A Switchyard side: a flag and an SDK key made through `servers[0]`, changes round-robin over all. */
async function switchyardSide(name: string, servers: ServerProcess[]): Promise<Side> {
  const call = api(servers[0]!.url, servers[0]!.adminToken);
  const created = await call<{ version: number }>('POST', '/api/flags', { key: FLAG, name: 'Propagation benchmark' });
  if (created.status !== 201) throw new Error(`${name}: creating the flag: HTTP ${created.status}`);
  const sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'bench', environment: ENVIRONMENT })).body.key;
  const posters: JsonPoster[] = servers.map((server) => jsonPoster(server.url, server.adminToken));
  let flagVersion = created.body.version;
  let step = 0;
  const s = side(name, servers.map((server) => server.url), sdkKey, servers.map((server) => server.child.pid!), async () => {
    const poster = posters[step % posters.length]!;
    const path = `/api/flags/${FLAG}/environments/${ENVIRONMENT}/stage`;
    const response = await poster.post(path, { stage: STAGES[step++ % STAGES.length], version: flagVersion });
    if (response.status !== 200) throw new Error(`${name}: stage change: HTTP ${response.status} ${response.body}`);
    flagVersion = (JSON.parse(response.body) as { version: number }).version;
    return response;
  });
  cleanup.add(() => posters.forEach((poster) => poster.close()));
  return s;
}

/** The floor: each change is the payload `model` last received, under the next id. */
function bareSide(url: string, model: Side): Side {
  const poster = jsonPoster(url, undefined);
  cleanup.add(() => poster.close());
  let version = 0;
  return side('bare', [url], 'none', [], async () => {
    const v = ++version;
    const data = model.patchData.replace(/^\{"version":\d+/, `{"version":${v}`);
    return poster.post('/broadcast', { version: v, data });
  });
}

async function startBare(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [...NODE_SOURCE_ARGS, fileURLToPath(new URL('./propagation-bare.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.add(() => child.kill('SIGTERM'));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /bare listening at (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { url, child };
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

const totalRss = (s: Side): number => s.pids.reduce((sum, pid) => sum + rssKb(pid), 0);

/** Every side holds `count` streams at once; changes alternate between the sides. */
async function measure(count: number, sides: Side[]): Promise<Map<Side, number>> {
  const bytesPerStream = new Map<Side, number>();
  for (const s of sides) {
    const before = totalRss(s);
    await s.clients.connect(s.urls, s.sdkKey, count);
    if (s.pids.length > 0) bytesPerStream.set(s, ((totalRss(s) - before) * 1024) / count);
    reset(s);
  }
  for (let i = 0; i < WARMUP_CHANGES + CHANGES; i++) {
    for (const s of sides) await change(s, i >= WARMUP_CHANGES);
  }
  for (const s of sides) await s.clients.close();
  return bytesPerStream;
}

function report(count: number, sides: Side[], bytesPerStream: Map<Side, number>): void {
  const floor = sides.find((s) => s.name === 'bare')!;
  const floorLast = summary(floor.lasts);
  console.log(`\n${count} streams (${CHANGES} changes per side)`);
  console.log('  until EVERY stream has the patch, from the request — p50 / p99 over changes');
  for (const s of sides) {
    const last = summary(s.lasts);
    const ratio = s === floor ? '' : `   p99 ${(last.p99 / floorLast.p99).toFixed(2)}× the bare broadcast`;
    console.log(`    ${s.name.padEnd(8)} p50 ${ms(last.p50).padStart(9)}, p99 ${ms(last.p99).padStart(9)}, max ${ms(last.max).padStart(9)}${ratio}`);
  }
  console.log('  per delivery (every stream, every change), from the request — p50 / p99');
  for (const s of sides) {
    const delivery = summary(s.deliveries);
    console.log(`    ${s.name.padEnd(8)} p50 ${ms(delivery.p50).padStart(9)}, p99 ${ms(delivery.p99).padStart(9)}`);
  }
  console.log('  response to the request (stage change, or /broadcast) — p50 / p99');
  for (const s of sides) {
    const response = summary(s.responses);
    console.log(`    ${s.name.padEnd(8)} p50 ${ms(response.p50).padStart(9)}, p99 ${ms(response.p99).padStart(9)}`);
  }
  for (const [s, bytes] of bytesPerStream) console.log(`  ${s.name} server memory: ${(bytes / 1024).toFixed(1)} KB per stream (VmRSS growth while connecting, all its processes)`);
  for (const s of sides) if (s.missing > 0) console.log(`  MISSING deliveries (${s.name}): ${s.missing}`);
  const replicas = sides.find((s) => s.name === 'replicas')!;
  const ratio = summary(replicas.lasts).p99 / floorLast.p99;
  verdict(`replicas p99 ${ratio.toFixed(2)}× the bare broadcast at ${count} streams (target ≤ ${TARGET_RATIO}×)`, ratio <= TARGET_RATIO && replicas.missing === 0);
}

const cleanup = new Cleanup();

try {
  console.log('propagation: a stage change until every SDK stream has its patch (see the header of test/bench/propagation.ts)');
  console.log(`server: ${CLI_KIND}`);
  if (CLIENTS_NICE > 0) console.log(`stream clients at nice ${CLIENTS_NICE} (--clients-nice): as if on other machines`);
  console.log(`load average before: ${loadAverage()}`);
  const postgres = await benchPostgres();
  cleanup.add(() => postgres.stop());
  console.log(`database: ${postgres.description}`);

  const replicas = await startReplicas('bench_propagation', REPLICAS, SERVER);
  cleanup.add(() => replicas.stop());
  const sides = [await switchyardSide('replicas', replicas.servers)];
  if (WITH_SQLITE) {
    const sqlite = await startServerProcess(SERVER);
    cleanup.add(() => sqlite.stop().then(() => removeDataDir(sqlite.dataDir)));
    sides.push(await switchyardSide('sqlite', [sqlite]));
  }
  const bare = await startBare();
  sides.push(bareSide(bare.url, sides[0]!));
  for (const s of sides) cleanup.add(() => s.clients.stop());

  // Warm every code path up, and learn the payload the floor must send, before any figure.
  for (const s of sides) {
    await s.clients.connect(s.urls, s.sdkKey, WARMUP_CLIENTS);
    for (let i = 0; i < WARMUP_CHANGES; i++) await change(s, false);
    await s.clients.close();
  }
  for (const count of COUNTS) report(count, sides, await measure(count, sides));
  console.log(`\nload average after: ${loadAverage()}`);
} finally {
  await cleanup.run();
}
