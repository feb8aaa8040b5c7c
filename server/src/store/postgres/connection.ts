import { fileURLToPath } from 'node:url';
import type { NodePgQueryResultHKT } from 'drizzle-orm/node-postgres';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { fillPlaceholders, type SQL } from 'drizzle-orm';
import { PgDialect, type PgDatabase } from 'drizzle-orm/pg-core';
import pg from 'pg';
import type { Tx } from '../ports.js';
import * as schema from './schema.js';

export type PgDb = NodePgDatabase<typeof schema> & { $client: pg.Pool };
/** A transaction or the pool: what repositories run their statements on. */
export type Conn = PgDatabase<NodePgQueryResultHKT, typeof schema>;

export const conn = (tx: Tx): Conn => tx as unknown as Conn;
export const asTx = (c: Conn): Tx => c as unknown as Tx;

/**
 * A statement built once per connection handle for the hot write path — building SQL with the
 * query builder on every call cost more than PostgreSQL took to run it — and prepared by name, so
 * each connection also parses and plans it once. Handles are the pool and one per pooled
 * connection (database.ts), so the cache stays small. `name` must be unique per statement.
 */
export function prepared<T>(build: (db: Conn) => T): (tx: Tx) => T {
  const cache = new WeakMap<Conn, T>();
  return (tx) => {
    const db = conn(tx);
    let statement = cache.get(db);
    if (statement === undefined) cache.set(db, (statement = build(db)));
    return statement;
  };
}

const dialect = new PgDialect();

/** A raw statement (with `sql.placeholder`s), prepared by name on each connection that runs it. */
export function preparedSql<R extends pg.QueryResultRow>(name: string, query: SQL): (tx: Tx, values: Record<string, unknown>) => Promise<pg.QueryResult<R>> {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return (tx, values) => (conn(tx) as unknown as { $client: pg.Pool | pg.PoolClient }).$client.query<R>({ name, text, values: fillPlaceholders(params, values) });
}

/** Both server/src/store/postgres and server/dist/store/postgres sit four levels below the repository root. */
export const POSTGRES_MIGRATIONS = fileURLToPath(new URL('../../../../migrations/postgres', import.meta.url));

export interface PoolOptions {
  /** Connections in the pool (each replica's share of max_connections). */
  max?: number;
}

/** The URL without its password, fit for logs and messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return JSON.stringify(url.replace(/:[^:@/]*@/, ':***@'));
  }
}

/** A database that does not answer within this long is reported, not waited for forever. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Pooled connections are pipelined (node-postgres `pipeline`): a statement is sent without waiting
 * for the answer to the one before, and answers still come back in order. A transaction uses it to
 * send BEGIN with its first statement (database.ts); everything else awaits each statement as before.
 */
export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const config: pg.PoolConfig & { pipeline: boolean } = { connectionString: url, max: options.max ?? 10, application_name: 'switchyard', connectionTimeoutMillis: CONNECT_TIMEOUT_MS, pipeline: true };
  return new pg.Pool(config);
}

/**
 * The socket under a pooled connection, to cork: node-postgres writes each message as it is made,
 * so BEGIN and the statement behind it would otherwise take a system call each.
 */
export function socketOf(client: pg.PoolClient): { cork(): void; uncork(): void } | undefined {
  const stream = (client as unknown as { connection?: { stream?: { cork?: unknown; uncork?: unknown } } }).connection?.stream;
  return typeof stream?.cork === 'function' && typeof stream.uncork === 'function' ? (stream as { cork(): void; uncork(): void }) : undefined;
}

export function createDb(pool: pg.Pool): PgDb {
  return drizzle({ client: pool, schema }) as PgDb;
}

/**
 * Where this installation lives: its schema (from the URL's search_path, `public` by default).
 * Advisory-lock keys and the NOTIFY channel are derived from it, so several installations — or
 * parallel test runs — can share one database without stepping on each other.
 */
export interface Namespace {
  schema: string;
  /** A 32-bit advisory-lock key for `purpose` in this schema. */
  lockKey(purpose: string): number;
  /** The LISTEN/NOTIFY channel of the change feed. */
  channel: string;
}

export async function namespaceOf(pool: pg.Pool): Promise<Namespace> {
  const { rows } = await pool.query<{ schema: string | null }>('select current_schema() as schema');
  const schemaName = rows[0]?.schema;
  if (!schemaName) throw new Error('PostgreSQL: no current schema (does the search_path name an existing schema?)');
  return {
    schema: schemaName,
    lockKey: (purpose) => fnv1a(`switchyard:${schemaName}:${purpose}`),
    channel: `switchyard_feed_${fnv1a(schemaName).toString(16)}`,
  };
}

/** FNV-1a, 32-bit signed (advisory locks take an int4 or int8 key). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/**
 * Apply pending migrations, once even when several replicas start together: each takes the
 * schema's migration lock in turn, and the later ones find nothing left to do. The bookkeeping is
 * drizzle-kit's (`__drizzle_migrations`: hash and folder time per applied migration, in the same
 * schema as the tables), but every pending statement goes to the server in ONE round trip inside
 * one transaction, instead of one round trip per statement: a fresh schema migrates in about half
 * the time (startup, and every PostgreSQL test's fresh schema).
 */
export async function migratePostgres(pool: pg.Pool, namespace: Namespace, migrationsFolder = POSTGRES_MIGRATIONS): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder });
  const client = await pool.connect();
  const key = namespace.lockKey('migrate');
  let broken: Error | undefined;
  try {
    await client.query('select pg_advisory_lock($1)', [key]);
    try {
      const table = `${client.escapeIdentifier(namespace.schema)}."__drizzle_migrations"`;
      await client.query(`CREATE TABLE IF NOT EXISTS ${table} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`);
      const { rows } = await client.query<{ created_at: string }>(`select created_at from ${table} order by created_at desc limit 1`);
      const last = rows[0] ? Number(rows[0].created_at) : undefined;
      const pending = migrations.filter((m) => last === undefined || last < m.folderMillis);
      if (pending.length > 0) {
        const statements = pending.flatMap((m) => [...m.sql, `insert into ${table} ("hash", "created_at") values (${client.escapeLiteral(m.hash)}, ${m.folderMillis})`]);
        try {
          await client.query(`begin;\n${statements.join(';\n')};\ncommit`);
        } catch (error) {
          await client.query('rollback').catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
          throw error;
        }
      }
    } finally {
      if (!broken) await client.query('select pg_advisory_unlock($1)', [key]);
    }
  } finally {
    client.release(broken);
  }
}
