import { PostgresDatabase, openPostgres, type PostgresOptions } from '../store/postgres/database.js';
import type { Database } from '../store/ports.js';
import { SqliteDatabase, openSqlite } from '../store/sqlite/database.js';
import { takeTestSchema } from './schema-pool.js';

export type TestDialect = 'sqlite' | 'postgres';
export const DIALECTS: readonly TestDialect[] = ['sqlite', 'postgres'];

/** The dialect HTTP tests run on: SWITCHYARD_TEST_DIALECT (`sqlite` unless it says `postgres`). */
export function testDialect(): TestDialect {
  const dialect = process.env.SWITCHYARD_TEST_DIALECT ?? 'sqlite';
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error(`SWITCHYARD_TEST_DIALECT must be sqlite or postgres, not ${JSON.stringify(dialect)}`);
  return dialect;
}

export interface TestDatabase {
  dialect: TestDialect;
  db: Database;
  /** For PostgreSQL: the URL of the test's own schema (other replicas of a test connect to it). */
  url?: string;
  close(): Promise<void>;
}

/** A fresh, migrated database: SQLite in memory, or a PostgreSQL schema of its own (emptied for reuse on close, see schema-pool.ts). */
export async function openTestDatabase(label: string, dialect: TestDialect = testDialect(), options: PostgresOptions = {}): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const db = openSqlite(':memory:');
    return { dialect, db, close: () => db.close() };
  }
  // A migrated schema of its own: reused from an earlier test (emptied) when one is free.
  const schema = await takeTestSchema(label);
  let db: PostgresDatabase;
  try {
    db = await openPostgres(schema.url, { max: 4, leaderPollMs: 200, ...options });
    if (!schema.reused) await schema.migrated();
  } catch (error) {
    await schema.release();
    throw error;
  }
  return {
    dialect,
    db,
    url: schema.url,
    async close() {
      await db.close();
      await schema.release();
    },
  };
}

/** Rows of `tables` straight from the database, in insertion order: for "nothing changed" checks. */
export async function dumpTables(db: Database, tables: readonly string[]): Promise<Record<string, Record<string, unknown>[]>> {
  const dump: Record<string, Record<string, unknown>[]> = {};
  for (const table of tables) {
    if (!/^[a-z_]+$/.test(table)) throw new Error(`not a table name: ${table}`);
    if (db instanceof SqliteDatabase) {
      dump[table] = db.db.$client.prepare(`select * from ${table} order by rowid`).all() as Record<string, unknown>[];
    } else if (db instanceof PostgresDatabase) {
      dump[table] = (await db.pool.query(`select * from ${table} order by 1, 2`)).rows as Record<string, unknown>[];
    } else {
      throw new Error('dumpTables: unknown database');
    }
  }
  return dump;
}

/**
 * One digest per table, for "nothing changed" checks run thousands of times (the fuzzer): on
 * PostgreSQL a single query hashes every table server-side instead of shipping its rows.
 * `ignoreColumns` are left out of every row (e.g. lastUsedAt, touched by authentication itself).
 */
export async function fingerprintTables(db: Database, tables: readonly string[], ignoreColumns: readonly string[] = []): Promise<Record<string, string>> {
  for (const name of [...tables, ...ignoreColumns]) if (!/^[a-z_]+$/.test(name)) throw new Error(`not a table or column name: ${name}`);
  if (db instanceof PostgresDatabase) {
    const minus = ignoreColumns.map((c) => ` - '${c}'`).join('');
    const row = `(to_jsonb(t)${minus})::text`;
    const columns = tables.map((table) => `(select md5(coalesce(string_agg(${row}, ',' order by ${row}), '')) from ${table} t) as ${table}`);
    return (await db.pool.query(`select ${columns.join(', ')}`)).rows[0] as Record<string, string>;
  }
  const dump = await dumpTables(db, tables);
  return Object.fromEntries(
    Object.entries(dump).map(([table, rows]) => [table, JSON.stringify(rows.map((r) => Object.fromEntries(Object.entries(r).filter(([column]) => !ignoreColumns.includes(column)))))]),
  );
}

/** Make the database unreachable (closing it under the app): for "storage is down" tests. */
export async function breakDatabase(db: Database): Promise<void> {
  if (db instanceof SqliteDatabase) db.db.$client.close();
  else if (db instanceof PostgresDatabase) await db.pool.end();
}
