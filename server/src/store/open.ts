import { join } from 'node:path';
import type { Database } from './ports.js';
import { openPostgres } from './postgres/database.js';
import { openSqlite } from './sqlite/database.js';

export const DATABASE_FILE = 'switchyard.db';

/**
 * The database the configuration names: PostgreSQL when a URL is given (several replicas may
 * share it), else SQLite in the data directory (one process). Either is migrated on open.
 */
export async function openDatabase(config: { dataDir: string; databaseUrl?: string }): Promise<Database> {
  if (config.databaseUrl !== undefined) return openPostgres(config.databaseUrl);
  return openSqlite(join(config.dataDir, DATABASE_FILE));
}
