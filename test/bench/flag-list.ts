/**
 * The dashboard's flag list at scale: bytes on the wire and response time of the full list
 * (`GET /api/flags`) against the summaries (`GET /api/flag-summaries`, all environments and one),
 * and of one row's summary (what a live event re-reads), at 500 and 5,000 flags × 3 environments.
 *
 * The real server (built when `pnpm build` is fresh, else the sources) on SQLite; the flags are
 * applied as flags-as-code documents of 1,000 flags (the larger size adds to the smaller): realistic
 * names, descriptions, tags and owners, stages spread over off, dogfood, N%, 100% and kill, and
 * every tenth flag with hand-made targeting (targets and a rule) in production. Each request is sent
 * over one keep-alive connection, 2 warm-ups then `--runs` timed ones; time is until the last
 * byte. Sizes are the bytes of the body as sent, without compression and with gzip and brotli.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/flag-list.ts [--flags 500,5000] [--runs 10]
 *
 * Targets, at 5,000 flags: the summary list compressed with brotli is under a tenth of the
 * full list's bytes and answers at least 3× faster (median; both mostly read every flag, so the
 * ratio holds on a busy machine where the absolute times do not); one row's summary is under 1 KB.
 */
import { Agent, request } from 'node:http';
import { CLI_KIND, api, removeDataDir, startServerProcess } from '../support/server-process.js';
import { Cleanup } from './cleanup.js';
import { loadAverage, median, ms, now, option, verdict } from './measure.js';

const SIZES = option('flags', '500,5000').split(',').map(Number);
const RUNS = Number(option('runs', '10'));
const WARMUPS = 2;
const STAGES = ['off', 'dogfood', '10%', '50%', '100%', 'kill', '0.5%'];
const TEAMS = ['payments', 'search', 'growth', 'platform', 'mobile', 'checkout', 'identity', 'ads'];
const WORDS = ['new', 'checkout', 'flow', 'redesign', 'pricing', 'banner', 'recommendations', 'cache', 'beta', 'search', 'ranking', 'onboarding', 'dark', 'mode', 'export'];
const TARGET = { bytesRatio: 10, speedup: 3, rowBytes: 1024 };

const flagKey = (i: number) => `flag-${String(i).padStart(5, '0')}`;
const words = (i: number, n: number) => Array.from({ length: n }, (_, j) => WORDS[(i * 7 + j * 3) % WORDS.length]).join(' ');

/** Flags per applied document: a document may be at most 2 MiB. */
const CHUNK = 1000;

/** A flags-as-code document with flags from..to-1 (JSON is YAML). */
function document(from: number, to: number): string {
  const flags: Record<string, unknown> = {};
  for (let i = from; i < to; i++) {
    const team = TEAMS[i % TEAMS.length]!;
    const production =
      i % 10 === 0
        ? {
            on: true,
            offVariation: 'off',
            targets: [{ variation: 'on', values: ['qa-1', 'qa-2', `owner-${team}`] }],
            rules: [{ id: 'beta-testers', clauses: [{ attribute: 'plan', operator: 'in', values: ['beta', 'enterprise'] }], serve: { variation: 'on' } }],
            defaultServe: { variation: 'off' },
            salt: flagKey(i),
            bucketBy: 'userId',
          }
        : { stage: STAGES[(i + 2) % STAGES.length] };
    flags[flagKey(i)] = {
      name: `${words(i, 3)} ${i}`.replace(/^./, (c) => c.toUpperCase()),
      description: `Rolls out the ${words(i, 6)} work for the ${team} team. Remove once at 100% everywhere for two weeks (ticket ${team.toUpperCase()}-${1000 + i}).`,
      tags: [team, ...(i % 3 === 0 ? ['experiment'] : []), ...(i % 5 === 0 ? ['q3-launch'] : [])],
      owner: `${team}@example.com`,
      environments: { development: { stage: '100%' }, staging: { stage: STAGES[i % STAGES.length] }, production },
    };
  }
  return JSON.stringify({ environments: { development: { name: 'Development' }, staging: { name: 'Staging' }, production: { name: 'Production', critical: true } }, flags });
}

interface Fetched {
  ms: number;
  status: number;
  bytes: number;
  encoding: string | undefined;
}

/** GET over one keep-alive connection; the time runs until the last byte. */
function getter(base: string, token: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(base);
  const get = (path: string, acceptEncoding: string | undefined): Promise<Fetched> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (acceptEncoding) headers['accept-encoding'] = acceptEncoding;
      const started = now();
      const req = request({ hostname, port, path, agent, headers }, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ ms: now() - started, status: res.statusCode ?? 0, bytes, encoding: res.headers['content-encoding'] }));
      });
      req.on('error', reject);
      req.end();
    });
  return { get, close: () => agent.destroy() };
}

interface Row {
  label: string;
  identity: number;
  gzip: number;
  br: number;
  /** Median time with brotli (or without compression, when the route sends none). */
  medianMs: number;
  maxMs: number;
}

const cleanup = new Cleanup();
try {
  const server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
  cleanup.add(() => removeDataDir(server.dataDir));
  cleanup.add(() => server.stop());
  const call = api(server.url, server.adminToken);
  const http = getter(server.url, server.adminToken);
  cleanup.add(() => http.close());

  console.log(`Flag list, server ${CLI_KIND}, SQLite, ${RUNS} timed requests each (load ${loadAverage()}):`);
  const results = new Map<number, Row[]>();
  let seeded = 0;
  for (const count of SIZES) {
    // One file per chunk: a file applied again without a flag it applied before would delete it.
    for (; seeded < count; seeded = Math.min(count, seeded + CHUNK)) {
      const to = Math.min(count, seeded + CHUNK);
      const applied = await call<{ applied: boolean }>('POST', '/api/gitops/apply', { document: document(seeded, to), filename: `bench-${seeded}.json` });
      if (applied.status !== 200 || !applied.body.applied) throw new Error(`seeding flags ${seeded}..${to - 1}: HTTP ${applied.status} ${JSON.stringify(applied.body).slice(0, 300)}`);
    }

    const measure = async (label: string, path: string): Promise<Row> => {
      const sizes: Record<string, number> = {};
      for (const accept of ['identity', 'gzip', 'br']) {
        const res = await http.get(path, accept);
        if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
        sizes[accept] = res.bytes;
      }
      for (let i = 0; i < WARMUPS; i++) await http.get(path, 'gzip, deflate, br');
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) times.push((await http.get(path, 'gzip, deflate, br')).ms);
      return { label, identity: sizes.identity!, gzip: sizes.gzip!, br: sizes.br!, medianMs: median(times), maxMs: Math.max(...times) };
    };
    const rows = [
      await measure('GET /api/flags (full flags)', '/api/flags'),
      await measure('GET /api/flag-summaries', '/api/flag-summaries'),
      await measure('GET /api/flag-summaries?environment=production', '/api/flag-summaries?environment=production'),
      await measure('GET /api/flag-summaries/{key} (one row)', `/api/flag-summaries/${flagKey(Math.floor(count / 2))}`),
    ];
    results.set(count, rows);

    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`.padStart(10);
    console.log(`\n  ${count} flags × 3 environments${' '.repeat(30)}identity       gzip     brotli   median      max`);
    for (const r of rows) console.log(`  ${r.label.padEnd(56)}${kb(r.identity)} ${kb(r.gzip)} ${kb(r.br)} ${ms(r.medianMs).padStart(8)} ${ms(r.maxMs).padStart(8)}`);
  }

  const largest = results.get(Math.max(...SIZES));
  if (largest) {
    const [full, summaries, , row] = largest as [Row, Row, Row, Row];
    console.log(`\n  at ${Math.max(...SIZES)} flags:`);
    verdict(`summaries with brotli (${(summaries.br / 1024).toFixed(0)} KB) under 1/${TARGET.bytesRatio} of the full list (${(full.identity / 1024).toFixed(0)} KB)`, summaries.br * TARGET.bytesRatio < full.identity);
    verdict(`summaries median ${ms(summaries.medianMs)} at least ${TARGET.speedup}× faster than the full list's ${ms(full.medianMs)}`, summaries.medianMs * TARGET.speedup <= full.medianMs);
    verdict(`one row's summary ${row.identity} B < ${TARGET.rowBytes} B`, row.identity < TARGET.rowBytes);
  }
} finally {
  await cleanup.run();
}
