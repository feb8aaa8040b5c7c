import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import pg from 'pg';
import { compareTable, copyTable, planTables, type SourceDb, type TableCheck, type TablePlan } from './copy-tables.js';
import { TABLES, type TableName } from './ports.js';

export { redactUrl };
import { createDb, createPool, redactUrl, type Conn } from './postgres/connection.js';
import { openPostgres } from './postgres/database.js';
import { changeFeedHead } from './postgres/schema.js';
import { SQLITE_MIGRATIONS } from './sqlite/connection.js';
import * as sqliteSchema from './sqlite/schema.js';

/**
 * `switchyard db copy`: a whole installation from SQLite to PostgreSQL, the upgrade path from one
 * node to a cluster. The source is opened read-only and read in one read transaction (a consistent
 * snapshot, even while a server writes to it); the target is filled in one transaction — the
 * copy, the identity sequences, the change-feed head and the verification — so it commits whole
 * and verified, or not at all.
 *
 * A source at an older migration is refused, not migrated: the copy never writes to its source
 * (see `readSource`). Starting the server once on it migrates it.
 */

/** An expected problem, told in one sentence; `usage` when the arguments themselves are wrong. */
export class CopyError extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
    this.name = 'CopyError';
  }
}

export interface CopyOptions {
  /** The SQLite database file (`<data dir>/switchyard.db`). */
  from: string;
  /** A PostgreSQL URL; its search_path picks the schema, which must exist and hold no Switchyard data. */
  to: string;
  /** Once both sides have been checked, before anything is written. */
  onStart?: (start: { schema: string; feedHead: number }) => void;
  /** After each table is copied (before the verification). */
  onTable?: (table: TableName, rows: number) => void | Promise<void>;
  /** Rows per INSERT and per page read. */
  batchRows?: number;
}

export interface CopyReport {
  schema: string;
  /** The source's change-feed head: the copy is the installation as of this position. */
  feedHead: number;
  tables: { table: TableName; rows: number; digest: string }[];
}

const CONNECT_TIMEOUT_MS = 10_000;
/** A server running on the target holds its locks briefly; waiting longer means it is busy: give up. */
const LOCK_TIMEOUT = '10s';
const FEED_HEAD = 'change_feed_head';

export async function copySqliteToPostgres(options: CopyOptions): Promise<CopyReport> {
  checkTargetUrl(options.to);
  const plans = planTables(options.batchRows);
  const source = readSource(options.from);
  try {
    const schema = await probeTarget(options.to);
    const target = await openPostgres(options.to, { max: 1 }).catch((error: unknown) => {
      throw new CopyError(`preparing ${redactUrl(options.to)} failed: ${reasonOf(error)}`);
    });
    try {
      return await target.db.transaction(async (tx) => {
        // Serialises with a server starting on the same schema (bootstrap takes this lock first),
        // then checks again: it may have written since the probe.
        await step('locking the target', async () => {
          await tx.execute(sql.raw(`set local lock_timeout = '${LOCK_TIMEOUT}'`));
          await tx.select().from(changeFeedHead).for('update');
        });
        await refuseIfOccupied((text) => tx.execute(sql.raw(text)), schema);
        options.onStart?.({ schema, feedHead: source.feedHead });
        const copied: number[] = [];
        for (const plan of plans) {
          copied.push(await step(`copying ${plan.name}`, () => copyTable(source.db, tx, plan)));
          await options.onTable?.(plan.name, copied.at(-1)!);
        }
        await step('moving the sequences', () => moveSequences(tx, plans, source));
        const checks = await verify(source, tx, plans);
        return { schema, feedHead: source.feedHead, tables: checks.map((check, i) => ({ table: check.table, rows: copied[i]!, digest: check.sourceDigest })) };
      });
    } finally {
      await target.close();
    }
  } finally {
    source.close();
  }
}

/**
 * Compare a copy with its source again (both read-only), as the copy does before it commits; for
 * tests and tooling. Meaningful only until the new installation has been written to.
 */
export async function verifyCopy(from: string, to: string, batchRows?: number): Promise<TableCheck[]> {
  checkTargetUrl(to);
  const source = readSource(from);
  const pool = createPool(to, { max: 1 });
  try {
    return await createDb(pool).transaction((tx) => verify(source, tx, planTables(batchRows)), { isolationLevel: 'repeatable read', accessMode: 'read only' });
  } finally {
    source.close();
    await pool.end();
  }
}

interface Source {
  db: SourceDb;
  /** sqlite_sequence: the last id each AUTOINCREMENT table handed out (deleted rows included). */
  sequences: Map<string, number>;
  /** The change feed's head: its sequence, not max(seq), since old entries may have been pruned. */
  feedHead: number;
  close(): void;
}

/**
 * Open the source read-only and start the read transaction every later read shares. SQLite may
 * create the `-wal`/`-shm` side files of a WAL database that has none (a server stopped cleanly);
 * the database file itself is never written.
 */
function readSource(path: string): Source {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new CopyError(`no database file at "${path}" (the SQLite database is <data dir>/switchyard.db)`, true);
  let client: Database.Database | undefined;
  try {
    client = new Database(path, { readonly: true, fileMustExist: true });
    client.pragma('busy_timeout = 5000');
    client.prepare('BEGIN').run();
    const present = new Set(client.prepare(`select name from sqlite_master where type = 'table'`).pluck().all() as string[]);
    const notSwitchyard = (missing: string[]) => new CopyError(`"${path}" is not a Switchyard database (no table ${missing.slice(0, 3).join(', ')})`);
    if (!present.has('__drizzle_migrations')) throw notSwitchyard(['__drizzle_migrations']);
    checkMigrations(client, path);
    const missing = TABLES.filter((table) => !present.has(table));
    if (missing.length > 0) throw notSwitchyard(missing);
    const sequences = new Map((client.prepare('select name, seq from sqlite_sequence').all() as { name: string; seq: number }[]).map((r) => [r.name, Number(r.seq)]));
    const opened = client;
    return {
      db: drizzle({ client: opened, schema: sqliteSchema }),
      sequences,
      feedHead: sequences.get('change_feed') ?? 0,
      close: () => opened.close(),
    };
  } catch (error) {
    client?.close();
    if (error instanceof CopyError) throw error;
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_NOTADB') throw new CopyError(`"${path}" is not a SQLite database`);
    throw new CopyError(`cannot read "${path}": ${reasonOf(error)}`);
  }
}

/** The source must be at exactly the migrations this version knows: same columns on both sides. */
function checkMigrations(client: Database.Database, path: string): void {
  const applied = (client.prepare('select created_at from __drizzle_migrations order by created_at').pluck().all() as unknown[]).map(Number);
  const known = readMigrationFiles({ migrationsFolder: SQLITE_MIGRATIONS }).map((m) => m.folderMillis);
  const last = applied.at(-1) ?? 0;
  const newest = known.at(-1) ?? 0;
  if (last < newest) {
    throw new CopyError(
      `"${path}" was written by an older Switchyard (${applied.length} of ${known.length} migrations applied) and db copy does not modify its source: ` +
        `start this version once on it ("switchyard serve --data-dir <its directory>", which migrates it), stop it, then copy`,
    );
  }
  if (last > newest || !known.includes(last)) throw new CopyError(`"${path}" was written by a newer Switchyard (a migration this version does not know): copy it with that version`);
}

function checkTargetUrl(url: string): void {
  if (!/^postgres(ql)?:\/\/\S+$/.test(url)) throw new CopyError(`the target must be a PostgreSQL URL such as postgres://user:password@host:5432/db, not ${redactUrl(url)}`, true);
}

/** Reachable, in an existing schema, empty: checked before openPostgres migrates anything there. */
async function probeTarget(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'switchyard-db-copy' });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new CopyError(`cannot connect to ${redactUrl(url)}: ${reasonOf(error)}`);
  }
  try {
    const schema = (await client.query<{ schema: string | null }>('select current_schema() as schema')).rows[0]?.schema;
    if (!schema) throw new CopyError(`${redactUrl(url)}: its search_path names no existing schema; create it first (CREATE SCHEMA …)`);
    await refuseIfOccupied((text) => client.query(text), schema);
    return schema;
  } catch (error) {
    if (error instanceof CopyError) throw error;
    throw new CopyError(`checking ${redactUrl(url)} failed: ${reasonOf(error)}`);
  } finally {
    await client.end().catch(() => {});
  }
}

type Query = (text: string) => Promise<{ rows: Record<string, unknown>[] }>;

/** A freshly migrated schema is fine (its feed head is 0); any row in a Switchyard table is not. */
async function refuseIfOccupied(query: Query, schema: string): Promise<void> {
  const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const names = [...TABLES, FEED_HEAD];
  // Table names come from TABLES; the schema is quoted. Tables a server has not created yet are empty.
  const tables = await query(
    `select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace ` +
      `where n.nspname = ${literal(schema)} and c.relkind in ('r', 'p') and c.relname in (${names.map(literal).join(', ')})`,
  );
  const existing = tables.rows.map((r) => String(r.relname));
  if (existing.length === 0) return;
  const probes = existing.map((name) => `select ${literal(name)} as name where exists (select 1 from ${ident(schema)}.${ident(name)}${name === FEED_HEAD ? ' where seq <> 0' : ''})`);
  const held = new Set((await query(probes.join(' union all '))).rows.map((r) => String(r.name)));
  const occupied = names.filter((name) => held.has(name));
  if (occupied.length > 0) {
    const listed = occupied.length > 3 ? `${occupied.slice(0, 3).join(', ')} and ${occupied.length - 3} more tables` : occupied.join(', ');
    throw new CopyError(`the target schema "${schema}" already holds Switchyard data (${listed}): db copy only fills an empty schema, and changed nothing`);
  }
}

/**
 * Ids were copied as they are, so each identity sequence moves past them — and past SQLite's own
 * sequence, so ids of deleted rows (webhooks, sessions) are not handed out again, as on SQLite.
 */
async function moveSequences(tx: Conn, plans: readonly TablePlan[], source: Source): Promise<void> {
  for (const plan of plans) {
    if (!plan.identity) continue;
    const used = source.sequences.get(plan.name) ?? 0;
    await tx.execute(sql`select setval(pg_get_serial_sequence(${plan.name}, ${plan.identity.name}), greatest(coalesce(max(${plan.identity}), 0), ${used}) + 1, false) from ${plan.pg}`);
  }
  await tx.update(changeFeedHead).set({ seq: source.feedHead }).where(sql`${changeFeedHead.id} = 1`);
}

async function verify(source: Source, tx: Conn, plans: readonly TablePlan[]): Promise<TableCheck[]> {
  const checks: TableCheck[] = [];
  for (const plan of plans) {
    const check = await step(`verifying ${plan.name}`, () => compareTable(source.db, tx, plan));
    if (check.sourceRows !== check.targetRows) throw new CopyError(`verification failed: ${plan.name} has ${check.sourceRows} rows in the source but ${check.targetRows} in the copy`);
    if (check.sourceDigest !== check.targetDigest) throw new CopyError(`verification failed: ${plan.name} differs from the source (first at ${check.firstDifference})`);
    checks.push(check);
  }
  const [head] = await tx.select().from(changeFeedHead);
  if (Number(head?.seq) !== source.feedHead) throw new CopyError(`verification failed: the change-feed head is ${head?.seq} in the copy but ${source.feedHead} in the source`);
  return checks;
}

/** Name the step in a failure the database reports (bad data, a lost connection). */
async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof CopyError) throw error;
    throw new CopyError(`${what} failed: ${reasonOf(error)}`);
  }
}

// drizzle wraps driver errors (the cause says why); refused connections to a host with several
// addresses arrive as an AggregateError without a message.
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return [...new Set(error.errors.map(reasonOf))].join('; ');
  if (error instanceof Error) {
    if (error.cause instanceof Error) return reasonOf(error.cause);
    const detail = (error as { detail?: unknown }).detail;
    return `${error.message || error.name}${typeof detail === 'string' ? ` (${detail})` : ''}`;
  }
  return String(error);
}
