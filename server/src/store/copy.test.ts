import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { getTableName, is } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { PgTable, getTableConfig } from 'drizzle-orm/pg-core';
import { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.js';
import { CSRF_HEADER, SESSION_COOKIE } from '../http/sessions.routes.js';
import { bootstrap } from '../services/bootstrap.js';
import { dumpTables } from '../testing/databases.js';
import { createTestSchema, testDatabaseUrl, type TestSchema } from '../testing/postgres.js';
import { TEST_ADMIN_TOKEN, bearerHeader } from '../testing/test-app.js';
import { CopyError, copySqliteToPostgres, verifyCopy } from './copy.js';
import { unlistedTables } from './copy-tables.js';
import { TABLES, type TableName } from './ports.js';
import { openPostgres } from './postgres/database.js';
import * as pgSchema from './postgres/schema.js';
import { SQLITE_MIGRATIONS, createDb, migrate } from './sqlite/connection.js';
import { openSqlite } from './sqlite/database.js';
import * as sqliteSchema from './sqlite/schema.js';

/**
 * `switchyard db copy` against real databases: a SQLite installation built through the API (every
 * table holds rows), copied into a fresh PostgreSQL schema, compared row by row, then run.
 */

const dir = mkdtempSync(join(tmpdir(), 'switchyard-copy-'));
const schemas: TestSchema[] = [];
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
  rmSync(dir, { recursive: true, force: true });
});

async function freshSchema(): Promise<TestSchema> {
  const schema = await createTestSchema('copy');
  schemas.push(schema);
  return schema;
}

type App = Awaited<ReturnType<typeof buildApp>>;
const inject = (app: App, token: string | null, opts: InjectOptions): Promise<LightMyRequestResponse> =>
  app.inject({ ...opts, headers: { ...(token ? bearerHeader(token) : {}), ...(opts.headers ?? {}) } });

async function ok(res: LightMyRequestResponse | Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> {
  const r = await res;
  if (r.statusCode >= 300) throw new Error(`${r.statusCode} ${r.body}`);
  return r;
}

/** An app on a SQLite file, as `serve` builds it (background work off: no webhook is really sent). */
async function sqliteApp(file: string): Promise<{ app: App; db: ReturnType<typeof openSqlite>; close(): Promise<void> }> {
  const db = openSqlite(file);
  const app = await buildApp({ db, defaultMetrics: false, dashboardDir: null, background: false });
  await bootstrap(app.services.writes, app.services.environments, TEST_ADMIN_TOKEN);
  await app.ready();
  return { app, db, close: async () => (await app.close(), await db.close()) };
}

interface Installation {
  file: string;
  sdkKey: string;
  sessionCookie: string;
  flag: unknown;
  rules: { etag: string; body: unknown };
  /** sqlite_sequence after the build: the last id of each table, deleted rows included. */
  sequences: Record<string, number>;
}

/** Data in every table, through the API where it reaches, else through the repositories. */
async function buildInstallation(file: string): Promise<Installation> {
  const { app, db, close } = await sqliteApp(file);
  const admin = (opts: InjectOptions) => ok(inject(app, TEST_ADMIN_TOKEN, opts));
  await admin({ method: 'POST', url: '/api/environments', payload: { key: 'qa', name: 'QA ✓', critical: true } });
  await admin({ method: 'POST', url: '/api/segments', payload: { key: 'beta', name: 'Beta', included: ['u1', 'u2'], rules: [{ id: 'staff', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@example.com'] }] }] } });
  await admin({ method: 'POST', url: '/api/flags', payload: { key: 'checkout', tags: ['payments'] } });
  const variations = [
    { key: 'a', value: { zeta: 1, alpha: [1.5, 'x', true, null], nested: { b: false, a: 'é🚀' } } },
    { key: 'b', value: {} },
  ];
  await admin({ method: 'POST', url: '/api/flags', payload: { key: 'banner', type: 'json', description: 'Ünïcødé "quoted"', owner: 'web', variations } });
  for (let i = 0; i < 30; i++) await admin({ method: 'POST', url: '/api/flags', payload: { key: `bulk-${i}` } });
  await admin({ method: 'POST', url: '/api/flags/checkout/environments/production/schedules', payload: { at: new Date(Date.now() + 30 * 24 * 3600_000).toISOString(), action: { type: 'stage', stage: '50%' }, message: 'launch ✓' } });
  await admin({ method: 'POST', url: '/api/flags', payload: { key: 'temporary' } });
  await admin({ method: 'DELETE', url: '/api/flags/temporary', payload: { version: 1 } });
  // Code references: an upload, then one without `temporary`'s reference (its removal is remembered).
  const reference = (flag: string, line: number) => ({ flag, path: 'src/checkout ✓.ts', line, snippet: `isEnabled("${flag}")` });
  await admin({ method: 'PUT', url: '/api/code-refs', payload: { repository: 'github.com/acme/shop', branch: 'main', commit: 'abc123', references: [reference('checkout', 3), reference('temporary', 9)] } });
  await admin({ method: 'PUT', url: '/api/code-refs', payload: { repository: 'github.com/acme/shop', branch: 'main', commit: 'def456', references: [reference('checkout', 4)] } });
  const banner = (await admin({ method: 'GET', url: '/api/flags/banner' })).json<{ version: number }>();
  await admin({
    method: 'PATCH',
    url: '/api/flags/banner/environments/staging',
    payload: { version: banner.version, targets: [{ variation: 'b', values: ['u9'] }], rules: [{ id: 'beta-users', clauses: [{ attribute: 'userId', operator: 'in_segment', values: ['beta'] }], serve: { variation: 'a' } }] },
  });
  const hook = (await admin({ method: 'POST', url: '/api/webhooks', payload: { url: 'https://hooks.example/switchyard' } })).json<{ id: number }>();
  const gone = (await admin({ method: 'POST', url: '/api/webhooks', payload: { url: 'https://hooks.example/gone' } })).json<{ id: number }>();
  await admin({ method: 'DELETE', url: `/api/webhooks/${gone.id}` });
  expect(hook.id).toBeLessThan(gone.id);
  // A guarded release: plan, decision log, webhook deliveries, and SDK metrics with a histogram.
  await admin({ method: 'PUT', url: '/api/flags/checkout/environments/production/release-plan', payload: { strategy: 'guarded', guard: { latency: { event: 'latency_ms', minSamples: 100 } } } });
  await admin({ method: 'POST', url: '/api/flags/checkout/environments/production/release-plan/start' });
  const sdkKey = (await admin({ method: 'POST', url: '/api/sdk-keys', payload: { name: 'web', environment: 'production' } })).json<{ key: string }>().key;
  const oldKey = (await admin({ method: 'POST', url: '/api/sdk-keys', payload: { name: 'old', environment: 'staging' } })).json<{ id: number }>();
  await admin({ method: 'DELETE', url: `/api/sdk-keys/${oldKey.id}` });
  await ok(
    inject(app, sdkKey, {
      method: 'POST',
      url: '/api/sdk/metrics',
      payload: {
        exposures: [{ flag: 'checkout', variation: 'on', count: 120 }, { flag: 'checkout', variation: 'off', count: 1300 }],
        events: [{ name: 'latency_ms', flag: 'checkout', variation: 'on', count: 120, sum: 1234.5, buckets: { '12': 100, '-3': 20 } }],
      },
    }),
  );
  // Evaluation insights: hourly counts, the last evaluation, and the SDK seen using the key.
  await ok(inject(app, sdkKey, { method: 'POST', url: '/api/sdk/evaluations', payload: { sdk: 'switchyard-node', version: '0.1.0', evaluations: [{ flag: 'checkout', variation: 'on', count: 7 }] } }));
  const editor = (await admin({ method: 'POST', url: '/api/tokens', payload: { name: 'editor', role: 'editor' } })).json<{ token: string }>().token;
  const viewer = (await admin({ method: 'POST', url: '/api/tokens', payload: { name: 'viewer', role: 'viewer' } })).json<{ id: number }>();
  await admin({ method: 'DELETE', url: `/api/tokens/${viewer.id}` });
  const signIn = await ok(app.inject({ method: 'POST', url: '/api/session', headers: { [CSRF_HEADER]: '1' }, payload: { token: editor } }));
  const sessionCookie = `${SESSION_COOKIE}=${signIn.cookies.find((c) => c.name === SESSION_COOKIE)!.value}`;
  // The API cannot reach the cluster state (the Git sync's status, written by the leader).
  // Keys whose order depends on the collation: the copy compares them bytewise on both sides.
  for (const key of ['gitops.status', 'Zeta', 'alpha', '_x', 'é']) await db.transaction((tx) => db.repos.state.put(tx, key, { ok: true, commit: 'abc123', errors: [] }, Date.now()));
  // Nor an incident override (a kill of a Git-managed flag, held against the sync).
  const config = (await admin({ method: 'GET', url: '/api/flags/banner' })).json<{ environments: { staging: Record<string, unknown> } }>().environments.staging;
  const { stage: _stage, incident: _incident, ...fileConfig } = config;
  await db.transaction((tx) => db.repos.incidents.insert(tx, { flag: 'banner', environment: 'staging', killedAt: Date.now(), killedBy: 'on-call ✓', message: 'errors "spiking"', sinceCommit: 'abc123', fileConfig: fileConfig as never }));

  // An approval policy (on development, which nothing below writes to) and a commented change request.
  await admin({ method: 'PUT', url: '/api/environments/development/approval-policy', payload: { required: true, approvals: 2, approverRoles: ['admin'], adminBypass: true } });
  const bannerVersion = (await admin({ method: 'GET', url: '/api/flags/banner' })).json<{ version: number }>().version;
  const request = (await admin({ method: 'POST', url: '/api/change-requests', payload: { title: 'Dogfood the banner ✓', environment: 'development', changes: [{ type: 'stage', flag: 'banner', stage: 'dogfood', baseVersion: bannerVersion }] } })).json<{ id: number }>();
  await admin({ method: 'POST', url: `/api/change-requests/${request.id}/comments`, payload: { body: 'after the "demo"' } });
  const flag = (await admin({ method: 'GET', url: '/api/flags/banner' })).json<unknown>();
  const rulesResponse = await ok(inject(app, sdkKey, { method: 'GET', url: '/api/sdk/rules' }));
  const sequences = Object.fromEntries((db.db.$client.prepare('select name, seq from sqlite_sequence').all() as { name: string; seq: number }[]).map((r) => [r.name, r.seq]));
  await close();
  return { file, sdkKey, sessionCookie, flag, rules: { etag: String(rulesResponse.headers.etag), body: rulesResponse.json<unknown>() }, sequences };
}

const tablesOf = (schema: object) =>
  new Map(Object.values(schema).flatMap((value) => (is(value, SQLiteTable) || is(value, PgTable) ? [[getTableName(value), value] as const] : [])));
const SQLITE_TABLES = tablesOf(sqliteSchema) as Map<string, SQLiteTable>;
const PG_TABLES = tablesOf(pgSchema) as Map<string, PgTable>;

/** Primary keys, written out here rather than taken from the code under test. */
const KEYS: Record<TableName, string[]> = {
  environments: ['id'], flags: ['id'], flag_environments: ['flagId', 'environmentId'], incident_overrides: ['flagId', 'environmentId'], segments: ['id'], audit_log: ['id'], api_tokens: ['id'],
  sdk_keys: ['id'], sessions: ['id'], release_plans: ['id'], release_events: ['id'],
  release_metrics: ['environment', 'flagKey', 'metric', 'variation', 'windowStart'],
  release_metric_buckets: ['environment', 'flagKey', 'metric', 'variation', 'windowStart', 'bucket'],
  release_metric_sources: ['environment', 'flagKey', 'metric', 'variation', 'windowStart', 'keyId'],
  sdk_upload_counts: ['keyId', 'windowStart'],
  evaluation_counts: ['environment', 'flagKey', 'hour', 'variation'], flag_last_evaluated: ['environment', 'flagKey'], sdk_connections: ['keyId', 'sdk', 'version'],
  webhooks: ['id'], webhook_deliveries: ['id'], change_feed: ['seq'], cluster_state: ['key'], schedules: ['id'],
  approval_policies: ['environment'], change_requests: ['id'],
  code_refs: ['id'], code_ref_uploads: ['repository', 'branch'], code_ref_flags: ['flagKey'],
};

type Row = Record<string, unknown>;
const sortRows = (table: TableName, rows: Row[]) => {
  const key = (row: Row) => JSON.stringify(KEYS[table].map((k) => row[k]));
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
};

/** Every table as the application reads it (booleans, JSON, numbers mapped by each schema). */
function readSqlite(file: string): Record<string, Row[]> {
  const client = new Database(file, { readonly: true });
  try {
    const db = drizzle({ client });
    return Object.fromEntries(TABLES.map((table) => [table, sortRows(table, db.select().from(SQLITE_TABLES.get(table)!).all())]));
  } finally {
    client.close();
  }
}

async function readPostgres(url: string): Promise<Record<string, Row[]>> {
  const db = await openPostgres(url, { max: 1 });
  try {
    const dump: Record<string, Row[]> = {};
    for (const table of TABLES) dump[table] = sortRows(table, await db.db.select().from(PG_TABLES.get(table)!));
    return dump;
  } finally {
    await db.close();
  }
}

async function feedHead(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ seq: string }>('select seq from change_feed_head')).rows[0]!.seq);
  } finally {
    await client.end();
  }
}

async function tablesIn(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('select count(*) as n from pg_tables where schemaname = $1', [schema])).rows[0]!.n);
  } finally {
    await client.end();
  }
}

const fileDigest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

let installation: Installation;
let copied: TestSchema;
beforeAll(async () => {
  installation = await buildInstallation(join(dir, 'main', 'switchyard.db'));
  copied = await freshSchema();
});

// The tests share the main copy in order: copied, then run (which writes to it), then refused.
describe('db copy', () => {
  it('lists every table of both schemas, each after the tables it references', () => {
    expect(unlistedTables()).toEqual([]);
    const edges = TABLES.flatMap((table) => getTableConfig(PG_TABLES.get(table)!).foreignKeys.map((fk) => [table, getTableName(fk.reference().foreignTable)] as const));
    expect(edges).toContainEqual(['flag_environments', 'environments']);
    for (const [table, parent] of edges) expect(TABLES.indexOf(parent as TableName), `${table} → ${parent}`).toBeLessThan(TABLES.indexOf(table));
  });

  it('copies every table row for row, without touching the source file', async () => {
    const before = readSqlite(installation.file);
    for (const table of TABLES) expect(before[table]!.length, `the fixture has no ${table} rows`).toBeGreaterThan(0);
    const digest = fileDigest(installation.file);

    const progress: string[] = [];
    const report = await copySqliteToPostgres({ from: installation.file, to: copied.url, onTable: (table) => void progress.push(table) });

    expect(progress).toEqual([...TABLES]);
    expect(report.tables.map((t) => [t.table, t.rows])).toEqual(TABLES.map((table) => [table, before[table]!.length]));
    expect(report.feedHead).toBe(installation.sequences.change_feed);
    const after = await readPostgres(copied.url);
    for (const table of TABLES) expect(after[table], table).toEqual(before[table]);
    expect(await feedHead(copied.url)).toBe(installation.sequences.change_feed);
    expect(fileDigest(installation.file)).toBe(digest);
  });

  it('leaves a working installation: same credentials, same rule-set versions, ids and feed continue', async () => {
    const db = await openPostgres(copied.url, { max: 4 });
    const app = await buildApp({ db, defaultMetrics: false, dashboardDir: null, background: false });
    try {
      await bootstrap(app.services.writes, app.services.environments, TEST_ADMIN_TOKEN);
      await app.ready();
      const admin = (opts: InjectOptions) => ok(inject(app, TEST_ADMIN_TOKEN, opts));
      expect((await admin({ method: 'GET', url: '/api/flags/banner' })).json()).toEqual(installation.flag);
      const rules = await ok(inject(app, installation.sdkKey, { method: 'GET', url: '/api/sdk/rules' }));
      expect(rules.headers.etag).toBe(installation.rules.etag);
      expect(rules.json()).toEqual(installation.rules.body);
      expect((await app.inject({ method: 'GET', url: '/api/me', headers: { cookie: installation.sessionCookie } })).json()).toEqual({ name: 'editor', role: 'editor' });

      const banner = (await admin({ method: 'GET', url: '/api/flags/banner' })).json<{ version: number }>();
      await admin({ method: 'POST', url: '/api/flags/banner/environments/production/stage', payload: { stage: 'dogfood', version: banner.version } });
      const [latest] = (await admin({ method: 'GET', url: '/api/audit?limit=1' })).json<{ items: { id: number; action: string }[] }>().items;
      expect(latest).toMatchObject({ id: installation.sequences.audit_log! + 1 });
      const head = installation.sequences.change_feed!;
      expect(await feedHead(copied.url)).toBe(head + 1);
      expect((await inject(app, installation.sdkKey, { method: 'GET', url: '/api/sdk/rules' })).headers.etag).toBe(`"${head + 1}"`);
      // The deleted webhook's id is not handed out again, as on SQLite.
      const hook = (await admin({ method: 'POST', url: '/api/webhooks', payload: { url: 'https://hooks.example/new' } })).json<{ id: number }>();
      expect(hook.id).toBe(installation.sequences.webhooks! + 1);
      await admin({ method: 'POST', url: '/api/flags', payload: { key: 'after-copy' } });
    } finally {
      await app.close();
      await db.close();
    }
  });

  it('refuses a target that already holds data, and changes nothing there', async () => {
    const db = await openPostgres(copied.url, { max: 1 });
    try {
      const before = await dumpTables(db, [...TABLES]);
      await expect(copySqliteToPostgres({ from: installation.file, to: copied.url })).rejects.toThrow(/already holds Switchyard data \(environments, flags,/);
      expect(await dumpTables(db, [...TABLES])).toEqual(before);
    } finally {
      await db.close();
    }
  });

  it('refuses sources that are missing, not SQLite, not Switchyard, or not migrated yet — before touching the target', async () => {
    const target = await freshSchema();
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'not a database, just text long enough to have a header and then some more bytes');
    const other = join(dir, 'other.db');
    new Database(other).exec('create table t (x)').close();
    const older = join(dir, 'older', 'switchyard.db');
    migrateTo(older, 3);
    const olderDigest = fileDigest(older);
    const cases = [
      { name: 'missing', from: join(dir, 'nope.db'), message: /no database file at/, usage: true },
      { name: 'directory', from: dir, message: /no database file at/, usage: true },
      { name: 'not SQLite', from: junk, message: /is not a SQLite database/, usage: false },
      { name: 'not Switchyard', from: other, message: /is not a Switchyard database/, usage: false },
      { name: 'older migration', from: older, message: /older Switchyard \(3 of \d+ migrations applied\).*switchyard serve/, usage: false },
    ];
    for (const c of cases) {
      const error = await copySqliteToPostgres({ from: c.from, to: target.url }).then(() => undefined, (e: unknown) => e);
      expect(error, c.name).toBeInstanceOf(CopyError);
      expect((error as CopyError).message, c.name).toMatch(c.message);
      expect((error as CopyError).usage, c.name).toBe(c.usage);
    }
    expect(fileDigest(older)).toBe(olderDigest);
    expect(await tablesIn(target.schema)).toBe(0);
  });

  it('refuses targets that are not PostgreSQL URLs, unreachable, or name no schema', async () => {
    const cases = [
      { name: 'not a URL', to: 'switchyard.db', message: /must be a PostgreSQL URL/, usage: true },
      { name: 'other database', to: 'mysql://root:secret@localhost/db', message: /must be a PostgreSQL URL.*mysql:\/\/root:\*\*\*@localhost/, usage: true },
      { name: 'unreachable', to: 'postgres://postgres:secret@127.0.0.1:1/db', message: /cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/db: .*ECONNREFUSED/, usage: false },
      { name: 'no schema', to: `${testDatabaseUrl()}?options=-c%20search_path%3Dno_such_schema_here`, message: /names no existing schema/, usage: false },
    ];
    for (const c of cases) {
      const error = await copySqliteToPostgres({ from: installation.file, to: c.to }).then(() => undefined, (e: unknown) => e);
      expect(error, c.name).toBeInstanceOf(CopyError);
      expect((error as CopyError).message, c.name).toMatch(c.message);
      expect((error as CopyError).message, c.name).not.toMatch(/secret/);
      expect((error as CopyError).usage, c.name).toBe(c.usage);
    }
  });

  it('pages through every table in small batches, and verification names a table that differs', async () => {
    const target = await freshSchema();
    await copySqliteToPostgres({ from: installation.file, to: target.url, batchRows: 2 });
    const checks = await verifyCopy(installation.file, target.url, 3);
    expect(checks.every((c) => c.sourceDigest === c.targetDigest && c.sourceRows === c.targetRows)).toBe(true);

    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    await client.query(`update release_metric_buckets set count = count + 1 where bucket = 12`);
    await client.end();
    await expect(verifyCopy(installation.file, target.url)).rejects.toThrow(/verification failed: release_metric_buckets differs from the source \(first at environment="production", flagKey="checkout", .*bucket=12\)/);
  });

  it('commits nothing when the verification finds a difference', async () => {
    const target = await freshSchema();
    await (await openPostgres(target.url, { max: 1 })).close(); // migrated, as a server leaves it
    // Something in the target that changes what it is given: the read-back must notice.
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    await client.query(`create function mangle() returns trigger language plpgsql as $$ begin new.name := new.name || '!'; return new; end $$`);
    await client.query(`create trigger mangle before insert on segments for each row execute function mangle()`);
    try {
      await expect(copySqliteToPostgres({ from: installation.file, to: target.url })).rejects.toThrow(/^verification failed: segments differs from the source \(first at id=1\)$/);
      const { rows } = await client.query<{ n: string }>('select (select count(*) from environments) + (select count(*) from audit_log) + (select seq from change_feed_head) as n');
      expect(Number(rows[0]!.n)).toBe(0);
    } finally {
      await client.end();
    }
  });

  it('copies a running installation as of one snapshot: later writes are not copied', async () => {
    const file = join(dir, 'running', 'switchyard.db');
    const running = await sqliteApp(file);
    const target = await freshSchema();
    try {
      await ok(inject(running.app, TEST_ADMIN_TOKEN, { method: 'POST', url: '/api/flags', payload: { key: 'early' } }));
      const headBefore = await running.db.read((tx) => running.db.repos.feed.head(tx));
      const report = await copySqliteToPostgres({
        from: file,
        to: target.url,
        batchRows: 1,
        // The server writes while the copy is under way: a flag, its audit entry, a feed entry.
        onTable: async (table) => {
          if (table === 'environments') await ok(inject(running.app, TEST_ADMIN_TOKEN, { method: 'POST', url: '/api/flags', payload: { key: 'late' } }));
        },
      });
      expect(report.feedHead).toBe(headBefore);
      const copy = await readPostgres(target.url);
      expect(copy.flags!.map((f) => f.key)).toEqual(['early']);
      expect(await feedHead(target.url)).toBe(headBefore);
      expect((await running.app.services.flags.list()).map((f) => f.value.key).sort()).toEqual(['early', 'late']);
    } finally {
      await running.close();
    }
  });

  it('takes the feed head from the sequence, not the entries: a pruned feed keeps its positions', async () => {
    const file = join(dir, 'pruned', 'switchyard.db');
    const source = await sqliteApp(file);
    for (const key of ['one', 'two', 'three']) await ok(inject(source.app, TEST_ADMIN_TOKEN, { method: 'POST', url: '/api/flags', payload: { key } }));
    const head = await source.db.read((tx) => source.db.repos.feed.head(tx));
    await source.db.transaction((tx) => source.db.repos.feed.prune(tx, Number.MAX_SAFE_INTEGER, 0));
    await source.close();
    const target = await freshSchema();
    const report = await copySqliteToPostgres({ from: file, to: target.url });
    expect(report.tables.find((t) => t.table === 'change_feed')!.rows).toBe(0);
    expect(await feedHead(target.url)).toBe(head);
  });
});

/** A database migrated only up to `count` migrations: an installation of an older Switchyard. */
function migrateTo(file: string, count: number): void {
  const folder = join(dir, `migrations-${count}`);
  mkdirSync(join(folder, 'meta'), { recursive: true });
  const journal = JSON.parse(readFileSync(join(SQLITE_MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  journal.entries = journal.entries.slice(0, count);
  writeFileSync(join(folder, 'meta', '_journal.json'), JSON.stringify(journal));
  for (const { tag } of journal.entries) copyFileSync(join(SQLITE_MIGRATIONS, `${tag}.sql`), join(folder, `${tag}.sql`));
  const db = createDb(file);
  migrate(db, folder);
  db.$client.close();
}
