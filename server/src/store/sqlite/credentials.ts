import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import { apiTokens, environments, sdkKeys } from './schema.js';
import { AppError } from '../../domain/errors.js';
import type { ApiToken, AuditContext, Role, SdkKey } from '../ports.js';
import type { Conn, SqliteKernel } from './kernel.js';

/** API tokens and SDK keys: only sha-256 hashes of their secrets are stored. */
export class SqliteCredentials {
  constructor(private readonly k: SqliteKernel) {}

  async countApiTokens(): Promise<number> {
    return this.k.db.select({ n: sql<number>`count(*)` }).from(apiTokens).get()!.n;
  }

  async createApiToken(input: { name: string; role: Role; tokenHash: string; prefix: string }, ctx: AuditContext): Promise<ApiToken> {
    return this.k.transaction((tx) => {
      const row = tx.insert(apiTokens).values({ ...input, createdBy: ctx.actor, createdAt: this.k.now() }).returning().get();
      const token = toApiToken(row);
      this.k.audit(tx, { action: 'api_token.created', resourceType: 'api_token', resourceKey: String(row.id), environment: null, before: null, after: token }, ctx);
      return token;
    });
  }

  async listApiTokens(): Promise<ApiToken[]> {
    return this.k.db.select().from(apiTokens).orderBy(apiTokens.id).all().map(toApiToken);
  }

  async findApiToken(tokenHash: string): Promise<ApiToken | undefined> {
    const row = this.k.db
      .select()
      .from(apiTokens)
      .where(and(eq(apiTokens.tokenHash, tokenHash), isNull(apiTokens.revokedAt)))
      .get();
    return row ? toApiToken(row) : undefined;
  }

  async touchApiToken(id: number, at: number): Promise<void> {
    this.k.db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id)).run();
  }

  async revokeApiToken(id: number, ctx: AuditContext): Promise<ApiToken> {
    return this.k.transaction((tx) => {
      const row = tx.select().from(apiTokens).where(eq(apiTokens.id, id)).get();
      if (!row) throw AppError.notFound('API token', id);
      if (row.revokedAt !== null) throw new AppError('conflict', `API token ${id} is already revoked`);
      const updated = tx.update(apiTokens).set({ revokedAt: this.k.now() }).where(eq(apiTokens.id, id)).returning().get()!;
      const token = toApiToken(updated);
      this.k.audit(tx, { action: 'api_token.revoked', resourceType: 'api_token', resourceKey: String(id), environment: null, before: toApiToken(row), after: token }, ctx);
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
    return this.k.transaction((tx) => {
      const env = tx.select().from(environments).where(eq(environments.key, input.environment)).get();
      if (!env) throw AppError.invalid('environment', `unknown environment "${input.environment}"`);
      const row = tx
        .insert(sdkKeys)
        .values({ name: input.name, environmentId: env.id, keyHash: input.keyHash, prefix: input.prefix, createdBy: ctx.actor, createdAt: this.k.now() })
        .returning()
        .get();
      const key = toSdkKey(row, env.key);
      this.k.audit(tx, { action: 'sdk_key.created', resourceType: 'sdk_key', resourceKey: String(row.id), environment: env.key, before: null, after: key }, ctx);
      return key;
    });
  }

  async listSdkKeys(): Promise<SdkKey[]> {
    return this.sdkKeyRows(this.k.db);
  }

  async findSdkKey(keyHash: string): Promise<SdkKey | undefined> {
    return this.sdkKeyRows(this.k.db, and(eq(sdkKeys.keyHash, keyHash), isNull(sdkKeys.revokedAt)))[0];
  }

  async revokeSdkKey(id: number, ctx: AuditContext): Promise<SdkKey> {
    return this.k.transaction((tx) => {
      const [before] = this.sdkKeyRows(tx, eq(sdkKeys.id, id));
      if (!before) throw AppError.notFound('SDK key', id);
      if (before.revokedAt !== null) throw new AppError('conflict', `SDK key ${id} is already revoked`);
      tx.update(sdkKeys).set({ revokedAt: this.k.now() }).where(eq(sdkKeys.id, id)).run();
      const [after] = this.sdkKeyRows(tx, eq(sdkKeys.id, id));
      this.k.audit(tx, { action: 'sdk_key.revoked', resourceType: 'sdk_key', resourceKey: String(id), environment: before.environment, before, after }, ctx);
      return after!;
    });
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
