import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate as runMigrations } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';
import type { Tx } from '../ports.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** Both server/src/store/sqlite and server/dist/store/sqlite sit four levels below the repository root. */
export const SQLITE_MIGRATIONS = fileURLToPath(new URL('../../../../migrations/sqlite', import.meta.url));

/** Open (creating if needed) a SQLite database; `:memory:` for tests. No side effects on import. */
export function createDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  // WAL lets readers proceed during writes; NORMAL sync is durable across process crashes in WAL mode.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return drizzle({ client: sqlite, schema }) as Db;
}

export function migrate(db: Db, migrationsFolder = SQLITE_MIGRATIONS): void {
  runMigrations(db, { migrationsFolder });
}

/** Inside this dialect a transaction handle is the connection itself (one connection, one writer). */
export const conn = (tx: Tx): Db => tx as unknown as Db;
export const asTx = (db: Db): Tx => db as unknown as Tx;

/**
 * A statement prepared once per connection, for the hot write path: building SQL with the query
 * builder and preparing it again on every call cost more than running it. Keyed by the connection
 * the transaction handle holds, so a repository still runs on the handle it was given.
 */
export function prepared<T>(build: (db: Db) => T): (tx: Tx) => T {
  const cache = new WeakMap<Db, T>();
  return (tx) => {
    const db = conn(tx);
    let statement = cache.get(db);
    if (statement === undefined) cache.set(db, (statement = build(db)));
    return statement;
  };
}
