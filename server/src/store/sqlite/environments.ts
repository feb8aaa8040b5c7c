import { and, asc, desc, eq, gt, gte, inArray, lt, lte, min, sql, type SQL } from 'drizzle-orm';
import { AppError } from '../../domain/errors.js';
import { onViolation } from '../constraints.js';
import type { FeedEntry, NewFeedEntry } from '../../domain/feed.js';
import type { AuditRepository, EnvironmentRepository, FeedRepository, StateRepository, Tx } from '../ports.js';
import { KEYS_PER_READ, auditByResource, toAuditEntry, toEnvironment, toFeedEntry, touchedEnvironments } from '../rows.js';
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

  async setClientSecret(tx, key, secret) {
    const row = conn(tx).update(environments).set({ clientSecret: secret }).where(eq(environments.key, key)).returning().get();
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
    if (query.since !== undefined) where.push(gte(auditLog.at, query.since));
    if (query.until !== undefined) where.push(lt(auditLog.at, query.until));
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

  async recentByResource(tx, resourceType, keys, since, perKey) {
    const rows: (typeof auditLog.$inferSelect)[] = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_READ) {
      const rank = sql<number>`row_number() over (partition by ${auditLog.resourceKey} order by ${auditLog.id} desc)`.as('rank');
      const ranked = conn(tx)
        .select({ id: auditLog.id, rank })
        .from(auditLog)
        .where(and(eq(auditLog.resourceType, resourceType), inArray(auditLog.resourceKey, keys.slice(i, i + KEYS_PER_READ)), gte(auditLog.at, since)))
        .as('ranked');
      const page = conn(tx).select({ entry: auditLog }).from(auditLog).innerJoin(ranked, eq(ranked.id, auditLog.id)).where(lte(ranked.rank, perKey)).orderBy(desc(auditLog.id)).all();
      for (const { entry } of page) rows.push(entry);
    }
    return auditByResource(rows);
  },

  async get(tx, id) {
    const row = conn(tx).select().from(auditLog).where(eq(auditLog.id, id)).get();
    return row ? toAuditEntry(row) : undefined;
  },
};

/** Committed entries kept in memory: the newest stretch of the table, what followers read. */
const TAIL_SIZE = 1000;

/**
 * The feed on SQLite. One process writes it, one transaction at a time, so the autoincrement row
 * id is already gap-free and in commit order (a rolled-back append gives its number back). It also
 * remembers the entries it appended once their transaction committed — the newest stretch of the
 * table, complete because every commit goes through it — and serves `after()` from them when they
 * cover the range: following the feed then costs neither a query nor a parse. Entries handed out
 * are shared: treat them as read-only. The database calls the transaction hooks (see database.ts).
 */
export class SqliteFeed implements FeedRepository {
  private tail: FeedEntry[] = [];
  /** Appended in the current transaction group; `memberStart` marks where its current member began. */
  private pending: FeedEntry[] = [];
  private memberStart = 0;

  constructor(private readonly appended: () => void) {}

  async append(tx: Tx, entry: NewFeedEntry): Promise<number> {
    const { seq } = insertFeedEntry(tx).get({ at: entry.at, entry: JSON.stringify(entry) })!;
    for (const key of touchedEnvironments(entry)) setVersion(tx).run({ version: seq, key });
    this.pending.push({ ...entry, seq });
    this.appended();
    return seq;
  }

  memberBegins(): void {
    this.memberStart = this.pending.length;
  }

  memberRolledBack(): void {
    this.pending.length = this.memberStart;
  }

  groupCommitted(): void {
    if (this.pending.length === 0) return;
    this.tail.push(...this.pending);
    this.pending = [];
    if (this.tail.length > TAIL_SIZE) this.tail.splice(0, this.tail.length - TAIL_SIZE);
  }

  groupRolledBack(): void {
    this.pending = [];
  }

  async after(tx: Tx, position: number, limit: number): Promise<FeedEntry[]> {
    const first = this.tail[0];
    if (first !== undefined && first.seq <= position + 1) {
      const from = position + 1 - first.seq;
      return this.tail.slice(from, from + limit);
    }
    return feedAfter(tx).all({ position, limit }).map(toFeedEntry);
  }

  async head(tx: Tx): Promise<number> {
    const last = this.tail.at(-1);
    if (last !== undefined) return last.seq;
    // The sequence, not max(seq): positions stay unique even after every entry has been pruned.
    const row = conn(tx).get<{ seq: number } | undefined>(sql`select seq from sqlite_sequence where name = 'change_feed'`);
    return row?.seq ?? 0;
  }

  async oldest(tx: Tx): Promise<number | undefined> {
    return conn(tx).select({ seq: min(changeFeed.seq) }).from(changeFeed).get()?.seq ?? undefined;
  }

  async lock(): Promise<void> {}

  async prune(tx: Tx, before: number, keep: number): Promise<number> {
    const head = await this.head(tx);
    return conn(tx).delete(changeFeed).where(and(lt(changeFeed.at, before), lt(changeFeed.seq, head - keep + 1))).run().changes;
  }
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
