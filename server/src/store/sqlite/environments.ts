import { and, asc, desc, eq, gt, lt, min, sql, type SQL } from 'drizzle-orm';
import { AppError } from '../../domain/errors.js';
import { onViolation } from '../constraints.js';
import type { AuditRepository, EnvironmentRepository, FeedRepository, StateRepository } from '../ports.js';
import { toAuditEntry, toEnvironment, toFeedEntry, touchedEnvironments } from '../rows.js';
import { conn, prepared } from './connection.js';
import { auditLog, changeFeed, clusterState, environments, sdkKeys } from './schema.js';

export const sqliteEnvironments: EnvironmentRepository = {
  async list(tx) {
    return conn(tx).select().from(environments).orderBy(asc(environments.sortOrder), asc(environments.id)).all().map(toEnvironment);
  },

  async get(tx, key) {
    const row = conn(tx).select().from(environments).where(eq(environments.key, key)).get();
    return row ? toEnvironment(row) : undefined;
  },

  async insert(tx, input) {
    const row = await onViolation('unique', () => new AppError('conflict', `environment "${input.key}" already exists`), () =>
      conn(tx).insert(environments).values({ ...input, version: 0 }).returning().get(),
    );
    return toEnvironment(row);
  },

  async update(tx, key, patch) {
    const row = conn(tx).update(environments).set(patch).where(eq(environments.key, key)).returning().get();
    return row ? toEnvironment(row) : undefined;
  },

  async delete(tx, key) {
    const db = conn(tx);
    // Revoked keys only hold the foreign key; their creation and revocation stay in the audit log.
    db.delete(sdkKeys).where(eq(sdkKeys.environmentId, sql`(select ${environments.id} from ${environments} where ${environments.key} = ${key})`)).run();
    return db.delete(environments).where(eq(environments.key, key)).run().changes === 1;
  },
};

const p = sql.placeholder;
const insertAudit = prepared((db) =>
  db
    .insert(auditLog)
    .values({ at: p('at'), actor: p('actor'), action: p('action'), resourceType: p('resourceType'), resourceKey: p('resourceKey'), environment: p('environment'), before: p('before'), after: p('after'), source: p('source'), message: p('message'), commit: p('commit') })
    .returning({ id: auditLog.id })
    .prepare(),
);
const insertFeedEntry = prepared((db) => db.insert(changeFeed).values({ at: p('at'), entry: p('entry') }).returning({ seq: changeFeed.seq }).prepare());
const setVersion = prepared((db) => db.update(environments).set({ version: sql`${p('version')}` }).where(eq(environments.key, p('key'))).prepare());
const feedAfter = prepared((db) => db.select().from(changeFeed).where(gt(changeFeed.seq, p('position'))).orderBy(asc(changeFeed.seq)).limit(p('limit')).prepare());

export const sqliteAudit: AuditRepository = {
  async append(tx, entries) {
    return entries.map((entry) => ({ ...entry, id: insertAudit(tx).get(entry)!.id }));
  },

  async list(tx, query) {
    const where: SQL[] = [];
    if (query.resourceType) where.push(eq(auditLog.resourceType, query.resourceType));
    if (query.resourceKey) where.push(eq(auditLog.resourceKey, query.resourceKey));
    if (query.environment) where.push(eq(auditLog.environment, query.environment));
    if (query.actor) where.push(eq(auditLog.actor, query.actor));
    if (query.before !== undefined) where.push(lt(auditLog.id, query.before));
    return conn(tx)
      .select()
      .from(auditLog)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(auditLog.id))
      .limit(query.limit)
      .all()
      .map(toAuditEntry);
  },

  async get(tx, id) {
    const row = conn(tx).select().from(auditLog).where(eq(auditLog.id, id)).get();
    return row ? toAuditEntry(row) : undefined;
  },
};

/**
 * SQLite has one writer at a time, so the autoincrement row id is already gap-free and in commit
 * order (a rolled-back append gives its number back). `appended` tells the database to wake the
 * followers once the transaction commits.
 */
export function sqliteFeed(appended: () => void): FeedRepository {
  return {
    async append(tx, entry) {
      const { seq } = insertFeedEntry(tx).get({ at: entry.at, entry: JSON.stringify(entry) })!;
      for (const key of touchedEnvironments(entry)) setVersion(tx).run({ version: seq, key });
      appended();
      return seq;
    },

    async after(tx, position, limit) {
      return feedAfter(tx).all({ position, limit }).map(toFeedEntry);
    },

    async head(tx) {
      // The sequence, not max(seq): positions stay unique even after every entry has been pruned.
      const row = conn(tx).get<{ seq: number } | undefined>(sql`select seq from sqlite_sequence where name = 'change_feed'`);
      return row?.seq ?? 0;
    },

    async oldest(tx) {
      return conn(tx).select({ seq: min(changeFeed.seq) }).from(changeFeed).get()?.seq ?? undefined;
    },

    async lock() {},

    async prune(tx, before, keep) {
      const db = conn(tx);
      const head = await this.head(tx);
      return db.delete(changeFeed).where(and(lt(changeFeed.at, before), lt(changeFeed.seq, head - keep + 1))).run().changes;
    },
  };
}

export const sqliteState: StateRepository = {
  async get(tx, key) {
    const row = conn(tx).select().from(clusterState).where(eq(clusterState.key, key)).get();
    return row ? { value: JSON.parse(row.value) as unknown, updatedAt: row.updatedAt } : undefined;
  },

  async put(tx, key, value, at) {
    const json = JSON.stringify(value);
    conn(tx).insert(clusterState).values({ key, value: json, updatedAt: at }).onConflictDoUpdate({ target: clusterState.key, set: { value: json, updatedAt: at } }).run();
  },
};
