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
 *   node --conditions=switchyard-source --import tsx test/bench/propagation.ts [--clients 1000,5000,10000] [--changes 50]
 *
 * Targets: p99 ≤ 50 ms at 1,000 clients, ≤ 1.5× the bare broadcast, ≤ 15 KB per connection.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
const WARMUP_CHANGES = 5;
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

interface Run {
  p50: number;
  p99: number;
  /** p99 over changes of the time until the last client had it. */
  lastP99: number;
  /** The same deliveries timed from when the REST request was sent (end to end, write included). */
  sentP50: number;
  sentP99: number;
  missing: number;
  /** The data line of the last patch client 0 received. */
  patchData: string;
}

/** Trigger `changes` broadcasts and collect each one's arrival at every client. */
async function measure(clients: Clients, changes: number, trigger: (i: number) => Promise<{ sent: number; at: number; version: number }>): Promise<Run> {
  const all: number[] = [];
  const fromSent: number[] = [];
  const lasts: number[] = [];
  let missing = 0;
  let patchData = '{}';
  for (let i = 0; i < WARMUP_CHANGES + changes; i++) {
    const { sent, at, version } = await trigger(i);
    const reply = await clients.run<'collected'>({ type: 'collect', version, since: at, timeoutMs: COLLECT_TIMEOUT_MS });
    patchData = reply.patchData ?? patchData;
    if (i < WARMUP_CHANGES) continue;
    missing += reply.missing;
    all.push(...reply.latencies);
    for (const latency of reply.latencies) fromSent.push(latency + at - sent);
    lasts.push(Math.max(...reply.latencies));
  }
  all.sort((a, b) => a - b);
  lasts.sort((a, b) => a - b);
  fromSent.sort((a, b) => a - b);
  return { p50: percentile(all, 50), p99: percentile(all, 99), lastP99: percentile(lasts, 99), sentP50: percentile(fromSent, 50), sentP99: percentile(fromSent, 99), missing, patchData };
}

async function switchyard(clients: Clients, count: number): Promise<{ run: Run; bytesPerConnection: number }> {
  const server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
  try {
    const call = api(server.url, server.adminToken);
    const created = await call<{ version: number }>('POST', '/api/flags', { key: FLAG, name: 'Propagation benchmark' });
    let flagVersion = created.body.version;
    const sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'bench', environment: ENVIRONMENT })).body.key;
    const rules = await fetch(`${server.url}/api/sdk/rules`, { headers: { authorization: `Bearer ${sdkKey}` } });
    let version = ((await rules.json()) as { version: number }).version;

    const trigger = async (i: number) => {
      const response = await post(server.url, `/api/flags/${FLAG}/environments/${ENVIRONMENT}/stage`, { stage: STAGES[i % STAGES.length], version: flagVersion }, server.adminToken);
      if (response.status !== 200) throw new Error(`stage change: HTTP ${response.status} ${response.body}`);
      flagVersion = (JSON.parse(response.body) as { version: number }).version;
      return { sent: response.sent, at: response.at, version: ++version };
    };

    // Warm the stream route and the change path up before taking the memory baseline.
    await clients.run({ type: 'connect', url: server.url, path: '/api/sdk/stream', sdkKey, count: 20 });
    await measure(clients, 5, trigger);
    await clients.run({ type: 'close' });

    const before = rssKb(server.child.pid!);
    const connected = await clients.run<'connected'>({ type: 'connect', url: server.url, path: '/api/sdk/stream', sdkKey, count });
    const after = rssKb(server.child.pid!);
    if (connected.count !== count) throw new Error(`only ${connected.count} of ${count} streams opened (${connected.failed} failed)`);
    const run = await measure(clients, CHANGES, trigger);
    await clients.run({ type: 'close' });
    return { run, bytesPerConnection: ((after - before) * 1024) / count };
  } finally {
    await server.stop();
    removeDataDir(server.dataDir);
  }
}

async function bare(clients: Clients, count: number, patchData: string): Promise<Run> {
  const child = spawn(process.execPath, [...NODE_SOURCE_ARGS, fileURLToPath(new URL('./propagation-bare.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /bare listening at (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
    });
    const trigger = async (i: number) => {
      const version = i + 1;
      const response = await post(url, '/broadcast', { version, data: patchData.replace(/^\{"version":\d+/, `{"version":${version}`) });
      return { sent: response.sent, at: response.at, version };
    };
    await clients.run({ type: 'connect', url, path: '/api/sdk/stream', sdkKey: 'none', count: 20 });
    await measure(clients, 5, trigger);
    await clients.run({ type: 'close' });
    const connected = await clients.run<'connected'>({ type: 'connect', url, path: '/api/sdk/stream', sdkKey: 'none', count });
    if (connected.count !== count) throw new Error(`only ${connected.count} of ${count} bare streams opened`);
    const run = await measure(clients, CHANGES, trigger);
    await clients.run({ type: 'close' });
    return run;
  } finally {
    child.kill('SIGTERM');
  }
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;

const clients = new Clients();
try {
  console.log(`propagation: ${CHANGES} stage changes per client count, time to the patch at every client (p50 / p99 over all deliveries; negative = the patch beat the REST response)\n`);
  for (const count of COUNTS) {
    const sy = await switchyard(clients, count);
    const floor = await bare(clients, count, sy.run.patchData);
    console.log(
      `${String(count).padStart(6)} clients\n` +
        `  from REST response: switchyard p50 ${ms(sy.run.p50)}, p99 ${ms(sy.run.p99)} (last client, p99 of changes: ${ms(sy.run.lastP99)})` +
        `  |  bare p50 ${ms(floor.p50)}, p99 ${ms(floor.p99)}  |  p99 ratio ${(sy.run.p99 / floor.p99).toFixed(2)}×\n` +
        `  from REST request:  switchyard p50 ${ms(sy.run.sentP50)}, p99 ${ms(sy.run.sentP99)}  |  bare p50 ${ms(floor.sentP50)}, p99 ${ms(floor.sentP99)}  |  p99 ratio ${(sy.run.sentP99 / floor.sentP99).toFixed(2)}×\n` +
        `  server memory ${(sy.bytesPerConnection / 1024).toFixed(1)} KB per connection (VmRSS delta / ${count})` +
        (sy.run.missing + floor.missing > 0 ? `\n  MISSING deliveries: switchyard ${sy.run.missing}, bare ${floor.missing}` : ''),
    );
  }
  console.log('\ntargets: p99 ≤ 50 ms at 1,000 clients, ≤ 1.5× the bare broadcast, ≤ 15 KB per connection');
} finally {
  clients.stop();
  agent.destroy();
}
