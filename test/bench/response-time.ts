/**
 * Stage-change response time with 10,000 SDK streams connected vs with none: does fanning changes
 * out to the streams slow the writes down?
 *
 * Two servers of the same kind run at once — one holding the streams, one holding none — and take
 * turns, block by block (ABBA order, so drift hits both alike), each sent sequential stage changes:
 *   - paced 20/s:   200 changes, the next sent on schedule (`--pace`, `--changes`);
 *   - paced 3/s:    90 changes, slow enough here for each change's fan-out to 10,000 streams to end
 *                   before the next change (on this 2-core VM one takes ~150 ms, see propagation.ts);
 *   - back-to-back: 200 changes, the next sent as soon as the previous one answered.
 * Response time is from just before the request is handed to the socket until its response head
 * arrives. After each block the streams are checked to have received every change, and how long
 * after the block's last response the last of them got there is reported (the fan-out's lag).
 * Single node on SQLite by default; `--postgres yes` runs the same comparison with three replicas
 * on one PostgreSQL (streams spread evenly, changes round-robin), after the SQLite one.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/response-time.ts [--streams 10000] [--pace 20] [--changes 200] [--postgres yes] [--cpu-prof DIR]
 *
 * Target: p99 with the streams ≤ 1.2× p99 without, in each mode.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI_KIND, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { Cleanup } from './cleanup.js';
import { jsonPoster, type JsonPoster } from './keep-alive.js';
import { loadAverage, ms, now, option, serverNodeArgs, summary, verdict } from './measure.js';
import { benchPostgres, startReplicas } from './replicas.js';
import { CLIENTS_NICE, STREAM_SERVER_ENV, StreamClients } from './stream-clients.js';

const STREAMS = Number(option('streams', '10000'));
const WITH_POSTGRES = option('postgres', 'no') === 'yes';
/** Blocks per server and mode: enough turns for the ABBA order to even drift out. */
const BLOCKS = 4;
const WARMUP_CHANGES = 20;
const TARGET_RATIO = 1.2;
const DELIVERY_TIMEOUT_MS = 60_000;
const TALLY_EVERY_MS = 20;
const ENVIRONMENT = 'production';
const FLAG = 'response-time';
const STAGES = ['10%', '20%', '30%', '40%', '50%'];
/** How every server is started: quiet logs; profiled with `--cpu-prof DIR`. */
const SERVER = { env: { LOG_LEVEL: 'warn', ...STREAM_SERVER_ENV }, nodeArgs: serverNodeArgs() };

interface Mode {
  name: string;
  /** Changes per server over all its blocks. */
  changes: number;
  /** Between the starts of two changes; undefined: back-to-back. */
  intervalMs: number | undefined;
}

const PACE = Number(option('pace', '20'));
const CHANGES = Number(option('changes', '200'));
const MODES: Mode[] = [
  { name: `paced ${PACE}/s`, changes: CHANGES, intervalMs: 1000 / PACE },
  { name: 'paced 3/s', changes: 90, intervalMs: 1000 / 3 },
  { name: 'back-to-back', changes: CHANGES, intervalMs: undefined },
];

/** One of the two servers (or sets of replicas) compared. */
interface Target {
  name: string;
  servers: ServerProcess[];
  posters: JsonPoster[];
  clients: StreamClients | undefined;
  flagVersion: number;
  step: number;
  /** Per mode: response times (recorded blocks only), and the fan-out's lag after each block. */
  times: Map<Mode, number[]>;
  lags: Map<Mode, number[]>;
}

async function target(name: string, servers: ServerProcess[], streams: number): Promise<Target> {
  const call = api(servers[0]!.url, servers[0]!.adminToken);
  const created = await call<{ version: number }>('POST', '/api/flags', { key: FLAG });
  if (created.status !== 201) throw new Error(`${name}: creating the flag: HTTP ${created.status}`);
  const t: Target = { name, servers, posters: servers.map((server) => jsonPoster(server.url, server.adminToken)), clients: undefined, flagVersion: created.body.version, step: 0, times: new Map(), lags: new Map() };
  if (streams > 0) {
    const sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'bench', environment: ENVIRONMENT })).body.key;
    t.clients = new StreamClients();
    await t.clients.connect(servers.map((server) => server.url), sdkKey, streams);
  }
  return t;
}

/** One stage change, through the next server in turn; resolves with its response time. */
async function change(t: Target): Promise<number> {
  const poster = t.posters[t.step % t.posters.length]!;
  const response = await poster.post(`/api/flags/${FLAG}/environments/${ENVIRONMENT}/stage`, { stage: STAGES[t.step++ % STAGES.length], version: t.flagVersion });
  if (response.status !== 200) throw new Error(`${t.name}: stage change: HTTP ${response.status} ${response.body}`);
  t.flagVersion = (JSON.parse(response.body) as { version: number }).version;
  return response.at - response.sent;
}

/** `count` changes in `mode`; then, with streams, wait until every stream has every change. */
async function block(t: Target, mode: Mode, count: number, record: boolean): Promise<void> {
  const started = now();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    if (mode.intervalMs !== undefined) {
      const due = started + i * mode.intervalMs;
      if (due > now()) await sleep(due - now());
    }
    times.push(await change(t));
  }
  const lastResponse = now();
  if (t.clients) await delivered(t);
  if (!record) return;
  t.times.set(mode, [...(t.times.get(mode) ?? []), ...times]);
  if (t.clients) t.lags.set(mode, [...(t.lags.get(mode) ?? []), now() - lastResponse]);
}

/** Every stream has had every change made since it connected (all of them, here). */
async function delivered(t: Target): Promise<void> {
  const deadline = now() + DELIVERY_TIMEOUT_MS;
  for (;;) {
    const { fewest, most } = await t.clients!.tally();
    if (fewest === t.step && most === t.step) return;
    if (now() > deadline || most > t.step) throw new Error(`${t.name}: streams got between ${fewest} and ${most} of ${t.step} changes`);
    await sleep(TALLY_EVERY_MS);
  }
}

/** Both targets, ABBA block by block, every mode; then the figures. */
async function compare(label: string, withStreams: Target, without: Target): Promise<void> {
  const warmUp: Mode = { name: 'warm-up', changes: WARMUP_CHANGES, intervalMs: undefined };
  for (const t of [withStreams, without]) await block(t, warmUp, WARMUP_CHANGES, false);
  for (const mode of MODES) {
    const size = Math.ceil(mode.changes / BLOCKS);
    for (let b = 0; b * size < mode.changes; b++) {
      const order = b % 2 === 0 ? [withStreams, without] : [without, withStreams];
      for (const t of order) await block(t, mode, Math.min(size, mode.changes - b * size), true);
    }
  }
  console.log(`\n${label}`);
  for (const mode of MODES) {
    const a = summary(withStreams.times.get(mode) ?? []);
    const b = summary(without.times.get(mode) ?? []);
    const lag = summary(withStreams.lags.get(mode) ?? []);
    const ratio = a.p99 / b.p99;
    console.log(`  ${mode.name}, ${a.count} changes each`);
    console.log(`    with ${STREAMS} streams: p50 ${ms(a.p50)}, p99 ${ms(a.p99)}, max ${ms(a.max)}`);
    console.log(`    with no stream:     p50 ${ms(b.p50)}, p99 ${ms(b.p99)}, max ${ms(b.max)}`);
    console.log(`    p99 ratio ${ratio.toFixed(2)}×, p50 ratio ${(a.p50 / b.p50).toFixed(2)}×`);
    console.log(`    every stream had every change of a block ${ms(lag.p50)} (median block), ${ms(lag.max)} (worst) after its last response`);
    verdict(`${label}, ${mode.name}: p99 with streams ≤ ${TARGET_RATIO}× without`, ratio <= TARGET_RATIO);
  }
}

const cleanup = new Cleanup();
const track = (t: Target): Target => {
  cleanup.add(() => {
    t.posters.forEach((poster) => poster.close());
    t.clients?.stop();
  });
  return t;
};

try {
  console.log(`response time: sequential stage changes with ${STREAMS} SDK streams vs none (see the header of test/bench/response-time.ts)`);
  console.log(`${BLOCKS} blocks per server and mode, alternating; lag granularity ${TALLY_EVERY_MS} ms`);
  console.log(`server: ${CLI_KIND}`);
  if (CLIENTS_NICE > 0) console.log(`stream clients at nice ${CLIENTS_NICE} (--clients-nice): as if on other machines`);
  console.log(`load average before: ${loadAverage()}`);

  const servers: ServerProcess[] = [];
  cleanup.add(async () => {
    await Promise.allSettled(servers.map((server) => server.stop()));
    for (const server of servers) removeDataDir(server.dataDir);
  });
  for (let i = 0; i < 2; i++) servers.push(await startServerProcess(SERVER));
  const withStreams = track(await target('sqlite with streams', [servers[0]!], STREAMS));
  const without = track(await target('sqlite without streams', [servers[1]!], 0));
  await compare('one server on SQLite', withStreams, without);
  // Its streams would only add noise to what follows.
  withStreams.clients?.stop();

  if (WITH_POSTGRES) {
    const postgres = await benchPostgres();
    cleanup.add(() => postgres.stop());
    console.log(`\ndatabase for the replicas: ${postgres.description}`);
    const a = await startReplicas('bench_response_streams', 3, SERVER);
    cleanup.add(() => a.stop());
    const b = await startReplicas('bench_response_none', 3, SERVER);
    cleanup.add(() => b.stop());
    await compare('three replicas on PostgreSQL', track(await target('replicas with streams', a.servers, STREAMS)), track(await target('replicas without streams', b.servers, 0)));
  }
  console.log(`\nload average after: ${loadAverage()}`);
} finally {
  await cleanup.run();
}
