import { and, count, eq, gt, isNull, lte, sql, type SQL } from 'drizzle-orm';
import { AppError } from '../../domain/errors.js';
import type { Role } from '../../domain/credentials.js';
import { onViolation } from '../constraints.js';
import type { ApiTokenRepository, SdkKeyRepository, SessionRepository, Tx } from '../ports.js';
import { toApiToken, toSdkKey } from '../rows.js';
import { conn } from './connection.js';
import { apiTokens, environments, sdkKeys, sessions } from './schema.js';

export const sqliteTokens: ApiTokenRepository = {
  async count(tx) {
    return conn(tx).select({ n: count() }).from(apiTokens).get()!.n;
  },

  async insert(tx, token) {
    return toApiToken(conn(tx).insert(apiTokens).values(token).returning().get());
  },

  async list(tx) {
    return conn(tx).select().from(apiTokens).orderBy(apiTokens.id).all().map(toApiToken);
  },

  async get(tx, id) {
    const row = conn(tx).select().from(apiTokens).where(eq(apiTokens.id, id)).get();
    return row ? toApiToken(row) : undefined;
  },

  async findActive(tx, tokenHash) {
    const row = conn(tx).select().from(apiTokens).where(and(eq(apiTokens.tokenHash, tokenHash), isNull(apiTokens.revokedAt))).get();
    return row ? toApiToken(row) : undefined;
  },

  async touch(tx, id, at) {
    conn(tx).update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id)).run();
  },

  async revoke(tx, id, at) {
    const row = conn(tx).update(apiTokens).set({ revokedAt: at }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))).returning().get();
    return row ? toApiToken(row) : undefined;
  },
};

function sdkKeyRows(tx: Tx, where?: SQL) {
  return conn(tx)
    .select({ key: sdkKeys, environment: environments.key })
    .from(sdkKeys)
    .innerJoin(environments, eq(environments.id, sdkKeys.environmentId))
    .where(where)
    .orderBy(sdkKeys.id)
    .all()
    .map((r) => toSdkKey(r.key, r.environment));
}

export const sqliteSdkKeys: SdkKeyRepository = {
  async insert(tx, { environment, ...key }) {
    const environmentId = sql<number>`(select ${environments.id} from ${environments} where ${environments.key} = ${environment})`;
    const row = await onViolation('not_null', () => AppError.invalid('environment', `unknown environment "${environment}"`), () =>
      conn(tx).insert(sdkKeys).values({ ...key, environmentId }).returning().get(),
    );
    return toSdkKey(row, environment);
  },

  async list(tx) {
    return sdkKeyRows(tx);
  },

  async get(tx, id) {
    return sdkKeyRows(tx, eq(sdkKeys.id, id))[0];
  },

  async findActive(tx, keyHash) {
    const row = conn(tx)
      .select({ key: sdkKeys, environment: environments.key, clientSecret: environments.clientSecret })
      .from(sdkKeys)
      .innerJoin(environments, eq(environments.id, sdkKeys.environmentId))
      .where(and(eq(sdkKeys.keyHash, keyHash), isNull(sdkKeys.revokedAt)))
      .get();
    return row ? { ...toSdkKey(row.key, row.environment), clientSecret: row.clientSecret } : undefined;
  },

  async activeById(tx, id) {
    const row = conn(tx)
      .select({ key: sdkKeys, environment: environments.key })
      .from(sdkKeys)
      .innerJoin(environments, eq(environments.id, sdkKeys.environmentId))
      .where(and(eq(sdkKeys.id, id), isNull(sdkKeys.revokedAt)))
      .get();
    return row ? { ...toSdkKey(row.key, row.environment), keyHash: row.key.keyHash } : undefined;
  },

  async revoke(tx, id, at) {
    const { changes } = conn(tx).update(sdkKeys).set({ revokedAt: at }).where(and(eq(sdkKeys.id, id), isNull(sdkKeys.revokedAt))).run();
    return changes === 1 ? sdkKeyRows(tx, eq(sdkKeys.id, id))[0] : undefined;
  },

  async countActive(tx, environment) {
    return conn(tx)
      .select({ n: count() })
      .from(sdkKeys)
      .innerJoin(environments, eq(environments.id, sdkKeys.environmentId))
      .where(and(eq(environments.key, environment), isNull(sdkKeys.revokedAt)))
      .get()!.n;
  },
};

export const sqliteSessions: SessionRepository = {
  async insert(tx, session) {
    conn(tx).insert(sessions).values(session).run();
  },

  async resolve(tx, sessionHash, now) {
    const row = conn(tx)
      .select({ tokenId: apiTokens.id, name: apiTokens.name, role: apiTokens.role, expiresAt: sessions.expiresAt })
      .from(sessions)
      .innerJoin(apiTokens, eq(apiTokens.id, sessions.tokenId))
      .where(and(eq(sessions.sessionHash, sessionHash), gt(sessions.expiresAt, now), isNull(apiTokens.revokedAt)))
      .get();
    return row ? { tokenId: row.tokenId, name: row.name, role: row.role as Role, expiresAt: Number(row.expiresAt) } : undefined;
  },

  async delete(tx, sessionHash) {
    conn(tx).delete(sessions).where(eq(sessions.sessionHash, sessionHash)).run();
  },

  async deleteExpired(tx, now) {
    conn(tx).delete(sessions).where(lte(sessions.expiresAt, now)).run();
  },
};
