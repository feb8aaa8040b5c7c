import { and, desc, eq, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { RuleSet } from '@switchyard/sdk';
import { AppError } from '../../domain/errors.js';
import type { Flag, FlagEnvironment } from '../../domain/flags.js';
import type { Db } from './connection.js';
import { auditLog, environments, flagEnvironments, flags, sdkKeys, segments } from './schema.js';
import { sameForSdks, toFlagConfig, toRuleSet } from '../../domain/ruleset.js';
import type {
  AuditContext,
  BatchOp,
  BatchResult,
  AuditEntry,
  AuditQuery,
  Environment,
  Mutation,
  NewFlag,
  RuleSetChange,
  Store,
  Write,
} from '../ports.js';
import { defaultFlagEnvironment } from '../../domain/flag-defaults.js';
import { applyBatchSqlite } from './batch.js';
import type { SessionStore } from '../../services/sessions.js';
import { SqliteSessionStore } from './sessions.js';
import type { ReleaseStore } from '../release-ports.js';
import { SqliteReleaseStore } from './releases.js';
import { SqliteCredentials } from './credentials.js';
import { type Conn, SqliteKernel } from './kernel.js';
import { SqliteSegments } from './segments.js';
import { flagFromRow, flagParams } from './statements.js';
import { flagColumns, toAuditEntry, toEnvironment, toFlag, toSegment } from './rows.js';

/**
 * The embedded default store: better-sqlite3 is synchronous, so each write is one short
 * transaction. Flags, environments, audit and rule sets live here; segments and credentials in
 * their own files, all sharing one kernel (connection, statements, transactions, audit writes).
 */
export class SqliteStore implements Store {
  private readonly k: SqliteKernel;
  private readonly segmentStore: SqliteSegments;
  private readonly credentials: SqliteCredentials;
  readonly sessions: SessionStore;
  readonly releases: ReleaseStore;

  constructor(db: Db, now: () => number = Date.now) {
    this.k = new SqliteKernel(db, now);
    this.segmentStore = new SqliteSegments(this.k);
    this.credentials = new SqliteCredentials(this.k);
    this.sessions = new SqliteSessionStore(db);
    this.releases = new SqliteReleaseStore(db, now);
  }

  // Segments and credentials: delegated.
  listSegments = () => this.segmentStore.listSegments();
  listSegmentKeys = () => this.segmentStore.listSegmentKeys();
  getSegment = (key: string) => this.segmentStore.getSegment(key);
  createSegment: Store['createSegment'] = (input, ctx) => this.segmentStore.createSegment(input, ctx);
  updateSegment: Store['updateSegment'] = (key, expected, mutation, ctx) => this.segmentStore.updateSegment(key, expected, mutation, ctx);
  deleteSegment: Store['deleteSegment'] = (key, expected, ctx) => this.segmentStore.deleteSegment(key, expected, ctx);
  countApiTokens = () => this.credentials.countApiTokens();
  createApiToken: Store['createApiToken'] = (input, ctx) => this.credentials.createApiToken(input, ctx);
  listApiTokens = () => this.credentials.listApiTokens();
  findApiToken = (hash: string) => this.credentials.findApiToken(hash);
  touchApiToken = (id: number, at: number) => this.credentials.touchApiToken(id, at);
  revokeApiToken: Store['revokeApiToken'] = (id, ctx) => this.credentials.revokeApiToken(id, ctx);
  createSdkKey: Store['createSdkKey'] = (input, ctx) => this.credentials.createSdkKey(input, ctx);
  listSdkKeys = () => this.credentials.listSdkKeys();
  findSdkKey = (hash: string) => this.credentials.findSdkKey(hash);
  revokeSdkKey: Store['revokeSdkKey'] = (id, ctx) => this.credentials.revokeSdkKey(id, ctx);

  // ---- helpers (run inside a transaction) ----

  private loadFlag(_tx: Conn, key: string): (Flag & { id: number }) | undefined {
    const row = this.k.stmts.flagByKey.get(key);
    if (!row) return undefined;
    return flagFromRow(row, this.k.stmts.flagConfigs.all(row.id));
  }

  /**
   * Bump the version of every environment whose SDK view of the flag changed; return the patches.
   * A flag has a configuration in every environment, so its own keys name them all.
   */
  private flagChanges(_tx: Conn, before: Flag | null, after: Flag | null, unchanged?: ReadonlySet<string>): RuleSetChange[] {
    const changes: RuleSetChange[] = [];
    const key = (after ?? before)!.key;
    const envKeys = new Set([...Object.keys(before?.environments ?? {}), ...Object.keys(after?.environments ?? {})]);
    for (const env of envKeys) {
      if (unchanged?.has(env)) continue; // same stored config and same variations: SDKs see nothing new
      const a = before ? toFlagConfig(before, env) : null;
      const b = after ? toFlagConfig(after, env) : null;
      if (sameForSdks(a, b)) continue;
      const id = this.k.environmentId(env);
      if (id === undefined) continue; // an environment deleted meanwhile: no SDK can see it
      changes.push({ environment: env, version: this.k.bumpEnvironment(_tx, id), flags: { [key]: b }, segments: {} });
    }
    return changes;
  }

  /** Write the configurations that differ from `previous` (all of them when there is none). */
  private writeFlagConfigs(_tx: Conn, flagId: number, configs: Record<string, FlagEnvironment>, previous?: Record<string, FlagEnvironment>): void {
    for (const [envKey, config] of Object.entries(configs)) {
      const environmentId = this.k.environmentId(envKey);
      if (environmentId === undefined) throw AppError.invalid(`environments.${envKey}`, `unknown environment "${envKey}"`);
      const json = JSON.stringify(config);
      if (previous?.[envKey] !== undefined && JSON.stringify(previous[envKey]) === json) continue;
      this.k.stmts.upsertConfig.run(flagId, environmentId, json);
    }
  }

  // ---- environments ----

  async listEnvironments(): Promise<Environment[]> {
    return this.k.environmentRows(this.k.db).map(toEnvironment);
  }

  async createEnvironment(input: Pick<Environment, 'key' | 'name' | 'critical'>, ctx: AuditContext): Promise<Write<Environment>> {
    this.k.environmentsChanged();
    return this.k.transaction((tx) => {
      if (tx.select().from(environments).where(eq(environments.key, input.key)).get()) {
        throw new AppError('conflict', `environment "${input.key}" already exists`);
      }
      const maxOrder = tx.select({ max: sql<number>`coalesce(max(${environments.sortOrder}), -1)` }).from(environments).get()!.max;
      // Start above any version a deleted environment of the same key ever reached (each bump has its
      // own audit entry), so an SDK's old ETag or Last-Event-ID can never match the new rule set.
      const version = tx.select({ max: sql<number>`coalesce(max(${auditLog.id}), 0)` }).from(auditLog).get()!.max + 1;
      const row = tx.insert(environments).values({ ...input, sortOrder: maxOrder + 1, version }).returning().get();
      // Every flag gets a default (off) configuration in the new environment.
      for (const f of tx.select().from(flags).all()) {
        const variations = f.variations as Flag['variations'];
        const config = defaultFlagEnvironment(f.key, variations, f.type);
        tx.insert(flagEnvironments).values({ flagId: f.id, environmentId: row.id, config }).run();
      }
      const value = toEnvironment(row);
      const audit = this.k.audit(tx, { action: 'environment.created', resourceType: 'environment', resourceKey: row.key, environment: row.key, before: null, after: value }, ctx);
      return { value, changes: [], audit };
    });
  }

  async updateEnvironment(key: string, patch: Partial<Pick<Environment, 'name' | 'critical' | 'sortOrder'>>, ctx: AuditContext): Promise<Write<Environment>> {
    return this.k.transaction((tx) => {
      const row = tx.select().from(environments).where(eq(environments.key, key)).get();
      if (!row) throw AppError.notFound('environment', key);
      const updated = tx.update(environments).set(patch).where(eq(environments.id, row.id)).returning().get()!;
      const value = toEnvironment(updated);
      const audit = this.k.audit(tx, { action: 'environment.updated', resourceType: 'environment', resourceKey: key, environment: key, before: toEnvironment(row), after: value }, ctx);
      return { value, changes: [], audit };
    });
  }

  async deleteEnvironment(key: string, ctx: AuditContext): Promise<Write<Environment>> {
    this.k.environmentsChanged();
    return this.k.transaction((tx) => {
      const row = tx.select().from(environments).where(eq(environments.key, key)).get();
      if (!row) throw AppError.notFound('environment', key);
      const keys = tx.select({ id: sdkKeys.id }).from(sdkKeys).where(and(eq(sdkKeys.environmentId, row.id), isNull(sdkKeys.revokedAt))).all();
      if (keys.length > 0) {
        throw new AppError('conflict', `environment "${key}" has ${keys.length} active SDK key(s); revoke them first so no application loses its flags by surprise`);
      }
      // Revoked keys only hold the foreign key; their creation and revocation stay in the audit log.
      tx.delete(sdkKeys).where(eq(sdkKeys.environmentId, row.id)).run();
      tx.delete(environments).where(eq(environments.id, row.id)).run();
      const value = toEnvironment(row);
      const audit = this.k.audit(tx, { action: 'environment.deleted', resourceType: 'environment', resourceKey: key, environment: key, before: value, after: null }, ctx);
      return { value, changes: [], audit };
    });
  }

  // ---- flags ----

  async listFlags(): Promise<Flag[]> {
    const rows = this.k.db.select().from(flags).orderBy(flags.key).all();
    const configs = this.k.db
      .select({ flagId: flagEnvironments.flagId, key: environments.key, config: flagEnvironments.config })
      .from(flagEnvironments)
      .innerJoin(environments, eq(environments.id, flagEnvironments.environmentId))
      .all();
    const byFlag = new Map<number, Record<string, FlagEnvironment>>();
    for (const c of configs) {
      const entry = byFlag.get(c.flagId) ?? {};
      entry[c.key] = c.config as FlagEnvironment;
      byFlag.set(c.flagId, entry);
    }
    return rows.map((r) => toFlag(r, byFlag.get(r.id) ?? {}));
  }

  async getFlag(key: string): Promise<Flag | undefined> {
    const found = this.loadFlag(this.k.db, key);
    if (!found) return undefined;
    const { id: _id, ...flag } = found;
    return flag;
  }

  async createFlag(input: NewFlag, ctx: AuditContext): Promise<Write<Flag>> {
    return this.k.transaction((tx) => {
      if (tx.select({ id: flags.id }).from(flags).where(eq(flags.key, input.key)).get()) {
        throw new AppError('conflict', `flag "${input.key}" already exists`);
      }
      const at = this.k.now();
      const environmentKeys = this.k.environmentRows(tx).map((e) => e.key);
      const configs: Record<string, FlagEnvironment> = {};
      for (const env of environmentKeys) configs[env] = input.environments[env] ?? defaultFlagEnvironment(input.key, input.variations, input.type);
      const flag: Flag = { ...input, environments: configs, version: 1, createdAt: at, updatedAt: at, updatedBy: ctx.actor };
      const row = tx.insert(flags).values(flagColumns(flag)).returning({ id: flags.id }).get();
      this.writeFlagConfigs(tx, row.id, configs);
      const changes = this.flagChanges(tx, null, flag);
      const audit = this.k.audit(tx, { action: 'flag.created', resourceType: 'flag', resourceKey: flag.key, environment: null, before: null, after: flag }, ctx);
      return { value: flag, changes, audit };
    });
  }

  async updateFlag(
    key: string,
    expectedVersion: number | undefined,
    action: string,
    environment: string | null,
    mutation: Mutation<Flag>,
    ctx: AuditContext,
  ): Promise<Write<Flag>> {
    return this.k.transaction((tx) => {
      const row = this.k.stmts.flagByKey.get(key);
      if (!row) throw AppError.notFound('flag', key);
      const stored = this.k.stmts.flagConfigs.all(row.id);
      const { id, ...before } = flagFromRow(row, stored);
      this.k.checkVersion(`flag "${key}"`, before, expectedVersion);
      // The mutation gets its own copy (parsed again: cheaper than a deep clone) so `before` stays intact.
      const { id: _id, ...draft } = flagFromRow(row, stored);
      const changed = mutation(draft);
      const after: Flag = { ...changed, key, version: before.version + 1, createdAt: before.createdAt, updatedAt: this.k.now(), updatedBy: ctx.actor };
      this.k.stmts.updateFlag.run(flagParams(id, after));
      // Environments whose stored JSON is unchanged need neither a write nor an SDK comparison.
      const storedJson = new Map(stored.map((c) => [c.env, c.config]));
      const unchanged = new Set<string>();
      for (const [env, config] of Object.entries(after.environments)) {
        const json = JSON.stringify(config);
        const environmentId = this.k.environmentId(env);
        if (environmentId === undefined) throw AppError.invalid(`environments.${env}`, `unknown environment "${env}"`);
        if (storedJson.get(env) === json) unchanged.add(env);
        else this.k.stmts.upsertConfig.run(id, environmentId, json);
      }
      const sameShape = before.type === after.type && before.archived === after.archived && JSON.stringify(before.variations) === JSON.stringify(after.variations);
      const changes = this.flagChanges(tx, before, after, sameShape ? unchanged : undefined);
      const audit = this.k.audit(tx, { action, resourceType: 'flag', resourceKey: key, environment, before, after }, ctx);
      return { value: after, changes, audit };
    });
  }

  async deleteFlag(key: string, expectedVersion: number | undefined, ctx: AuditContext): Promise<Write<Flag>> {
    return this.k.transaction((tx) => {
      const found = this.loadFlag(tx, key);
      if (!found) throw AppError.notFound('flag', key);
      const { id, ...before } = found;
      this.k.checkVersion(`flag "${key}"`, before, expectedVersion);
      tx.delete(flags).where(eq(flags.id, id)).run();
      const changes = this.flagChanges(tx, before, null);
      const audit = this.k.audit(tx, { action: 'flag.deleted', resourceType: 'flag', resourceKey: key, environment: null, before, after: null }, ctx);
      return { value: before, changes, audit };
    });
  }

  async restoreFlag(key: string, snapshot: Flag | null, expectedVersion: number | undefined, ctx: AuditContext & { revertOf: number }): Promise<Write<Flag | null>> {
    return this.k.transaction((tx) => {
      const found = this.loadFlag(tx, key);
      const before = found ? (({ id: _id, ...f }) => f)(found) : null;
      if (before) this.k.checkVersion(`flag "${key}"`, before, expectedVersion);
      let after: Flag | null = null;
      if (snapshot === null) {
        if (found) tx.delete(flags).where(eq(flags.id, found.id)).run();
      } else {
        const envKeys = new Set(this.k.environmentRows(tx).map((e) => e.key));
        const configs = Object.fromEntries(Object.entries(snapshot.environments).filter(([env]) => envKeys.has(env)));
        for (const env of envKeys) configs[env] ??= before?.environments[env] ?? defaultFlagEnvironment(key, snapshot.variations, snapshot.type);
        const at = this.k.now();
        after = { ...snapshot, key, environments: configs, version: (before?.version ?? snapshot.version) + 1, updatedAt: at, updatedBy: ctx.actor };
        let id = found?.id;
        if (id === undefined) id = tx.insert(flags).values(flagColumns(after)).returning({ id: flags.id }).get().id;
        else tx.update(flags).set(flagColumns(after)).where(eq(flags.id, id)).run();
        this.writeFlagConfigs(tx, id, configs);
      }
      const changes = this.flagChanges(tx, before, after);
      const audit = this.k.audit(
        tx,
        { action: 'flag.reverted', resourceType: 'flag', resourceKey: key, environment: null, before, after },
        { ...ctx, message: ctx.message ?? `revert of audit entry #${ctx.revertOf}` },
      );
      return { value: after, changes, audit };
    });
  }

  async applyBatch(ops: readonly BatchOp[], ctx: AuditContext): Promise<BatchResult> {
    try {
      return applyBatchSqlite(this.k.db, ops, ctx, this.k.now);
    } finally {
      this.k.environmentsChanged(); // a file may create environments
    }
  }

  // ---- audit ----

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const where: SQL[] = [];
    if (query.resourceType) where.push(eq(auditLog.resourceType, query.resourceType));
    if (query.resourceKey) where.push(eq(auditLog.resourceKey, query.resourceKey));
    if (query.environment) where.push(eq(auditLog.environment, query.environment));
    if (query.actor) where.push(eq(auditLog.actor, query.actor));
    if (query.before !== undefined) where.push(lt(auditLog.id, query.before));
    return this.k.db
      .select()
      .from(auditLog)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(auditLog.id))
      .limit(query.limit)
      .all()
      .map(toAuditEntry);
  }

  async writtenBy(actor: string): Promise<{ flags: string[]; segments: string[] }> {
    const rows = this.k.db.all<{ type: string; key: string }>(sql`
      select a.resource_type as type, a.resource_key as key from audit_log a
      where a.actor = ${actor} and a.resource_type in ('flag', 'segment')
        and a.id > coalesce((select max(c.id) from audit_log c
          where c.resource_type = a.resource_type and c.resource_key = a.resource_key
            and c.action = a.resource_type || '.created' and c.actor <> ${actor}), 0)
      group by a.resource_type, a.resource_key`);
    return { flags: rows.filter((r) => r.type === 'flag').map((r) => r.key), segments: rows.filter((r) => r.type === 'segment').map((r) => r.key) };
  }

  async getAuditEntry(id: number): Promise<AuditEntry | undefined> {
    const row = this.k.db.select().from(auditLog).where(eq(auditLog.id, id)).get();
    return row ? toAuditEntry(row) : undefined;
  }

  // ---- rule sets ----

  async getRuleSet(environment: string): Promise<RuleSet | undefined> {
    return this.k.transaction((tx) => {
      const env = tx.select().from(environments).where(eq(environments.key, environment)).get();
      if (!env) return undefined;
      const flagRows = tx.select().from(flags).where(eq(flags.archived, false)).all();
      const configs = tx.select().from(flagEnvironments).where(eq(flagEnvironments.environmentId, env.id)).all();
      const byFlag = new Map(configs.map((c) => [c.flagId, c.config as FlagEnvironment]));
      const list = flagRows.map((r) => toFlag(r, byFlag.has(r.id) ? { [environment]: byFlag.get(r.id)! } : {}));
      return toRuleSet(environment, env.version, list, tx.select().from(segments).all().map(toSegment));
    });
  }

  async close(): Promise<void> {
    this.k.db.$client.close();
  }
}
