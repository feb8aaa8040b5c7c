import type Database from 'better-sqlite3';
import type { Flag, FlagEnvironment } from '../../domain/flags.js';

/**
 * Prepared statements for the hot write path (stage changes, flag edits, credential lookups).
 * Building SQL with the query builder and preparing it again on every call cost more than the
 * writes themselves; these are prepared once per connection. Same connection, so they join the
 * surrounding drizzle transaction.
 */
export interface FlagRow {
  id: number;
  key: string;
  name: string;
  description: string;
  tags: string;
  owner: string;
  type: string;
  variations: string;
  archived: number;
  version: number;
  created_at: number;
  updated_at: number;
  updated_by: string;
}

export interface EnvironmentRow {
  id: number;
  key: string;
  name: string;
  critical: number;
  sort_order: number;
  version: number;
  created_at: number;
}

type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;

export class Statements {
  readonly flagByKey: Statement<[string], FlagRow>;
  readonly flagConfigs: Statement<[number], { env: string; config: string }>;
  readonly environments: Statement<[], EnvironmentRow>;
  readonly updateFlag: Statement<[ReturnType<typeof flagParams>]>;
  readonly upsertConfig: Statement<[number, number, string]>;
  readonly bumpEnvironment: Statement<[number], { version: number }>;
  readonly insertAudit: Statement<unknown[], { id: number }>;
  readonly segmentKeys: Statement<[], { key: string }>;

  constructor(client: Database.Database) {
    this.flagByKey = client.prepare('SELECT * FROM flags WHERE key = ?');
    this.flagConfigs = client.prepare(
      'SELECT e.key AS env, fe.config AS config FROM flag_environments fe JOIN environments e ON e.id = fe.environment_id WHERE fe.flag_id = ?',
    );
    this.environments = client.prepare('SELECT * FROM environments ORDER BY sort_order, id');
    this.updateFlag = client.prepare(
      'UPDATE flags SET name = @name, description = @description, tags = @tags, owner = @owner, type = @type, variations = @variations, archived = @archived, version = @version, updated_at = @updatedAt, updated_by = @updatedBy WHERE id = @id',
    );
    this.upsertConfig = client.prepare(
      'INSERT INTO flag_environments (flag_id, environment_id, config) VALUES (?, ?, ?) ON CONFLICT (flag_id, environment_id) DO UPDATE SET config = excluded.config',
    );
    this.bumpEnvironment = client.prepare('UPDATE environments SET version = version + 1 WHERE id = ? RETURNING version');
    this.insertAudit = client.prepare(
      'INSERT INTO audit_log (at, actor, action, resource_type, resource_key, environment, before, after, source, message, "commit") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
    );
    this.segmentKeys = client.prepare('SELECT key FROM segments ORDER BY key');
  }
}



export function flagFromRow(row: FlagRow, configs: readonly { env: string; config: string }[]): Flag & { id: number } {
  const environments: Record<string, FlagEnvironment> = {};
  for (const c of configs) environments[c.env] = JSON.parse(c.config) as FlagEnvironment;
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    description: row.description,
    tags: JSON.parse(row.tags) as string[],
    owner: row.owner,
    type: row.type as Flag['type'],
    variations: JSON.parse(row.variations) as Flag['variations'],
    archived: row.archived === 1,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
    environments,
  };
}

export function flagParams(id: number, flag: Flag) {
  return {
    id,
    name: flag.name,
    description: flag.description,
    tags: JSON.stringify(flag.tags),
    owner: flag.owner,
    type: flag.type,
    variations: JSON.stringify(flag.variations),
    archived: flag.archived ? 1 : 0,
    version: flag.version,
    updatedAt: flag.updatedAt,
    updatedBy: flag.updatedBy,
  };
}
