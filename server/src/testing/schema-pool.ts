import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { POSTGRES_MIGRATIONS } from '../store/postgres/connection.js';
import { createTestSchema, dropTestSchema, testDatabaseUrl, withClient as withDatabase, withSearchPath } from './postgres.js';

/**
 * Migrated test schemas, reused. Creating a schema and migrating it costs ~0.4–1 s of PostgreSQL
 * DDL, dropping it ~0.3 s more, and the suite opens hundreds. A schema a test has closed is emptied
 * instead (every row deleted, sequences restarted, the rows the migrations seeded put back: a
 * few milliseconds) and listed as free; the next test claims it with `FOR UPDATE SKIP LOCKED`,
 * so parallel workers never share one. A test sees exactly what a freshly migrated schema holds.
 *
 * The list lives in the test database (schema `switchyard_test_pool`), created by vitest's
 * globalSetup. Entries carry a fingerprint of the migrations: a schema migrated by other
 * migrations is never reused, and is dropped by the next run's setup. A schema whose tables or
 * columns a test changed is dropped rather than listed.
 */

const REGISTRY = 'switchyard_test_pool';
const FREE = `${REGISTRY}.free`;

/** The migrations' identity: journal and every SQL file. */
export const migrationsFingerprint: () => string = (() => {
  let cached: string | undefined;
  return () => {
    if (cached) return cached;
    const hash = createHash('sha256');
    for (const file of readdirSync(POSTGRES_MIGRATIONS).filter((f) => f.endsWith('.sql')).sort()) hash.update(file).update(readFileSync(join(POSTGRES_MIGRATIONS, file)));
    hash.update(readFileSync(join(POSTGRES_MIGRATIONS, 'meta/_journal.json')));
    return (cached = hash.digest('hex').slice(0, 16));
  };
})();

/** A connection to the test database itself (not to a test's schema). */
const withClient = <T>(run: (client: pg.Client) => Promise<T>): Promise<T> => withDatabase(testDatabaseUrl(), run);

const UNDEFINED_TABLE = '42P01';
const isUndefinedTable = (error: unknown) => (error as { code?: unknown } | null)?.code === UNDEFINED_TABLE;

/**
 * Called once per run, before any worker starts: creates the list, and drops the free schemas of
 * other migrations (a branch switch, a new migration).
 */
export async function prepareSchemaPool(): Promise<void> {
  await withClient(async (client) => {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${REGISTRY}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${FREE} (schema text PRIMARY KEY, fingerprint text NOT NULL, shape text NOT NULL, seed jsonb NOT NULL)`);
    const stale = await client.query<{ schema: string }>(`DELETE FROM ${FREE} WHERE fingerprint <> $1 RETURNING schema`, [migrationsFingerprint()]);
    for (const { schema } of stale.rows) await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`);
  });
}

/** What reuse relies on, read from the catalogs: tables, columns and sequences of a schema. */
interface Shape {
  tables: string[];
  sequences: string[];
  /** Digest of every table's columns and types: a test that altered a table changes it. */
  digest: string;
}

async function shapeOf(client: pg.Client, schema: string): Promise<Shape> {
  const { rows } = await client.query<{ tables: string[] | null; sequences: string[] | null; digest: string | null }>(
    `select
       (select array_agg(c.relname::text order by c.relname) from pg_class c where c.relnamespace = n.oid and c.relkind in ('r', 'p') and c.relname <> '__drizzle_migrations') as tables,
       (select array_agg(c.relname::text order by c.relname) from pg_class c where c.relnamespace = n.oid and c.relkind = 'S' and c.relname <> '__drizzle_migrations_id_seq') as sequences,
       (select md5(string_agg(c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull, ',' order by c.relname, a.attnum))
          from pg_class c join pg_attribute a on a.attrelid = c.oid
         where c.relnamespace = n.oid and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped) as digest
     from pg_namespace n where n.nspname = $1`,
    [schema],
  );
  const row = rows[0];
  return { tables: row?.tables ?? [], sequences: row?.sequences ?? [], digest: row?.digest ?? '' };
}

/** What a schema held right after its migrations: its shape, and the rows they inserted. */
interface Baseline {
  shape: Shape;
  seed: Record<string, unknown[]>;
}

/** A free schema migrated by these migrations, now this caller's alone; undefined if none (or no list). */
async function claim(fingerprint: string): Promise<{ schema: string; baseline: Baseline } | undefined> {
  try {
    return await withClient(async (client) => {
      const { rows } = await client.query<{ schema: string; shape: string; seed: Record<string, unknown[]> }>(
        `DELETE FROM ${FREE} WHERE schema = (SELECT schema FROM ${FREE} WHERE fingerprint = $1 LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING schema, shape, seed`,
        [fingerprint],
      );
      const row = rows[0];
      return row ? { schema: row.schema, baseline: { shape: JSON.parse(row.shape) as Shape, seed: row.seed } } : undefined;
    });
  } catch (error) {
    if (isUndefinedTable(error)) return undefined; // no globalSetup made the list: fresh schemas only
    throw error;
  }
}

export interface PooledSchema {
  /** The test database with `search_path` set to `schema`. */
  url: string;
  schema: string;
  /** True when the schema was claimed from the list, i.e. is already migrated and empty. */
  reused: boolean;
  /** For a new schema: call once it is migrated, before the test writes (records what reuse restores). */
  migrated(): Promise<void>;
  /**
   * After every connection to it is closed: empty it and list it as free again — or drop it when
   * it was never recorded as migrated, a test changed its tables, or there is no list.
   */
  release(): Promise<void>;
}

/**
 * A migrated schema from the list when one is free, else a new empty one (the caller migrates it).
 * `fingerprint` is for the pool's own tests: schemas listed under another fingerprint are theirs alone.
 */
export async function takeTestSchema(label: string, fingerprint = migrationsFingerprint()): Promise<PooledSchema> {
  const claimed = await claim(fingerprint);
  const schema = claimed?.schema ?? (await createTestSchema(label)).schema;
  let baseline = claimed?.baseline;
  return {
    url: withSearchPath(testDatabaseUrl(), schema),
    schema,
    reused: claimed !== undefined,
    async migrated() {
      baseline = await withClient((client) => baselineOf(client, schema));
    },
    async release() {
      try {
        if (baseline && (await withClient((client) => emptyAndList(client, schema, baseline!, fingerprint)))) return;
      } catch (error) {
        if (!isUndefinedTable(error)) console.warn(`test schema pool: dropping ${schema} instead of reusing it: ${error instanceof Error ? error.message : String(error)}`);
      }
      await dropTestSchema(schema);
    },
  };
}

async function baselineOf(client: pg.Client, schema: string): Promise<Baseline> {
  const shape = await shapeOf(client, schema);
  const id = client.escapeIdentifier(schema);
  const columns = shape.tables.map((t, i) => `(select coalesce(jsonb_agg(r), '[]'::jsonb) from ${id}.${client.escapeIdentifier(t)} r) as t${i}`);
  const { rows } = await client.query<Record<string, unknown[]>>(`select ${columns.join(', ')}`);
  const seed: Record<string, unknown[]> = {};
  shape.tables.forEach((table, i) => {
    const tableRows = rows[0]![`t${i}`]!;
    if (tableRows.length > 0) seed[table] = tableRows;
  });
  return { shape, seed };
}

/**
 * Delete every row (foreign keys are not checked meanwhile: `session_replication_role = replica`),
 * restart the sequences, put the seeded rows back and list the schema as free — one transaction,
 * one round trip after the shape check. False when a test changed the schema's shape.
 */
async function emptyAndList(client: pg.Client, schema: string, baseline: Baseline, fingerprint: string): Promise<boolean> {
  const now = await shapeOf(client, schema);
  if (now.digest !== baseline.shape.digest || now.sequences.join() !== baseline.shape.sequences.join() || now.tables.join() !== baseline.shape.tables.join()) return false;
  const id = client.escapeIdentifier(schema);
  const q = (name: string) => `${id}.${client.escapeIdentifier(name)}`;
  const statements = [
    'begin',
    'set local session_replication_role = replica',
    "set local lock_timeout = '5s'",
    ...now.tables.map((t) => `delete from ${q(t)}`),
    ...now.sequences.map((s) => `alter sequence ${q(s)} restart`),
    ...Object.entries(baseline.seed).map(([t, rows]) => `insert into ${q(t)} select * from jsonb_populate_recordset(null::${q(t)}, ${client.escapeLiteral(JSON.stringify(rows))})`),
    `insert into ${FREE} (schema, fingerprint, shape, seed) values (${client.escapeLiteral(schema)}, ${client.escapeLiteral(fingerprint)}, ${client.escapeLiteral(JSON.stringify(baseline.shape))}, ${client.escapeLiteral(JSON.stringify(baseline.seed))})`,
    'commit',
  ];
  try {
    await client.query(statements.join(';\n'));
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
  return true;
}
