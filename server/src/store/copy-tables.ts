import { createHash } from 'node:crypto';
import { getTableColumns, getTableName, is, sql, type SQL } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { PgTable, getTableConfig as pgTableConfig, type PgColumn } from 'drizzle-orm/pg-core';
import { SQLiteTable, getTableConfig as sqliteTableConfig, type SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { TABLES, type TableName } from './ports.js';
import type { Conn } from './postgres/connection.js';
import * as pgSchema from './postgres/schema.js';
import * as sqliteSchema from './sqlite/schema.js';

/**
 * Table by table, what `switchyard db copy` moves and compares: rows are read in primary-key order
 * in pages (keyset pagination, so a big audit log is never held whole nor sent as one statement),
 * through each dialect's drizzle schema. Reading through the schemas is also the normalisation:
 * booleans, JSON and millisecond columns come out as the same JavaScript values from SQLite
 * (0/1, JSON text) and PostgreSQL (boolean, jsonb, bigint), as `rows.ts` proves at compile time.
 */

/** Rows per page read, and at most per INSERT. */
export const DEFAULT_BATCH_ROWS = 1000;
/** An INSERT's JSON parameter stays below this, whatever the rows weigh. */
const MAX_STATEMENT_CHARS = 16 * 1024 * 1024;
/** Not a copied table: its one row is the feed's head, set from the source's sequence. */
const FEED_HEAD_TABLE = 'change_feed_head';

export type SourceDb = BetterSQLite3Database<typeof sqliteSchema>;
type Row = Record<string, unknown>;

const PAIRS = {
  environments: [sqliteSchema.environments, pgSchema.environments],
  flags: [sqliteSchema.flags, pgSchema.flags],
  flag_environments: [sqliteSchema.flagEnvironments, pgSchema.flagEnvironments],
  incident_overrides: [sqliteSchema.incidentOverrides, pgSchema.incidentOverrides],
  segments: [sqliteSchema.segments, pgSchema.segments],
  audit_log: [sqliteSchema.auditLog, pgSchema.auditLog],
  api_tokens: [sqliteSchema.apiTokens, pgSchema.apiTokens],
  sdk_keys: [sqliteSchema.sdkKeys, pgSchema.sdkKeys],
  sessions: [sqliteSchema.sessions, pgSchema.sessions],
  release_plans: [sqliteSchema.releasePlans, pgSchema.releasePlans],
  release_events: [sqliteSchema.releaseEvents, pgSchema.releaseEvents],
  release_metrics: [sqliteSchema.releaseMetrics, pgSchema.releaseMetrics],
  release_metric_buckets: [sqliteSchema.releaseMetricBuckets, pgSchema.releaseMetricBuckets],
  release_metric_sources: [sqliteSchema.releaseMetricSources, pgSchema.releaseMetricSources],
  sdk_upload_counts: [sqliteSchema.sdkUploadCounts, pgSchema.sdkUploadCounts],
  evaluation_counts: [sqliteSchema.evaluationCounts, pgSchema.evaluationCounts],
  flag_last_evaluated: [sqliteSchema.flagLastEvaluated, pgSchema.flagLastEvaluated],
  sdk_connections: [sqliteSchema.sdkConnections, pgSchema.sdkConnections],
  webhooks: [sqliteSchema.webhooks, pgSchema.webhooks],
  webhook_deliveries: [sqliteSchema.webhookDeliveries, pgSchema.webhookDeliveries],
  change_feed: [sqliteSchema.changeFeed, pgSchema.changeFeed],
  cluster_state: [sqliteSchema.clusterState, pgSchema.clusterState],
  schedules: [sqliteSchema.schedules, pgSchema.schedules],
  approval_policies: [sqliteSchema.approvalPolicies, pgSchema.approvalPolicies],
  change_requests: [sqliteSchema.changeRequests, pgSchema.changeRequests],
  code_refs: [sqliteSchema.codeRefs, pgSchema.codeRefs],
  code_ref_uploads: [sqliteSchema.codeRefUploads, pgSchema.codeRefUploads],
  code_ref_flags: [sqliteSchema.codeRefFlags, pgSchema.codeRefFlags],
} as const satisfies Record<TableName, readonly [SQLiteTable, PgTable]>;

export interface TablePlan {
  name: TableName;
  sqlite: SQLiteTable;
  pg: PgTable;
  /** Primary-key properties: the order rows are read, copied and compared in. */
  key: string[];
  sqliteKey: SQLiteColumn[];
  /** Text keys compare bytewise (COLLATE "C"), as SQLite's BINARY collation does, whatever the database's collation. */
  pgKey: SQL[];
  /** The PostgreSQL identity column, whose sequence must move past the copied ids. */
  identity: PgColumn | undefined;
  batchRows: number;
}

/** Tables either schema declares that TABLES (the copy's list) leaves out: must be none. */
export function unlistedTables(): string[] {
  const names = (schema: object) => Object.values(schema).flatMap((value) => (is(value, PgTable) || is(value, SQLiteTable) ? [getTableName(value)] : []));
  const listed = new Set<string>([...TABLES, FEED_HEAD_TABLE]);
  return [...new Set([...names(sqliteSchema), ...names(pgSchema)])].filter((name) => !listed.has(name));
}

/** Property names of a table's primary key, from the column flag or the composite key. */
function keyOf(columns: Record<string, { name: string; primary: boolean }>, composite: readonly { columns: readonly { name: string }[] }[]): string[] {
  const props = Object.entries(columns);
  const single = props.filter(([, column]) => column.primary).map(([prop]) => prop);
  if (single.length > 0) return single;
  return (composite[0]?.columns ?? []).map((c) => props.find(([, column]) => column.name === c.name)![0]);
}

/** Every table in foreign-key order, with how to page through it on each side. */
export function planTables(batchRows = DEFAULT_BATCH_ROWS): TablePlan[] {
  const unlisted = unlistedTables();
  if (unlisted.length > 0) throw new Error(`store/ports.ts TABLES misses ${unlisted.join(', ')}: db copy would leave them behind`);
  return TABLES.map((name) => {
    const [sqlite, pg] = PAIRS[name];
    const sqliteColumns: Record<string, SQLiteColumn> = getTableColumns(sqlite);
    const pgColumns: Record<string, PgColumn> = getTableColumns(pg);
    const key = keyOf(sqliteColumns, sqliteTableConfig(sqlite).primaryKeys);
    const pgKeyProps = keyOf(pgColumns, pgTableConfig(pg).primaryKeys);
    if (key.length === 0 || key.join() !== pgKeyProps.join()) throw new Error(`${name}: the two schemas disagree on the primary key`);
    return {
      name,
      sqlite,
      pg,
      key,
      sqliteKey: key.map((prop) => sqliteColumns[prop]!),
      pgKey: key.map((prop) => (pgColumns[prop]!.dataType === 'string' ? sql`${pgColumns[prop]!} collate "C"` : sql`${pgColumns[prop]!}`)),
      identity: Object.values(pgColumns).find((column) => column.generatedIdentity !== undefined),
      batchRows: Math.max(1, batchRows),
    };
  });
}

/** `(k1, k2) > (v1, v2)`: the rows after the last one read (both dialects compare row values). */
function after(keys: (SQL | SQLiteColumn)[], plan: TablePlan, last: Row): SQL {
  return sql`(${sql.join(keys, sql`, `)}) > (${sql.join(plan.key.map((prop) => sql`${last[prop]}`), sql`, `)})`;
}

export function sqlitePage(db: SourceDb, plan: TablePlan, last: Row | undefined, limit: number): Row[] {
  const where = last ? after(plan.sqliteKey, plan, last) : undefined;
  return db.select().from(plan.sqlite).where(where).orderBy(...plan.sqliteKey).limit(limit).all();
}

export function pgPage(tx: Conn, plan: TablePlan, last: Row | undefined, limit: number): Promise<Row[]> {
  const where = last ? after(plan.pgKey, plan, last) : undefined;
  return tx.select().from(plan.pg).where(where).orderBy(...plan.pgKey).limit(limit);
}

/**
 * One INSERT per batch with the batch as a single JSON parameter, which PostgreSQL turns into rows
 * of the table's own type: far cheaper than binding every value (and never near the 65,535
 * parameter limit). A JSON null becomes SQL NULL, nested JSON lands in jsonb as it is.
 */
async function insertRows(tx: Conn, plan: TablePlan, rows: readonly Row[]): Promise<void> {
  const columns = Object.entries(getTableColumns(plan.pg)).map(([prop, column]) => [prop, column.name] as const);
  const insert = (records: string[]) => tx.execute(sql`insert into ${plan.pg} select * from json_populate_recordset(null::${plan.pg}, ${`[${records.join(',')}]`}::json)`);
  let records: string[] = [];
  let size = 0;
  for (const row of rows) {
    const record = JSON.stringify(Object.fromEntries(columns.map(([prop, name]) => [name, row[prop]])));
    // Big rows (flags with long target lists, their audit entries) split a batch: bounded statements.
    if (size + record.length > MAX_STATEMENT_CHARS && records.length > 0) {
      await insert(records);
      records = [];
      size = 0;
    }
    records.push(record);
    size += record.length + 1;
  }
  if (records.length > 0) await insert(records);
}

/** Copy one table in batches; returns the number of rows. */
export async function copyTable(source: SourceDb, tx: Conn, plan: TablePlan): Promise<number> {
  let copied = 0;
  let last: Row | undefined;
  for (;;) {
    const rows = sqlitePage(source, plan, last, plan.batchRows);
    if (rows.length > 0) await insertRows(tx, plan, rows);
    copied += rows.length;
    if (rows.length < plan.batchRows) return copied;
    last = rows.at(-1);
  }
}

/** JSON with object keys sorted: jsonb reorders keys, SQLite keeps the text as written. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  let out = '';
  if (Array.isArray(value)) {
    for (const item of value) out += `${out ? ',' : ''}${canonicalJson(item)}`;
    return `[${out}]`;
  }
  // The default sort compares UTF-16 code units: the same order on both sides is all that matters.
  for (const key of Object.keys(value).sort()) {
    const item = (value as Row)[key];
    if (item !== undefined) out += `${out ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(item)}`;
  }
  return `{${out}}`;
}

export interface TableCheck {
  table: TableName;
  sourceRows: number;
  targetRows: number;
  sourceDigest: string;
  targetDigest: string;
  /** The primary key of the first row that differs (or exists on one side only), if any. */
  firstDifference: string | undefined;
}

/**
 * Read a table from both sides in the same order, in pages: count, digest (sha-256 of canonical
 * rows, one per line) and the first row that differs. Reads the source from its open snapshot.
 */
export async function compareTable(source: SourceDb, tx: Conn, plan: TablePlan): Promise<TableCheck> {
  const digests = { source: createHash('sha256'), target: createHash('sha256') };
  const check: TableCheck = { table: plan.name, sourceRows: 0, targetRows: 0, sourceDigest: '', targetDigest: '', firstDifference: undefined };
  let lastSource: Row | undefined;
  let lastTarget: Row | undefined;
  const page = plan.batchRows;
  for (;;) {
    const fromSource = sqlitePage(source, plan, lastSource, page);
    const fromTarget = await pgPage(tx, plan, lastTarget, page);
    for (let i = 0; i < Math.max(fromSource.length, fromTarget.length); i++) {
      const s = fromSource[i] === undefined ? undefined : canonicalJson(fromSource[i]);
      const t = fromTarget[i] === undefined ? undefined : canonicalJson(fromTarget[i]);
      if (s !== undefined) digests.source.update(`${s}\n`);
      if (t !== undefined) digests.target.update(`${t}\n`);
      if (s !== t && check.firstDifference === undefined) {
        const row = (fromSource[i] ?? fromTarget[i])!;
        check.firstDifference = plan.key.map((prop) => `${prop}=${JSON.stringify(row[prop])}`).join(', ');
      }
    }
    check.sourceRows += fromSource.length;
    check.targetRows += fromTarget.length;
    lastSource = fromSource.at(-1) ?? lastSource;
    lastTarget = fromTarget.at(-1) ?? lastTarget;
    if (fromSource.length < page && fromTarget.length < page) break;
  }
  check.sourceDigest = digests.source.digest('hex');
  check.targetDigest = digests.target.digest('hex');
  return check;
}
