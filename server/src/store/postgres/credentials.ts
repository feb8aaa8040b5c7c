import { and, count, eq, gt, isNull, lte, sql, type SQL } from 'drizzle-orm';
import type { Role } from '../../domain/credentials.js';
import { AppError } from '../../domain/errors.js';
import { onViolation } from '../constraints.js';
import type { ApiTokenRepository, SdkKeyRepository, SessionRepository, Tx } from '../ports.js';
import { toApiToken, toSdkKey } from '../rows.js';
import { conn } from './connection.js';
import { apiTokens, environments, sdkKeys, sessions } from './schema.js';

export const postgresTokens: ApiTokenRepository = {
  async count(tx) {
    const [row] = await conn(tx).select({ n: count() }).from(apiTokens);
    return row!.n;
  },

  async insert(tx, token) {
    const [row] = await conn(tx).insert(apiTokens).values(token).returning();
    return toApiToken(row!);
  },

  async list(tx) {
    return (await conn(tx).select().from(apiTokens).orderBy(apiTokens.id)).map(toApiToken);
  },

  async get(tx, id) {
    const [row] = await conn(tx).select().from(apiTokens).where(eq(apiTokens.id, id));
    return row ? toApiToken(row) : undefined;
  },

  async findActive(tx, tokenHash) {
    const [row] = await conn(tx).select().from(apiTokens).where(and(eq(apiTokens.tokenHash, tokenHash), isNull(apiTokens.revokedAt)));
    return row ? toApiToken(row) : undefined;
  },

  async touch(tx, id, at) {
    await conn(tx).update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id));
  },

  async revoke(tx, id, at) {
    const [row] = await conn(tx).update(apiTokens).set({ revokedAt: at }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))).returning();
    return row ? toApiToken(row) : undefined;
  },
};

async function sdkKeyRows(tx: Tx, where?: SQL) {
  const rows = await conn(tx)
    .select({ key: sdkKeys, environment: environments.key })
    .from(sdkKeys)
    .innerJoin(environments, eq(environments.id, sdkKeys.environmentId))
    .where(where)
    .orderBy(sdkKeys.id);
  return rows.map((r) => toSdkKey(r.key, r.environment));
}

export const postgresSdkKeys: SdkKeyRepository = {
  async insert(tx, { environment, ...key }) {
    const environmentId = sql<number>`(select ${environments.id} from ${environments} where ${environments.key} = ${environment})`;
    const [row] = await onViolation('not_null', () => AppError.invalid('environment', `unknown environment "${environment}"`), () =>
      conn(tx).insert(sdkKeys).values({ ...key, environmentId }).returning(),
    );
    return toSdkKey(row!, environment);
  },

  list: (tx) => sdkKeyRows(tx),

  async get(tx, id) {
    return (await sdkKeyRows(tx, eq(sdkKeys.id, id)))[0];
  },

  async findActive(tx, keyHash) {
    const [row] = await conn(tx)
      .select({ key: sdkKeys, environment: environments.key, clientSecret: environments.clientSecret })
      .from(sdkKeys)
      .innerJoin(environments, eq(environments.id, sdkKeys.environmentId))
      .where(and(eq(sdkKeys.keyHash, keyHash), isNull(sdkKeys.revokedAt)));
    return row ? { ...toSdkKey(row.key, row.environment), clientSecret: row.clientSecret } : undefined;
  },

  async activeById(tx, id) {
    const [row] = await conn(tx)
      .select({ key: sdkKeys, environment: environments.key })
      .from(sdkKeys)
      .innerJoin(environments, eq(environments.id, sdkKeys.environmentId))
      .where(and(eq(sdkKeys.id, id), isNull(sdkKeys.revokedAt)));
    return row ? { ...toSdkKey(row.key, row.environment), keyHash: row.key.keyHash } : undefined;
  },

  async revoke(tx, id, at) {
    const revoked = await conn(tx).update(sdkKeys).set({ revokedAt: at }).where(and(eq(sdkKeys.id, id), isNull(sdkKeys.revokedAt))).returning({ id: sdkKeys.id });
    return revoked.length === 1 ? (await sdkKeyRows(tx, eq(sdkKeys.id, id)))[0] : undefined;
  },

  async countActive(tx, environment) {
    const [row] = await conn(tx)
      .select({ n: count() })
      .from(sdkKeys)
      .innerJoin(environments, eq(environments.id, sdkKeys.environmentId))
      .where(and(eq(environments.key, environment), isNull(sdkKeys.revokedAt)));
    return row!.n;
  },
};

export const postgresSessions: SessionRepository = {
  async insert(tx, session) {
    await conn(tx).insert(sessions).values(session);
  },

  async resolve(tx, sessionHash, now) {
    const [row] = await conn(tx)
      .select({ tokenId: apiTokens.id, name: apiTokens.name, role: apiTokens.role, expiresAt: sessions.expiresAt })
      .from(sessions)
      .innerJoin(apiTokens, eq(apiTokens.id, sessions.tokenId))
      .where(and(eq(sessions.sessionHash, sessionHash), gt(sessions.expiresAt, now), isNull(apiTokens.revokedAt)));
    return row ? { tokenId: row.tokenId, name: row.name, role: row.role as Role, expiresAt: Number(row.expiresAt) } : undefined;
  },

  async delete(tx, sessionHash) {
    await conn(tx).delete(sessions).where(eq(sessions.sessionHash, sessionHash));
  },

  async deleteExpired(tx, now) {
    await conn(tx).delete(sessions).where(lte(sessions.expiresAt, now));
  },
};
