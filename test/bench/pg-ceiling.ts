/**
 * What PostgreSQL alone can commit on this machine, with no Switchyard process at all: pgbench (a C
 * client) runs 8 clients of three transactions on the database the cluster benchmarks use, each in
 * a schema of its own:
 *   - separate rows:  BEGIN; UPDATE one row of eight (one per client); COMMIT;
 *   - one shared row: BEGIN; UPDATE the one row; COMMIT; — the feed head: positions handed out in
 *                     commit order, gap-free, mean every commit holds that row until it is durable;
 *   - a stage change: the statements Switchyard sends for one (read and update the flag's row, one
 *                     audit row, then the feed append: head, entry, environment version, NOTIFY).
 * The third is the database's ceiling for stage changes here; `stage-changes` measures how close
 * the write path (its floor, c) and three replicas (b) come to it.
 *
 *   node --conditions=switchyard-source --import tsx test/bench/pg-ceiling.ts [--seconds 8] [--clients 8]
 *
 * Needs `pgbench` (Debian: postgresql-client) on PATH.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestSchema, withClient } from '../../server/src/testing/postgres.js';
import { loadAverage, machineCpu, option } from './measure.js';
import { benchPostgres } from './replicas.js';

const SECONDS = Number(option('seconds', '8'));
const CLIENTS = Number(option('clients', '8'));
if (!(SECONDS >= 1 && Number.isInteger(SECONDS))) throw new Error(`--seconds: expected a whole number of seconds >= 1, got ${option('seconds', '8')}`);
if (!(CLIENTS >= 1 && Number.isInteger(CLIENTS))) throw new Error(`--clients: expected a whole number >= 1, got ${option('clients', '8')}`);
/** pgbench's threads: two (the cores here), never more than its clients. */
const THREADS = Math.min(2, CLIENTS);
/** Sizes of the audit entry and the feed entry of one stage change, roughly as stored. */
const AUDIT_BYTES = 600;
const ENTRY_BYTES = 800;

const SETUP = `
  create table head (id int primary key, seq bigint not null);
  insert into head values (1, 0);
  create table flags (id int primary key, version bigint not null);
  insert into flags select g, 0 from generate_series(1, ${CLIENTS}) g;
  create table audit (id bigserial primary key, at bigint not null, actor text not null, action text not null, environment text, body text not null);
  create index on audit (at);
  create index on audit (action, at);
  create table feed (seq bigint primary key, at bigint not null, entry text not null);
  create table environments (key text primary key, version bigint not null);
  insert into environments values ('production', 0);
`;

const SCRIPTS: Record<string, string> = {
  'separate rows': `BEGIN;
UPDATE flags SET version = version + 1 WHERE id = :client_id + 1;
COMMIT;
`,
  'one shared row': `BEGIN;
UPDATE head SET seq = seq + 1 WHERE id = 1;
COMMIT;
`,
  'a stage change': `BEGIN;
SELECT version FROM flags WHERE id = :client_id + 1;
UPDATE flags SET version = version + 1 WHERE id = :client_id + 1;
INSERT INTO audit (at, actor, action, environment, body) VALUES (1, 'bench', 'flag.stage_changed', 'production', repeat('x', ${AUDIT_BYTES}));
WITH h AS (UPDATE head SET seq = seq + 1 WHERE id = 1 RETURNING seq), appended AS (INSERT INTO feed (seq, at, entry) SELECT seq, 1, repeat('y', ${ENTRY_BYTES}) FROM h RETURNING seq), versions AS (UPDATE environments SET version = (SELECT seq FROM h) WHERE key = 'production' RETURNING 1) SELECT pg_notify('bench_pg_ceiling', seq::text) FROM appended;
COMMIT;
`,
};

function pgbench(url: string, script: string): number {
  const run = spawnSync('pgbench', ['-n', '-c', String(CLIENTS), '-j', String(THREADS), '-T', String(SECONDS), '-M', 'prepared', '-f', script, url], { encoding: 'utf8' });
  if (run.error) throw new Error(`pgbench could not run (${run.error.message}): install PostgreSQL's client tools (Debian: postgresql-client)`);
  const tps = /tps = ([\d.]+)/.exec(run.stdout)?.[1];
  if (run.status !== 0 || !tps) throw new Error(`pgbench failed (exit ${run.status}): ${run.stderr.trim() || run.stdout.trim()}`);
  return Number(tps);
}

const postgres = await benchPostgres();
const dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-ceiling-'));
try {
  console.log(`PostgreSQL's own ceiling: pgbench, ${CLIENTS} clients, ${SECONDS} s per transaction (see the header of test/bench/pg-ceiling.ts)`);
  console.log(`database: ${postgres.description}`);
  console.log(`load average before: ${loadAverage()}`);
  for (const [name, text] of Object.entries(SCRIPTS)) {
    const schema = await createTestSchema('pg_ceiling');
    try {
      await withClient(schema.url, (client) => client.query(SETUP));
      const script = join(dir, `${name.replaceAll(' ', '-')}.sql`);
      writeFileSync(script, text);
      const before = machineCpu();
      const rate = pgbench(schema.url, script);
      const after = machineCpu();
      const busy = (after.busyMs - before.busyMs) / (after.allMs - before.allMs);
      // Busy CPU per commit, pgbench's own included: an upper bound on the database's share.
      const perCommit = (after.busyMs - before.busyMs) / (rate * SECONDS);
      console.log(`  ${name.padEnd(15)} ${Math.round(rate).toLocaleString('en-US').padStart(6)} commits/s, machine ${Math.round(busy * 100)}% busy, ${perCommit.toFixed(2)} ms of CPU per commit`);
    } finally {
      await schema.drop();
    }
  }
  console.log(`load average after: ${loadAverage()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await postgres.stop();
}
