/**
 * `pnpm demo`: guarded canary rollouts, live.
 *
 * Starts the real server (embedded SQLite in a temporary directory), then a simulated application
 * that uses the real SDK with a few thousand virtual users, and runs two guarded release plans side
 * by side with second-long steps:
 *   - checkout-v2 fails as often as v1 (1%): it advances 1% → 10% → 50% → 100%;
 *   - search-v2 fails 5× more often (5% vs 1%): the guard rolls it back to dogfood by itself.
 * It narrates what happens, then leaves the server running for the dashboard. Ctrl-C stops it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Relative: the workspace root has no dependency on the SDK package; this is the same source.
import { createClient } from '../sdk/src/node.js';
import { DEFAULT_CONFIG } from '../server/src/config.js';
import { startServer } from '../server/src/main.js';

const USERS = 3000;
const REQUESTS_PER_TICK = 40;
const TICK_MS = 20; // ≈ 2 000 requests a second
const SECOND = 1000;
const SCENARIOS = [
  { flag: 'checkout-v2', event: 'checkout_error', v1: 0.01, v2: 0.01, story: 'healthy: v2 fails as often as v1 (1%)' },
  { flag: 'search-v2', event: 'search_error', v1: 0.01, v2: 0.05, story: 'broken: v2 fails 5× more often (5% vs 1%)' },
] as const;
const STEPS = [
  { percentage: 1, minDurationMs: 5 * SECOND, minExposures: 150 },
  { percentage: 10, minDurationMs: 5 * SECOND, minExposures: 400 },
  { percentage: 50, minDurationMs: 5 * SECOND, minExposures: 1000 },
  { percentage: 100, minDurationMs: 0, minExposures: 0 },
];

const say = (text: string) => process.stdout.write(`${text}\n`);
const clockTime = () => new Date().toISOString().slice(11, 19);

const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
const adminToken = `sy_demo_${randomBytes(18).toString('hex')}`;
const port = Number(process.env.PORT ?? 4242);
const server = await startServer({ ...DEFAULT_CONFIG, port, dataDir, adminToken, logLevel: 'warn' }).catch(() =>
  startServer({ ...DEFAULT_CONFIG, port: 0, dataDir, adminToken, logLevel: 'warn' }),
);

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

say('\n— Switchyard guarded-rollout demo —\n');
const { key: sdkKey } = await api<{ key: string }>('POST', '/api/sdk-keys', { name: 'demo app', environment: 'production' });
for (const s of SCENARIOS) {
  await api('POST', '/api/flags', { key: s.flag, name: s.flag, description: `Demo: ${s.story}` });
  await api('PUT', `/api/flags/${s.flag}/environments/production/release-plan`, {
    strategy: 'guarded',
    steps: STEPS,
    guard: { errorEvent: s.event, minExposures: 150, maxSilenceMs: 30 * SECOND },
  });
  say(`Flag ${s.flag}: ${s.story}. Plan: ${STEPS.map((p) => `${p.percentage}%`).join(' → ')}, ≥ 5 s per step.`);
}

// The simulated application: the real SDK, evaluating locally, reporting errors with track().
const client = createClient({ url: server.url, sdkKey, flushIntervalMs: 1000, logger: { debug() {}, info() {}, warn() {}, error() {} } });
await client.ready({ timeoutMs: 10_000 });
const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);
let requests = 0;
const traffic = setInterval(() => {
  for (let i = 0; i < REQUESTS_PER_TICK; i++) {
    const user = users[Math.floor(Math.random() * USERS)]!;
    requests++;
    for (const s of SCENARIOS) {
      const v2 = client.isEnabled(s.flag, user);
      if (Math.random() < (v2 ? s.v2 : s.v1)) client.track(s.event, user);
    }
  }
}, TICK_MS);
say(`\nSimulated app: ${USERS} virtual users, ~${Math.round((REQUESTS_PER_TICK * 1000) / TICK_MS)} requests/s, the real SDK flushing metrics every second.\n`);

for (const s of SCENARIOS) await api('POST', `/api/flags/${s.flag}/environments/production/release-plan/start`);

// Narrate the decision log until both plans are done.
interface View {
  plan: { status: string } | null;
  events: { id: number; kind: string; actor: string; message: string }[];
}
const seen = new Set<number>();
const finished = new Map<string, string>();
const deadline = Date.now() + 5 * 60 * SECOND;
while (finished.size < SCENARIOS.length && Date.now() < deadline) {
  for (const s of SCENARIOS) {
    const view = await api<View>('GET', `/api/flags/${s.flag}/environments/production/release-plan`);
    for (const e of [...view.events].reverse()) {
      if (seen.has(e.id) || e.kind === 'created') continue;
      seen.add(e.id);
      say(`${clockTime()}  ${s.flag.padEnd(12)} ${e.kind.replace('_', ' ').padEnd(12)} ${e.actor}: ${e.message}`);
    }
    const status = view.plan?.status ?? 'none';
    if (['completed', 'rolled_back', 'aborted'].includes(status)) finished.set(s.flag, status);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
}

say('');
for (const s of SCENARIOS) {
  const status = finished.get(s.flag) ?? 'still running';
  const expected = s.v2 > s.v1 ? 'rolled_back' : 'completed';
  say(`${s.flag}: ${status.replace('_', ' ')}${status === expected ? ' — as it should.' : ` — expected ${expected.replace('_', ' ')}.`}`);
}
say(`\n${requests.toLocaleString('en')} requests simulated. The server and the app keep running so you can look around.`);
say(`\n  Dashboard:   ${server.url}/flags/search-v2   (then checkout-v2; environment: Production)`);
say(`  Admin token: ${adminToken}`);
say(`  Data:        ${dataDir} (deleted on exit)\n\nPress Ctrl-C to stop.`);

const stop = async () => {
  clearInterval(traffic);
  await client.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
if (process.env.SWITCHYARD_DEMO_EXIT === '1') await stop();
