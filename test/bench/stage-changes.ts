/**
 * Stage changes per second through the REST API, each one a versioned, audited transaction.
 * Eight concurrent writers, each over its own keep-alive connection, each owning one flag and
 * carrying its version from response to request, like an editor:
 *   (a) sqlite:   one server on SQLite                                       target ≥ 3,000/s
 *   (b) replicas: three replicas on one PostgreSQL, writers round-robin      target ≥ 1,500/s
 *   (c) floor:    the same write path with no HTTP and no replica — FlagsService.setStage called in
 *                 this process on a schema of its own (the same reads, domain rules, statements,
 *                 transaction and feed append; nobody LISTENs) — what the database work alone
 *                 allows on this machine, the reference for (b)
 * All run at once and take turns (`--rounds` × `--seconds` each, alternating, after a 1 s warm-up
 * each), because this VM's figures drift from minute to minute; the median round counts, the
 * spread is printed. Latency is per change, from its request to its response head. Afterwards
 * the audit log must hold exactly one `flag.stage_changed` entry per change made, and no change
 * may have failed.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/stage-changes.ts [--seconds 5] [--rounds 3] [--writers 8] [--only a,b,c] [--cpu-prof DIR]
 */
import { CLI_KIND, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { Cleanup } from './cleanup.js';
import { jsonPoster } from './keep-alive.js';
import { loadAverage, machineCpu, median, ms, now, option, processCpuMs, serverNodeArgs, summary, verdict } from './measure.js';
import { benchPostgres, startReplicas } from './replicas.js';
import { AppError } from '../../server/src/domain/errors.js';
import { bootstrap } from '../../server/src/services/bootstrap.js';
import { EnvironmentsService } from '../../server/src/services/environments.service.js';
import { FlagsService } from '../../server/src/services/flags.service.js';
import { Writes } from '../../server/src/services/write.js';
import { openPostgres } from '../../server/src/store/postgres/database.js';
import { createTestSchema, withClient } from '../../server/src/testing/postgres.js';

const SECONDS = Number(option('seconds', '5'));
const ROUNDS = Number(option('rounds', '3'));
const WRITERS = Number(option('writers', '8'));
/** Which configurations run, by letter: `--only c` profiles the floor alone. */
const ONLY = new Set(option('only', 'a,b,c').split(','));
const REPLICAS = 3;
const ENVIRONMENT = 'production';
const STAGES = ['dogfood', '10%', '25%', '50%', '100%', 'off'];
/** How every server is started: quiet logs; profiled with `--cpu-prof DIR`. */
const SERVER = { env: { LOG_LEVEL: 'warn' }, nodeArgs: serverNodeArgs() };
const AUDIT_PAGE = 200;
/** Unrecorded, before the rounds: JIT and caches warm, so round 1 is not the odd one out. */
const WARMUP_SECONDS = 1;
/** Distinct failure messages kept for the report. */
const FAILURES_SHOWN = 5;

/** What one change came to: the flag's new version, or why it failed. */
type Outcome = { version: number; sent: number; at: number } | { failure: string };

interface Writer {
  flag: string;
  /** Move the flag to `stage` from `version`. */
  change(stage: string, version: number): Promise<Outcome>;
  /** The flag's version as stored now (after a failed change it is unknown). */
  reread(): Promise<number>;
  close(): void;
  version: number;
  step: number;
}

/** One configuration: its servers, its writers, and what they did. */
interface Setup {
  name: string;
  /** Changes per second wanted; none for the floor, which is a reference. */
  target?: number;
  servers: ServerProcess[];
  writers: Writer[];
  /** `flag.stage_changed` entries of the benchmark's flags now in the audit log. */
  audited(): Promise<number>;
  rates: number[];
  latencies: number[];
  /** Changes made, in recorded rounds and in all (warm-up included: the audit log has those too). */
  done: number;
  made: number;
  /** CPU time of its server processes, of this process (the writers) and of the whole machine, over the recorded rounds. */
  serverCpuMs: number;
  writersCpuMs: number;
  machine: { busyMs: number; allMs: number };
  failed: number;
  failures: Set<string>;
}

const flagPath = (flag: string) => `/api/flags/${flag}/environments/${ENVIRONMENT}/stage`;

/** Flags `bench-0…` made on the first server; writer i writes through server i mod n. */
async function setUp(name: string, target: number, servers: ServerProcess[]): Promise<Setup> {
  const call = api(servers[0]!.url, servers[0]!.adminToken);
  const posters = servers.map((server, s) => jsonPoster(server.url, server.adminToken, Math.ceil((WRITERS - s) / servers.length)));
  const writers: Writer[] = [];
  for (let i = 0; i < WRITERS; i++) {
    const flag = `bench-${i}`;
    const created = await call<{ version: number }>('POST', '/api/flags', { key: flag });
    if (created.status !== 201) throw new Error(`${name}: creating ${flag}: HTTP ${created.status}`);
    const poster = posters[i % servers.length]!;
    const server = servers[i % servers.length]!;
    writers.push({
      flag,
      version: created.body.version,
      step: 0,
      async change(stage, version) {
        const response = await poster.post(flagPath(flag), { stage, version });
        const next = response.status === 200 ? (JSON.parse(response.body) as { version?: number }).version : undefined;
        return next === undefined ? { failure: `HTTP ${response.status} ${response.body.slice(0, 200)}` } : { version: next, sent: response.sent, at: response.at };
      },
      async reread() {
        return (await api(server.url, server.adminToken)<{ version: number }>('GET', `/api/flags/${flag}`)).body.version;
      },
      close: () => poster.close(),
    });
  }
  return { ...emptySetup(name, servers, writers), target, audited: () => auditedChanges(servers[0]!) };
}

function emptySetup(name: string, servers: ServerProcess[], writers: Writer[]): Omit<Setup, 'audited' | 'target'> {
  return { name, servers, writers, rates: [], latencies: [], done: 0, made: 0, serverCpuMs: 0, writersCpuMs: 0, machine: { busyMs: 0, allMs: 0 }, failed: 0, failures: new Set() };
}

/**
 * The floor: Switchyard's write path for a stage change (FlagsService.setStage on the server's own
 * repositories, PostgreSQL pool and feed append) called in this process, on a schema of its own,
 * bootstrapped like a first start. No HTTP, no authentication, no replica applying the feed.
 */
async function setUpFloor(name: string): Promise<Setup> {
  const schema = await createTestSchema('bench_stage_floor');
  const db = await openPostgres(schema.url).catch(async (error: unknown) => {
    await schema.drop();
    throw error;
  });
  cleanup.add(async () => {
    await db.close();
    await schema.drop();
  });
  const writes = new Writes(db, Date.now);
  const flags = new FlagsService(writes);
  await bootstrap(writes, new EnvironmentsService(writes));
  const ctx = { actor: 'bench', source: 'api' as const };
  const writers: Writer[] = [];
  for (let i = 0; i < WRITERS; i++) {
    const flag = `bench-${i}`;
    const created = await flags.create({ key: flag, type: 'boolean' }, ctx);
    writers.push({
      flag,
      version: created.value.version,
      step: 0,
      async change(stage, version) {
        const sent = now();
        try {
          const changed = await flags.setStage(flag, ENVIRONMENT, stage, undefined, version, ctx);
          return { version: changed.value.version, sent, at: now() };
        } catch (error) {
          return { failure: error instanceof AppError ? `${error.code}: ${error.message}` : String(error) };
        }
      },
      async reread() {
        return (await flags.get(flag)).value.version;
      },
      close: () => {},
    });
  }
  const audited = () =>
    withClient(schema.url, async (client) => {
      const { rows } = await client.query<{ n: string }>("select count(*) as n from audit_log where action = 'flag.stage_changed' and resource_key like 'bench-%'");
      return Number(rows[0]!.n);
    });
  return { ...emptySetup(name, [], writers), audited };
}

async function round(setup: Setup, seconds: number, record: boolean): Promise<void> {
  const deadline = now() + seconds * 1000;
  let done = 0;
  const run = async (writer: Writer) => {
    while (now() < deadline) {
      const outcome = await writer.change(STAGES[writer.step++ % STAGES.length]!, writer.version);
      if ('failure' in outcome) {
        setup.failed++;
        if (setup.failures.size < FAILURES_SHOWN) setup.failures.add(outcome.failure);
        writer.version = await writer.reread();
        continue;
      }
      writer.version = outcome.version;
      done++;
      if (record) setup.latencies.push(outcome.at - outcome.sent);
    }
  };
  const serversCpu = () => setup.servers.reduce((sum, server) => sum + processCpuMs(server.child.pid!), 0);
  const cpuBefore = serversCpu();
  const ownBefore = process.cpuUsage();
  const machineBefore = machineCpu();
  const started = now();
  await Promise.all(setup.writers.map(run));
  setup.made += done;
  if (!record) return;
  const machineAfter = machineCpu();
  setup.serverCpuMs += serversCpu() - cpuBefore;
  const own = process.cpuUsage(ownBefore);
  setup.writersCpuMs += (own.user + own.system) / 1000;
  setup.machine.busyMs += machineAfter.busyMs - machineBefore.busyMs;
  setup.machine.allMs += machineAfter.allMs - machineBefore.allMs;
  setup.rates.push(done / ((now() - started) / 1000));
  setup.done += done;
}

/** `flag.stage_changed` entries of the benchmark's flags in the audit log, page by page. */
async function auditedChanges(server: ServerProcess): Promise<number> {
  const call = api(server.url, server.adminToken);
  let count = 0;
  let before: number | null = null;
  do {
    const page: { status: number; body: { items: { action: string; resourceKey: string }[]; nextCursor: number | null } } = await call('GET', `/api/audit?resourceType=flag&limit=${AUDIT_PAGE}${before ? `&before=${before}` : ''}`);
    if (page.status !== 200) throw new Error(`reading the audit log: HTTP ${page.status}`);
    for (const entry of page.body.items) if (entry.action === 'flag.stage_changed' && entry.resourceKey.startsWith('bench-')) count++;
    before = page.body.nextCursor;
  } while (before !== null);
  return count;
}

async function report(setup: Setup, floor: Setup | undefined): Promise<void> {
  const audited = await setup.audited();
  const rate = median(setup.rates);
  const latency = summary(setup.latencies);
  const lowest = Math.min(...setup.rates);
  const highest = Math.max(...setup.rates);
  console.log(`\n${setup.name}`);
  console.log(`  rounds: ${setup.rates.map((r) => `${r.toFixed(0)}/s`).join(', ')}`);
  console.log(`  median ${rate.toFixed(0)}/s, spread ${lowest.toFixed(0)}–${highest.toFixed(0)}/s (${(((highest - lowest) / rate) * 100).toFixed(0)}% of the median)`);
  console.log(`  latency p50 ${ms(latency.p50)}, p99 ${ms(latency.p99)}, max ${ms(latency.max)}`);
  const busy = (setup.machine.busyMs / (setup.machine.allMs || 1)) * 100;
  // The machine's busy time over the rounds, less what is known, is PostgreSQL and whatever else ran.
  const perChange = (cpuMs: number) => `${(cpuMs / setup.done).toFixed(2)} ms`;
  const rest = setup.machine.busyMs - setup.serverCpuMs - setup.writersCpuMs;
  const own = setup.servers.length > 0 ? `servers ${perChange(setup.serverCpuMs)}, writers (this process) ${perChange(setup.writersCpuMs)}` : `this process (the write path and its writers) ${perChange(setup.writersCpuMs)}`;
  console.log(`  CPU per change: ${own}, everything else (PostgreSQL, other load) ${perChange(rest)}; machine ${busy.toFixed(0)}% busy (both cores)`);
  const check = audited === setup.made ? ' (one per change)' : ` — ${audited < setup.made ? 'LOST' : 'EXTRA'} ${Math.abs(audited - setup.made)}`;
  console.log(`  ${setup.done} changes in the rounds (${setup.made} with the warm-up), ${setup.failed} failed; audit log: ${audited} flag.stage_changed entries${check}`);
  for (const failure of setup.failures) console.log(`    failure: ${failure}`);
  if (floor && setup !== floor && setup.servers.length > 1) console.log(`  ${(rate / median(floor.rates)).toFixed(2)}× the floor (c) of the same run`);
  if (setup.target !== undefined) verdict(`target ≥ ${setup.target}/s (median round)`, rate >= setup.target);
  verdict('no failed change, one audit entry per change', setup.failed === 0 && audited === setup.made);
}

const cleanup = new Cleanup();

try {
  console.log(`stage changes: ${WRITERS} writers, ${ROUNDS} rounds × ${SECONDS} s per configuration, alternating`);
  console.log(`server: ${CLI_KIND}`);
  console.log(`load average before: ${loadAverage()}`);
  const postgres = await benchPostgres();
  cleanup.add(() => postgres.stop());
  console.log(`database for the replicas: ${postgres.description}`);

  const setups: Setup[] = [];
  if (ONLY.has('a')) {
    const sqliteServer = await startServerProcess(SERVER);
    cleanup.add(() => sqliteServer.stop().then(() => removeDataDir(sqliteServer.dataDir)));
    setups.push(await setUp('(a) one server on SQLite', 3000, [sqliteServer]));
  }
  if (ONLY.has('b')) {
    const replicas = await startReplicas('bench_stage_changes', REPLICAS, SERVER);
    cleanup.add(() => replicas.stop());
    setups.push(await setUp(`(b) ${REPLICAS} replicas on one PostgreSQL`, 1500, replicas.servers));
  }
  const floor = ONLY.has('c') ? await setUpFloor('(c) floor: the same write path in this process, no HTTP, no replica (FlagsService.setStage on PostgreSQL)') : undefined;
  if (floor) setups.push(floor);
  for (const setup of setups) cleanup.add(() => setup.writers.forEach((writer) => writer.close()));

  for (const setup of setups) await round(setup, WARMUP_SECONDS, false);
  for (let r = 0; r < ROUNDS; r++) {
    for (const setup of setups) await round(setup, SECONDS, true);
    console.log(`round ${r + 1}: ${setups.map((setup) => `${setup.name.split(' ')[0]} ${setup.rates.at(-1)!.toFixed(0)}/s`).join(', ')}`);
  }
  for (const setup of setups) await report(setup, floor);
  const floorRate = floor ? median(floor.rates) : Number.POSITIVE_INFINITY;
  if (floorRate < 1500) console.log(`\nThe floor (c) — the database work alone, driven from one process — reached ${floorRate.toFixed(0)}/s: no arrangement of replicas adding HTTP on top can reach 1500/s on this machine.`);
  console.log(`\nload average after: ${loadAverage()}`);
} finally {
  await cleanup.run();
}
