/**
 * Propagation: how long a stage change takes to reach every streaming SDK client.
 *
 * For each client count, against the real server process: N raw SSE connections held by a separate
 * child process (the open-files limit is per process), then 50 stage changes via REST; for each,
 * the time from the REST response to the patch's arrival at every client. The same is measured
 * against a bare node:http SSE server writing the same payload to the same number of sockets (the
 * floor), and the server's RSS growth per connection is read from /proc/<pid>/status.
 * Timestamps on both sides are `performance.timeOrigin + performance.now()`.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/propagation.ts [--clients 1000,5000,10000] [--changes 50] [--heartbeat-ms 15000]
 *
 * Three busy processes share the machine (server, clients, this one): figures are only meaningful
 * on an otherwise idle machine, so the load average is printed before and after.
 *
 * Targets: p99 ≤ 50 ms at 1,000 clients, ≤ 1.5× the bare broadcast, ≤ 15 KB per connection.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { api, NODE_SOURCE_ARGS, removeDataDir, startServerProcess } from '../support/server-process.js';
import type { ClientCommand, ClientReply } from './propagation-clients.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const COUNTS = option('clients', '1000,5000,10000').split(',').map(Number);
const CHANGES = Number(option('changes', '50'));
/** The server's heartbeat period (default: the server's own, 15 s). */
const HEARTBEAT_MS = option('heartbeat-ms', '');
const WARMUP_CHANGES = 5;
const WARMUP_CLIENTS = 20;
const COLLECT_TIMEOUT_MS = 15_000;
const ENVIRONMENT = 'development';
const STAGES = ['10%', '20%', '30%', '40%', '50%'];
const FLAG = 'propagation';

const now = (): number => performance.timeOrigin + performance.now();
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** POST JSON; resolves when the response head arrives (`at`), with the body once read. */
function post(url: string, path: string, body: unknown, token?: string): Promise<{ sent: number; at: number; status: number; body: string }> {
  const payload = JSON.stringify(body);
  const { hostname, port } = new URL(url);
  const sent = now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request({ hostname, port, path, method: 'POST', agent, headers }, (res) => {
      const at = now();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ sent, at, status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The clients child process, driven by one request at a time. */
class Clients {
  private readonly child: ChildProcess;
  private pending: ((reply: ClientReply) => void) | undefined;

  constructor() {
    this.child = fork(fileURLToPath(new URL('./propagation-clients.ts', import.meta.url)), [], { execArgv: NODE_SOURCE_ARGS });
    this.child.on('message', (reply: ClientReply) => this.pending?.(reply));
  }

  run<T extends ClientReply['type']>(command: ClientCommand): Promise<Extract<ClientReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.pending = (reply) => {
        this.pending = undefined;
        if (reply.type === 'error') reject(new Error(reply.message));
        else resolve(reply as Extract<ClientReply, { type: T }>);
      };
      this.child.send(command);
    });
  }

  stop(): void {
    this.child.disconnect();
  }
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** One side of the comparison: a server, the child process holding its streams, and its figures. */
interface Target {
  name: string;
  url: string;
  sdkKey: string;
  clients: Clients;
  /** Make one change; resolves with when the request was sent, when its response came, and the version. */
  trigger(): Promise<{ sent: number; at: number; version: number }>;
  /** Latencies from the REST response, and from the REST request, per delivery. */
  fromResponse: number[];
  fromRequest: number[];
  /** Per change: the latency of the last client to get it. */
  lasts: number[];
  missing: number;
  /** The data line of the last patch the first client received. */
  patchData: string;
}

function target(name: string, url: string, sdkKey: string, clients: Clients, trigger: Target['trigger']): Target {
  return { name, url, sdkKey, clients, trigger, fromResponse: [], fromRequest: [], lasts: [], missing: 0, patchData: '{}' };
}

/** One change on `t`, waited for at every client; recorded unless it is a warm-up. */
async function change(t: Target, record: boolean): Promise<void> {
  const { sent, at, version } = await t.trigger();
  const reply = await t.clients.run<'collected'>({ type: 'collect', version, since: at, timeoutMs: COLLECT_TIMEOUT_MS });
  t.patchData = reply.patchData ?? t.patchData;
  if (!record) return;
  t.missing += reply.missing;
  let last = Number.NEGATIVE_INFINITY;
  for (const latency of reply.latencies) {
    t.fromResponse.push(latency);
    t.fromRequest.push(latency + at - sent);
    if (latency > last) last = latency;
  }
  t.lasts.push(last);
}

async function open(t: Target, count: number): Promise<void> {
  const connected = await t.clients.run<'connected'>({ type: 'connect', url: t.url, path: '/api/sdk/stream', sdkKey: t.sdkKey, count });
  if (connected.count !== count) throw new Error(`${t.name}: only ${connected.count} of ${count} streams opened (${connected.failed} failed)`);
}

async function startBare(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [...NODE_SOURCE_ARGS, fileURLToPath(new URL('./propagation-bare.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
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

/**
 * Both servers hold `count` streams at once (each from its own client process) and changes
 * alternate between them, so background noise and drift hit both sides alike.
 */
async function compare(count: number, clients: { switchyard: Clients; bare: Clients }): Promise<{ switchyard: Target; bare: Target; bytesPerConnection: number }> {
  const server = await startServerProcess({ env: { LOG_LEVEL: 'warn', ...(HEARTBEAT_MS ? { SWITCHYARD_HEARTBEAT_MS: HEARTBEAT_MS } : {}) } });
  const floor = await startBare();
  try {
    const call = api(server.url, server.adminToken);
    const created = await call<{ version: number }>('POST', '/api/flags', { key: FLAG, name: 'Propagation benchmark' });
    let flagVersion = created.body.version;
    const sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'bench', environment: ENVIRONMENT })).body.key;
    const rules = await fetch(`${server.url}/api/sdk/rules`, { headers: { authorization: `Bearer ${sdkKey}` } });
    let version = ((await rules.json()) as { version: number }).version;
    let stage = 0;
    const switchyard = target('switchyard', server.url, sdkKey, clients.switchyard, async () => {
      const path = `/api/flags/${FLAG}/environments/${ENVIRONMENT}/stage`;
      const response = await post(server.url, path, { stage: STAGES[stage++ % STAGES.length], version: flagVersion }, server.adminToken);
      if (response.status !== 200) throw new Error(`stage change: HTTP ${response.status} ${response.body}`);
      flagVersion = (JSON.parse(response.body) as { version: number }).version;
      return { sent: response.sent, at: response.at, version: ++version };
    });
    let bareVersion = 0;
    const bare = target('bare', floor.url, 'none', clients.bare, async () => {
      const v = ++bareVersion;
      // The very payload Switchyard sent, with this version.
      const data = switchyard.patchData.replace(/^\{"version":\d+/, `{"version":${v}`);
      const response = await post(floor.url, '/broadcast', { version: v, data });
      return { sent: response.sent, at: response.at, version: v };
    });

    // Warm both servers' code paths up (and learn the payload) before the memory baseline.
    for (const t of [switchyard, bare]) {
      await open(t, WARMUP_CLIENTS);
      for (let i = 0; i < WARMUP_CHANGES; i++) await change(t, false);
      await t.clients.run({ type: 'close' });
    }

    const before = rssKb(server.child.pid!);
    await open(switchyard, count);
    const after = rssKb(server.child.pid!);
    await open(bare, count);
    for (let i = 0; i < WARMUP_CHANGES + CHANGES; i++) {
      await change(switchyard, i >= WARMUP_CHANGES);
      await change(bare, i >= WARMUP_CHANGES);
    }
    await switchyard.clients.run({ type: 'close' });
    await bare.clients.run({ type: 'close' });
    return { switchyard, bare, bytesPerConnection: ((after - before) * 1024) / count };
  } finally {
    floor.child.kill('SIGTERM');
    await server.stop();
    removeDataDir(server.dataDir);
  }
}

function summary(values: number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;

const clients = { switchyard: new Clients(), bare: new Clients() };
try {
  console.log(`propagation: ${CHANGES} stage changes per client count; time until the patch is at each client, p50 / p99 over all deliveries`);
  console.log('(from the REST response — negative when the patch beats the response — and from the REST request)');
  console.log(`load average before: ${loadavg().map((n) => n.toFixed(2)).join(' ')}\n`);
  for (const count of COUNTS) {
    const { switchyard, bare, bytesPerConnection } = await compare(count, clients);
    const sy = { response: summary(switchyard.fromResponse), request: summary(switchyard.fromRequest), last: summary(switchyard.lasts) };
    const floor = { response: summary(bare.fromResponse), request: summary(bare.fromRequest), last: summary(bare.lasts) };
    console.log(
      `${String(count).padStart(6)} clients\n` +
        `  from REST response: switchyard p50 ${ms(sy.response.p50)}, p99 ${ms(sy.response.p99)}  |  bare p50 ${ms(floor.response.p50)}, p99 ${ms(floor.response.p99)}  |  p99 ratio ${(sy.response.p99 / floor.response.p99).toFixed(2)}×\n` +
        `  from REST request:  switchyard p50 ${ms(sy.request.p50)}, p99 ${ms(sy.request.p99)}  |  bare p50 ${ms(floor.request.p50)}, p99 ${ms(floor.request.p99)}  |  p99 ratio ${(sy.request.p99 / floor.request.p99).toFixed(2)}×\n` +
        `  last client of each change (from response): switchyard p50 ${ms(sy.last.p50)}, p99 ${ms(sy.last.p99)}  |  bare p50 ${ms(floor.last.p50)}, p99 ${ms(floor.last.p99)}\n` +
        `  server memory ${(bytesPerConnection / 1024).toFixed(1)} KB per connection (VmRSS delta / ${count})` +
        (switchyard.missing + bare.missing > 0 ? `\n  MISSING deliveries: switchyard ${switchyard.missing}, bare ${bare.missing}` : ''),
    );
  }
  console.log(`\nload average after: ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
  console.log('targets: p99 ≤ 50 ms at 1,000 clients, ≤ 1.5× the bare broadcast, ≤ 15 KB per connection');
} finally {
  clients.switchyard.stop();
  clients.bare.stop();
  agent.destroy();
}
