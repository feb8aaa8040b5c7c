import { and, desc, eq, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { RuleSet } from '@switchyard/sdk';
import { AppError } from '../../errors.js';
import type { Flag, FlagEnvironment } from '../../flags/flags.schemas.js';
import type { Segment } from '../../segments/segments.schemas.js';
import type { Db } from '../../db/client.js';
import { apiTokens, auditLog, environments, flagEnvironments, flags, sdkKeys, segments } from '../../db/schema.js';
import { sameForSdks, toFlagConfig, toRuleSet, toRuleSetSegment } from '../../rulesets/ruleset.js';
import type {
  ApiToken,
  AuditContext,
  BatchOp,
  BatchResult,
  AuditEntry,
  AuditQuery,
  AuditResource,
  Environment,
  Mutation,
  NewFlag,
  NewSegment,
  Role,
  RuleSetChange,
  SdkKey,
  Store,
  Write,
} from '../store.js';
import { defaultFlagEnvironment } from '../../flags/defaults.js';
import { applyBatchSqlite } from './batch.js';
import type { SessionStore } from '../../sessions/sessions.store.js';
import { SqliteSessionStore } from './sessions.js';
import type { ReleaseStore } from '../../releases/releases.store.js';
import { SqliteReleaseStore } from './releases.js';
import { Statements, flagFromRow, flagParams } from './statements.js';
import { flagColumns, segmentColumns, toAuditEntry, toEnvironment, toFlag, toSegment } from './rows.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
type Conn = Db | Tx;

interface AuditWrite {
  action: string;
  resourceType: AuditResource;
  resourceKey: string;
  environment: string | null;
  before: unknown;
  after: unknown;
}

/** The embedded default store: better-sqlite3 is synchronous, so each write is one short transaction. */
export class SqliteStore implements Store {
  private readonly stmts: Statements;
  readonly sessions: SessionStore;
  readonly releases: ReleaseStore;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.stmts = new Statements(db.$client);
    this.sessions = new SqliteSessionStore(db);
    this.releases = new SqliteReleaseStore(db, now);
  }

  // ---- helpers (run inside a transaction) ----

  /**
   * better-sqlite3's own transaction wrapper (cached BEGIN/COMMIT statements); the drizzle handle
   * shares its connection, so queries inside run in the same transaction. Throwing rolls back.
   */
  private transaction<T>(fn: (tx: Conn) => T): T {
    return this.db.$client.transaction(() => fn(this.db))();
  }

  private audit(_tx: Conn, entry: AuditWrite, ctx: AuditContext): AuditEntry {
    const at = this.now();
    const before = entry.before ?? null;
    const after = entry.after ?? null;
    const { id } = this.stmts.insertAudit.get(
      at,
      ctx.actor,
      entry.action,
      entry.resourceType,
      entry.resourceKey,
      entry.environment,
      before === null ? null : JSON.stringify(before),
      after === null ? null : JSON.stringify(after),
      ctx.source,
      ctx.message ?? null,
      ctx.commit ?? null,
    )!;
    return { id, at, actor: ctx.actor, source: ctx.source, message: ctx.message ?? null, commit: ctx.commit ?? null, ...entry, before, after };
  }

  private environmentRows(_tx?: Conn) {
    return this.stmts.environments.all().map((r) => ({ id: r.id, key: r.key, name: r.name, critical: r.critical === 1, sortOrder: r.sort_order, version: r.version, createdAt: r.created_at }));
  }

  private loadFlag(_tx: Conn, key: string): (Flag & { id: number }) | undefined {
    const row = this.stmts.flagByKey.get(key);
    if (!row) return undefined;
    return flagFromRow(row, this.stmts.flagConfigs.all(row.id));
  }

  /**
   * Environment key → id, read once: the hot write path looks ids up instead of re-reading the
   * table. Cleared by every write that adds or removes environments (see `environmentsChanged`).
   */
  private envIds = new Map<string, number>();

  private environmentsChanged(): void {
    this.envIds.clear();
  }

  private environmentId(key: string): number | undefined {
    if (this.envIds.size === 0 || !this.envIds.has(key)) {
      this.envIds = new Map(this.stmts.environments.all().map((r) => [r.key, r.id]));
    }
    return this.envIds.get(key);
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
      const id = this.environmentId(env);
      if (id === undefined) continue; // an environment deleted meanwhile: no SDK can see it
      changes.push({ environment: env, version: this.bumpEnvironment(_tx, id), flags: { [key]: b }, segments: {} });
    }
    return changes;
  }

  private bumpEnvironment(_tx: Conn, id: number): number {
    return this.stmts.bumpEnvironment.get(id)!.version;
  }

  /** Write the configurations that differ from `previous` (all of them when there is none). */
  private writeFlagConfigs(_tx: Conn, flagId: number, configs: Record<string, FlagEnvironment>, previous?: Record<string, FlagEnvironment>): void {
    for (const [envKey, config] of Object.entries(configs)) {
      const environmentId = this.environmentId(envKey);
      if (environmentId === undefined) throw AppError.invalid(`environments.${envKey}`, `unknown environment "${envKey}"`);
      const json = JSON.stringify(config);
      if (previous?.[envKey] !== undefined && JSON.stringify(previous[envKey]) === json) continue;
      this.stmts.upsertConfig.run(flagId, environmentId, json);
    }
  }

  private checkVersion(what: string, current: { version: number; updatedBy?: string; updatedAt?: number }, expected: number | undefined) {
    if (expected !== undefined && expected !== current.version) {
      throw AppError.versionConflict(what, current.version, current.updatedBy, current.updatedAt ? new Date(current.updatedAt).toISOString() : undefined);
    }
  }

  // ---- environments ----

  async listEnvironments(): Promise<Environment[]> {
    return this.environmentRows(this.db).map(toEnvironment);
  }

  async createEnvironment(input: Pick<Environment, 'key' | 'name' | 'critical'>, ctx: AuditContext): Promise<Write<Environment>> {
    this.environmentsChanged();
    return this.transaction((tx) => {
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
      const audit = this.audit(tx, { action: 'environment.created', resourceType: 'environment', resourceKey: row.key, environment: row.key, before: null, after: value }, ctx);
      return { value, changes: [], audit };
    });
  }

  async updateEnvironment(key: string, patch: Partial<Pick<Environment, 'name' | 'critical' | 'sortOrder'>>, ctx: AuditContext): Promise<Write<Environment>> {
    return this.transaction((tx) => {
      const row = tx.select().from(environments).where(eq(environments.key, key)).get();
      if (!row) throw AppError.notFound('environment', key);
      const updated = tx.update(environments).set(patch).where(eq(environments.id, row.id)).returning().get()!;
      const value = toEnvironment(updated);
      const audit = this.audit(tx, { action: 'environment.updated', resourceType: 'environment', resourceKey: key, environment: key, before: toEnvironment(row), after: value }, ctx);
      return { value, changes: [], audit };
    });
  }

  async deleteEnvironment(key: string, ctx: AuditContext): Promise<Write<Environment>> {
    this.environmentsChanged();
    return this.transaction((tx) => {
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
      const audit = this.audit(tx, { action: 'environment.deleted', resourceType: 'environment', resourceKey: key, environment: key, before: value, after: null }, ctx);
      return { value, changes: [], audit };
    });
  }

  // ---- flags ----

  async listFlags(): Promise<Flag[]> {
    const rows = this.db.select().from(flags).orderBy(flags.key).all();
    const configs = this.db
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
    const found = this.loadFlag(this.db, key);
    if (!found) return undefined;
    const { id: _id, ...flag } = found;
    return flag;
  }

  async createFlag(input: NewFlag, ctx: AuditContext): Promise<Write<Flag>> {
    return this.transaction((tx) => {
      if (tx.select({ id: flags.id }).from(flags).where(eq(flags.key, input.key)).get()) {
        throw new AppError('conflict', `flag "${input.key}" already exists`);
      }
      const at = this.now();
      const environmentKeys = this.environmentRows(tx).map((e) => e.key);
      const configs: Record<string, FlagEnvironment> = {};
      for (const env of environmentKeys) configs[env] = input.environments[env] ?? defaultFlagEnvironment(input.key, input.variations, input.type);
      const flag: Flag = { ...input, environments: configs, version: 1, createdAt: at, updatedAt: at, updatedBy: ctx.actor };
      const row = tx.insert(flags).values(flagColumns(flag)).returning({ id: flags.id }).get();
      this.writeFlagConfigs(tx, row.id, configs);
      const changes = this.flagChanges(tx, null, flag);
      const audit = this.audit(tx, { action: 'flag.created', resourceType: 'flag', resourceKey: flag.key, environment: null, before: null, after: flag }, ctx);
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
    return this.transaction((tx) => {
      const row = this.stmts.flagByKey.get(key);
      if (!row) throw AppError.notFound('flag', key);
      const stored = this.stmts.flagConfigs.all(row.id);
      const { id, ...before } = flagFromRow(row, stored);
      this.checkVersion(`flag "${key}"`, before, expectedVersion);
      // The mutation gets its own copy (parsed again: cheaper than a deep clone) so `before` stays intact.
      const { id: _id, ...draft } = flagFromRow(row, stored);
      const changed = mutation(draft);
      const after: Flag = { ...changed, key, version: before.version + 1, createdAt: before.createdAt, updatedAt: this.now(), updatedBy: ctx.actor };
      this.stmts.updateFlag.run(flagParams(id, after));
      // Environments whose stored JSON is unchanged need neither a write nor an SDK comparison.
      const storedJson = new Map(stored.map((c) => [c.env, c.config]));
      const unchanged = new Set<string>();
      for (const [env, config] of Object.entries(after.environments)) {
        const json = JSON.stringify(config);
        const environmentId = this.environmentId(env);
        if (environmentId === undefined) throw AppError.invalid(`environments.${env}`, `unknown environment "${env}"`);
        if (storedJson.get(env) === json) unchanged.add(env);
        else this.stmts.upsertConfig.run(id, environmentId, json);
      }
      const sameShape = before.type === after.type && before.archived === after.archived && JSON.stringify(before.variations) === JSON.stringify(after.variations);
      const changes = this.flagChanges(tx, before, after, sameShape ? unchanged : undefined);
      const audit = this.audit(tx, { action, resourceType: 'flag', resourceKey: key, environment, before, after }, ctx);
      return { value: after, changes, audit };
    });
  }

  async deleteFlag(key: string, expectedVersion: number | undefined, ctx: AuditContext): Promise<Write<Flag>> {
    return this.transaction((tx) => {
      const found = this.loadFlag(tx, key);
      if (!found) throw AppError.notFound('flag', key);
      const { id, ...before } = found;
      this.checkVersion(`flag "${key}"`, before, expectedVersion);
      tx.delete(flags).where(eq(flags.id, id)).run();
      const changes = this.flagChanges(tx, before, null);
      const audit = this.audit(tx, { action: 'flag.deleted', resourceType: 'flag', resourceKey: key, environment: null, before, after: null }, ctx);
      return { value: before, changes, audit };
    });
  }

  async restoreFlag(key: string, snapshot: Flag | null, expectedVersion: number | undefined, ctx: AuditContext & { revertOf: number }): Promise<Write<Flag | null>> {
    return this.transaction((tx) => {
      const found = this.loadFlag(tx, key);
      const before = found ? (({ id: _id, ...f }) => f)(found) : null;
      if (before) this.checkVersion(`flag "${key}"`, before, expectedVersion);
      let after: Flag | null = null;
      if (snapshot === null) {
        if (found) tx.delete(flags).where(eq(flags.id, found.id)).run();
      } else {
        const envKeys = new Set(this.environmentRows(tx).map((e) => e.key));
        const configs = Object.fromEntries(Object.entries(snapshot.environments).filter(([env]) => envKeys.has(env)));
        for (const env of envKeys) configs[env] ??= before?.environments[env] ?? defaultFlagEnvironment(key, snapshot.variations, snapshot.type);
        const at = this.now();
        after = { ...snapshot, key, environments: configs, version: (before?.version ?? snapshot.version) + 1, updatedAt: at, updatedBy: ctx.actor };
        let id = found?.id;
        if (id === undefined) id = tx.insert(flags).values(flagColumns(after)).returning({ id: flags.id }).get().id;
        else tx.update(flags).set(flagColumns(after)).where(eq(flags.id, id)).run();
        this.writeFlagConfigs(tx, id, configs);
      }
      const changes = this.flagChanges(tx, before, after);
      const audit = this.audit(
        tx,
        { action: 'flag.reverted', resourceType: 'flag', resourceKey: key, environment: null, before, after },
        { ...ctx, message: ctx.message ?? `revert of audit entry #${ctx.revertOf}` },
      );
      return { value: after, changes, audit };
    });
  }

  async applyBatch(ops: readonly BatchOp[], ctx: AuditContext): Promise<BatchResult> {
    try {
      return applyBatchSqlite(this.db, ops, ctx, this.now);
    } finally {
      this.environmentsChanged(); // a file may create environments
    }
  }

  // ---- segments ----

  async listSegments(): Promise<Segment[]> {
    return this.db.select().from(segments).orderBy(segments.key).all().map(toSegment);
  }

  async listSegmentKeys(): Promise<string[]> {
    return this.stmts.segmentKeys.all().map((r) => r.key);
  }

  async getSegment(key: string): Promise<Segment | undefined> {
    const row = this.db.select().from(segments).where(eq(segments.key, key)).get();
    return row ? toSegment(row) : undefined;
  }

  /** Segments are global, so a segment change reaches every environment. */
  private segmentChanges(tx: Conn, key: string, after: Segment | null): RuleSetChange[] {
    return this.environmentRows(tx).map((env) => ({
      environment: env.key,
      version: this.bumpEnvironment(tx, env.id),
      flags: {},
      segments: { [key]: after ? toRuleSetSegment(after) : null },
    }));
  }

  async createSegment(input: NewSegment, ctx: AuditContext): Promise<Write<Segment>> {
    return this.transaction((tx) => {
      if (tx.select({ id: segments.id }).from(segments).where(eq(segments.key, input.key)).get()) {
        throw new AppError('conflict', `segment "${input.key}" already exists`);
      }
      const at = this.now();
      const segment: Segment = { ...input, version: 1, createdAt: at, updatedAt: at, updatedBy: ctx.actor };
      tx.insert(segments).values(segmentColumns(segment)).run();
      const changes = this.segmentChanges(tx, segment.key, segment);
      const audit = this.audit(tx, { action: 'segment.created', resourceType: 'segment', resourceKey: segment.key, environment: null, before: null, after: segment }, ctx);
      return { value: segment, changes, audit };
    });
  }

  async updateSegment(key: string, expectedVersion: number | undefined, mutation: Mutation<Segment>, ctx: AuditContext): Promise<Write<Segment>> {
    return this.transaction((tx) => {
      const row = tx.select().from(segments).where(eq(segments.key, key)).get();
      if (!row) throw AppError.notFound('segment', key);
      const before = toSegment(row);
      this.checkVersion(`segment "${key}"`, before, expectedVersion);
      const after: Segment = { ...mutation(structuredClone(before)), key, version: before.version + 1, createdAt: before.createdAt, updatedAt: this.now(), updatedBy: ctx.actor };
      tx.update(segments).set(segmentColumns(after)).where(eq(segments.id, row.id)).run();
      const changes = this.segmentChanges(tx, key, after);
      const audit = this.audit(tx, { action: 'segment.updated', resourceType: 'segment', resourceKey: key, environment: null, before, after }, ctx);
      return { value: after, changes, audit };
    });
  }

  async deleteSegment(key: string, expectedVersion: number | undefined, ctx: AuditContext): Promise<Write<Segment>> {
    return this.transaction((tx) => {
      const row = tx.select().from(segments).where(eq(segments.key, key)).get();
      if (!row) throw AppError.notFound('segment', key);
      const before = toSegment(row);
      this.checkVersion(`segment "${key}"`, before, expectedVersion);
      const users = tx
        .select({ key: flags.key })
        .from(flagEnvironments)
        .innerJoin(flags, eq(flags.id, flagEnvironments.flagId))
        .where(sql`exists (select 1 from json_each(${flagEnvironments.config}, '$.rules') r, json_each(r.value, '$.clauses') c, json_each(c.value, '$.values') v where json_extract(c.value, '$.operator') in ('in_segment', 'not_in_segment') and v.value = ${key})`)
        .all();
      if (users.length > 0) {
        const names = [...new Set(users.map((u) => u.key))].slice(0, 10).join(', ');
        throw new AppError('conflict', `segment "${key}" is used by flag(s): ${names}; remove those rules first`);
      }
      tx.delete(segments).where(eq(segments.id, row.id)).run();
      const changes = this.segmentChanges(tx, key, null);
      const audit = this.audit(tx, { action: 'segment.deleted', resourceType: 'segment', resourceKey: key, environment: null, before, after: null }, ctx);
      return { value: before, changes, audit };
    });
  }

  // ---- audit ----

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const where: SQL[] = [];
    if (query.resourceType) where.push(eq(auditLog.resourceType, query.resourceType));
    if (query.resourceKey) where.push(eq(auditLog.resourceKey, query.resourceKey));
    if (query.environment) where.push(eq(auditLog.environment, query.environment));
    if (query.actor) where.push(eq(auditLog.actor, query.actor));
    if (query.before !== undefined) where.push(lt(auditLog.id, query.before));
    return this.db
      .select()
      .from(auditLog)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(auditLog.id))
      .limit(query.limit)
      .all()
      .map(toAuditEntry);
  }

  async getAuditEntry(id: number): Promise<AuditEntry | undefined> {
    const row = this.db.select().from(auditLog).where(eq(auditLog.id, id)).get();
    return row ? toAuditEntry(row) : undefined;
  }

  // ---- rule sets ----

  async getRuleSet(environment: string): Promise<RuleSet | undefined> {
    return this.transaction((tx) => {
      const env = tx.select().from(environments).where(eq(environments.key, environment)).get();
      if (!env) return undefined;
      const flagRows = tx.select().from(flags).where(eq(flags.archived, false)).all();
      const configs = tx.select().from(flagEnvironments).where(eq(flagEnvironments.environmentId, env.id)).all();
      const byFlag = new Map(configs.map((c) => [c.flagId, c.config as FlagEnvironment]));
      const list = flagRows.map((r) => toFlag(r, byFlag.has(r.id) ? { [environment]: byFlag.get(r.id)! } : {}));
      return toRuleSet(environment, env.version, list, tx.select().from(segments).all().map(toSegment));
    });
  }

  // ---- credentials ----

  async countApiTokens(): Promise<number> {
    return this.db.select({ n: sql<number>`count(*)` }).from(apiTokens).get()!.n;
  }

  async createApiToken(input: { name: string; role: Role; tokenHash: string; prefix: string }, ctx: AuditContext): Promise<ApiToken> {
    return this.transaction((tx) => {
      const row = tx.insert(apiTokens).values({ ...input, createdBy: ctx.actor, createdAt: this.now() }).returning().get();
      const token = toApiToken(row);
      this.audit(tx, { action: 'api_token.created', resourceType: 'api_token', resourceKey: String(row.id), environment: null, before: null, after: token }, ctx);
      return token;
    });
  }

  async listApiTokens(): Promise<ApiToken[]> {
    return this.db.select().from(apiTokens).orderBy(apiTokens.id).all().map(toApiToken);
  }

  async findApiToken(tokenHash: string): Promise<ApiToken | undefined> {
    const row = this.db
      .select()
      .from(apiTokens)
      .where(and(eq(apiTokens.tokenHash, tokenHash), isNull(apiTokens.revokedAt)))
      .get();
    return row ? toApiToken(row) : undefined;
  }

  async touchApiToken(id: number, at: number): Promise<void> {
    this.db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id)).run();
  }

  async revokeApiToken(id: number, ctx: AuditContext): Promise<ApiToken> {
    return this.transaction((tx) => {
      const row = tx.select().from(apiTokens).where(eq(apiTokens.id, id)).get();
      if (!row) throw AppError.notFound('API token', id);
      if (row.revokedAt !== null) throw new AppError('conflict', `API token ${id} is already revoked`);
      const updated = tx.update(apiTokens).set({ revokedAt: this.now() }).where(eq(apiTokens.id, id)).returning().get()!;
      const token = toApiToken(updated);
      this.audit(tx, { action: 'api_token.revoked', resourceType: 'api_token', resourceKey: String(id), environment: null, before: toApiToken(row), after: token }, ctx);
      return token;
    });
  }

  private sdkKeyRows(conn: Conn, where?: SQL) {
    return conn
      .select({ key: sdkKeys, environment: environments.key })
      .from(sdkKeys)
      .innerJoin(environments, eq(environments.id, sdkKeys.environmentId))
      .where(where)
      .orderBy(sdkKeys.id)
      .all()
      .map((r) => toSdkKey(r.key, r.environment));
  }

  async createSdkKey(input: { name: string; environment: string; keyHash: string; prefix: string }, ctx: AuditContext): Promise<SdkKey> {
    return this.transaction((tx) => {
      const env = tx.select().from(environments).where(eq(environments.key, input.environment)).get();
      if (!env) throw AppError.invalid('environment', `unknown environment "${input.environment}"`);
      const row = tx
        .insert(sdkKeys)
        .values({ name: input.name, environmentId: env.id, keyHash: input.keyHash, prefix: input.prefix, createdBy: ctx.actor, createdAt: this.now() })
        .returning()
        .get();
      const key = toSdkKey(row, env.key);
      this.audit(tx, { action: 'sdk_key.created', resourceType: 'sdk_key', resourceKey: String(row.id), environment: env.key, before: null, after: key }, ctx);
      return key;
    });
  }

  async listSdkKeys(): Promise<SdkKey[]> {
    return this.sdkKeyRows(this.db);
  }

  async findSdkKey(keyHash: string): Promise<SdkKey | undefined> {
    return this.sdkKeyRows(this.db, and(eq(sdkKeys.keyHash, keyHash), isNull(sdkKeys.revokedAt)))[0];
  }

  async revokeSdkKey(id: number, ctx: AuditContext): Promise<SdkKey> {
    return this.transaction((tx) => {
      const [before] = this.sdkKeyRows(tx, eq(sdkKeys.id, id));
      if (!before) throw AppError.notFound('SDK key', id);
      if (before.revokedAt !== null) throw new AppError('conflict', `SDK key ${id} is already revoked`);
      tx.update(sdkKeys).set({ revokedAt: this.now() }).where(eq(sdkKeys.id, id)).run();
      const [after] = this.sdkKeyRows(tx, eq(sdkKeys.id, id));
      this.audit(tx, { action: 'sdk_key.revoked', resourceType: 'sdk_key', resourceKey: String(id), environment: before.environment, before, after }, ctx);
      return after!;
    });
  }

  async close(): Promise<void> {
    this.db.$client.close();
  }
}

function toApiToken(row: typeof apiTokens.$inferSelect): ApiToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    prefix: row.prefix,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}

function toSdkKey(row: typeof sdkKeys.$inferSelect, environment: string): SdkKey {
  return {
    id: row.id,
    name: row.name,
    environment,
    prefix: row.prefix,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    revokedAt: row.revokedAt,
  };
}
