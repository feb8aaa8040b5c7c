import { and, asc, desc, eq, gt, gte, inArray, lt, lte, min, sql, type SQL } from 'drizzle-orm';
import pg from 'pg';
import { AppError } from '../../domain/errors.js';
import type { NewFeedEntry } from '../../domain/feed.js';
import type { WebhookMessage } from '../../domain/releases/webhooks.js';
import { onViolation } from '../constraints.js';
import type { AuditRepository, EnvironmentRepository, FeedRepository, StateRepository } from '../ports.js';
import { KEYS_PER_READ, auditByResource, toAuditEntry, toEnvironment, toFeedEntry, touchedEnvironments } from '../rows.js';
import { conn, prepared } from './connection.js';
import { auditLog, changeFeed, changeFeedHead, clusterState, environments, sdkKeys } from './schema.js';

export const postgresEnvironments: EnvironmentRepository = {
  async list(tx) {
    return (await conn(tx).select().from(environments).orderBy(asc(environments.sortOrder), asc(environments.id))).map(toEnvironment);
  },

  async get(tx, key) {
    const [row] = await conn(tx).select().from(environments).where(eq(environments.key, key));
    return row ? toEnvironment(row) : undefined;
  },

  async insert(tx, input) {
    const [row] = await onViolation('unique', () => new AppError('conflict', `environment "${input.key}" already exists`), () =>
      conn(tx).insert(environments).values({ ...input, version: 0 }).returning(),
    );
    return toEnvironment(row!);
  },

  async update(tx, key, patch) {
    const [row] = await conn(tx).update(environments).set(patch).where(eq(environments.key, key)).returning();
    return row ? toEnvironment(row) : undefined;
  },

  async setClientSecret(tx, key, secret) {
    const [row] = await conn(tx).update(environments).set({ clientSecret: secret }).where(eq(environments.key, key)).returning();
    return row ? toEnvironment(row) : undefined;
  },

  async delete(tx, key) {
    const c = conn(tx);
    // Revoked keys only hold the foreign key; their creation and revocation stay in the audit log.
    await c.delete(sdkKeys).where(eq(sdkKeys.environmentId, sql`(select ${environments.id} from ${environments} where ${environments.key} = ${key})`));
    return (await c.delete(environments).where(eq(environments.key, key)).returning({ id: environments.id })).length === 1;
  },
};

const p = sql.placeholder;
const AUDIT_ROWS_PER_INSERT = 1_000;
/** One audit entry (the common case), prepared. */
const insertAudit = prepared((db) =>
  db
    .insert(auditLog)
    .values({ at: p('at'), actor: p('actor'), action: p('action'), resourceType: p('resourceType'), resourceKey: p('resourceKey'), environment: p('environment'), before: p('before'), after: p('after'), source: p('source'), message: p('message'), commit: p('commit') })
    .returning()
    .prepare('switchyard_audit_insert'),
);
const feedAfter = prepared((db) => db.select().from(changeFeed).where(gt(changeFeed.seq, p('position'))).orderBy(asc(changeFeed.seq)).limit(p('limit')).prepare('switchyard_feed_after'));

export const postgresAudit: AuditRepository = {
  async append(tx, entries) {
    if (entries.length === 0) return [];
    if (entries.length === 1) return (await insertAudit(tx).execute(entries[0]!)).map(toAuditEntry);
    // A statement takes at most 65,535 parameters (11 per entry): a 10,000-flag GitOps apply writes 10,000 entries.
    const written: ReturnType<typeof toAuditEntry>[] = [];
    for (let i = 0; i < entries.length; i += AUDIT_ROWS_PER_INSERT) {
      written.push(...(await conn(tx).insert(auditLog).values(entries.slice(i, i + AUDIT_ROWS_PER_INSERT)).returning()).map(toAuditEntry));
    }
    return written;
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
    const rows = await conn(tx)
      .select()
      .from(auditLog)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(auditLog.id))
      .limit(query.limit);
    return rows.map(toAuditEntry);
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
      const page = await conn(tx).select({ entry: auditLog }).from(auditLog).innerJoin(ranked, eq(ranked.id, auditLog.id)).where(lte(ranked.rank, perKey)).orderBy(desc(auditLog.id));
      for (const { entry } of page) rows.push(entry);
    }
    return auditByResource(rows);
  },

  async get(tx, id) {
    const [row] = await conn(tx).select().from(auditLog).where(eq(auditLog.id, id));
    return row ? toAuditEntry(row) : undefined;
  },
};

/** NOTIFY payloads are limited to 8,000 bytes: larger entries send their position alone. */
const NOTIFY_ENTRY_MAX = 7900;

/**
 * The append as one statement with its values inlined (escaped as literals), returning `seq` and
 * `deliveries`: without parameters it can travel with COMMIT in one simple-protocol round trip
 * (database.ts). With webhook messages, the same statement first queues a delivery of each to every
 * webhook subscribed to its event (or to `*`), and the entry's `deliveries` says whether it queued
 * any; without, `entry.deliveries` stands (false when left out).
 */
export function feedAppend(channel: string, entry: Omit<NewFeedEntry, 'deliveries'> & { deliveries?: boolean }, webhooks: readonly WebhookMessage[] = []): string {
  if (!Number.isSafeInteger(entry.at)) throw new Error(`feed entry time is not an integer: ${entry.at}`);
  const { deliveries, ...fields } = entry;
  const touched = touchedEnvironments(entry);
  // The entry's text: `{"deliveries":<true|false>,` (decided by the statement) and the rest of its JSON.
  const rest = JSON.stringify(fields).slice(1);
  const messages = webhooks.map((m, i) => `(${i}, ${pg.escapeLiteral(m.event)}, ${pg.escapeLiteral(m.payload)})`).join(', ');
  const queued =
    webhooks.length === 0
      ? ''
      : `queued as (insert into webhook_deliveries (webhook_id, event, payload, status, attempts, next_attempt_at, created_at)
      select w.id, m.event, m.payload, 'pending', 0, ${entry.at}, ${entry.at} from (values ${messages}) as m(n, event, payload)
      join webhooks w on jsonb_exists(w.events, m.event) or jsonb_exists(w.events, '*') order by m.n, w.id returning 1),\n    `;
  const queuedAny = webhooks.length === 0 ? `'${deliveries ?? false}'` : '(exists (select 1 from queued))::text';
  const versions = touched.length > 0 ? `,\n    versions as (update environments set version = (select seq from head) where key in (${touched.map((key) => pg.escapeLiteral(key)).join(', ')}) returning 1)` : '';
  const notice = Buffer.byteLength(rest) + DELIVERIES_PREFIX_MAX <= NOTIFY_ENTRY_MAX ? `seq::text || ' ' || appended.entry` : 'seq::text';
  return `with ${queued}head as (update change_feed_head set seq = seq + 1 where id = 1 returning seq),
    appended as (insert into change_feed (seq, at, entry)
      select seq, ${entry.at}, '{"deliveries":' || ${queuedAny} || ',' || ${pg.escapeLiteral(rest)} from head returning seq, entry)${versions}
    select seq, appended.entry like '{"deliveries":true,%' as deliveries, pg_notify(${pg.escapeLiteral(channel)}, ${notice}) from appended`;
}

/** The most `{"deliveries":false,` adds to an entry's JSON. */
const DELIVERIES_PREFIX_MAX = '{"deliveries":false,'.length;

/**
 * Positions come from the single `change_feed_head` row: incrementing it locks the row until the
 * transaction ends, so positions are handed out in commit order and a rollback leaves no gap. The
 * append is the last statement before commit, keeping that lock short. NOTIFY is delivered at
 * commit, and only then, in commit order: it carries the entry when it is small, so followers need
 * not read it back; a follower that missed one reads the feed.
 */
export function postgresFeed(channel: string): FeedRepository {
  return {
    async append(tx, entry) {
      const result = await conn(tx).execute<{ seq: string }>(sql.raw(feedAppend(channel, entry)));
      return Number(result.rows[0]!.seq);
    },

    async after(tx, position, limit) {
      return (await feedAfter(tx).execute({ position, limit })).map(toFeedEntry);
    },

    async head(tx) {
      const [row] = await conn(tx).select({ seq: changeFeedHead.seq }).from(changeFeedHead);
      return row?.seq ?? 0;
    },

    async oldest(tx) {
      const [row] = await conn(tx).select({ seq: min(changeFeed.seq) }).from(changeFeed);
      return row?.seq === null || row?.seq === undefined ? undefined : Number(row.seq);
    },

    async lock(tx) {
      await conn(tx).select({ seq: changeFeedHead.seq }).from(changeFeedHead).for('update');
    },

    async prune(tx, before, keep) {
      const head = await this.head(tx);
      const deleted = await conn(tx).delete(changeFeed).where(and(lt(changeFeed.at, before), lt(changeFeed.seq, head - keep + 1))).returning({ seq: changeFeed.seq });
      return deleted.length;
    },
  };
}

export const postgresState: StateRepository = {
  async get(tx, key) {
    const [row] = await conn(tx).select().from(clusterState).where(eq(clusterState.key, key));
    return row ? { value: JSON.parse(row.value) as unknown, updatedAt: row.updatedAt } : undefined;
  },

  async put(tx, key, value, at) {
    const json = JSON.stringify(value);
    await conn(tx).insert(clusterState).values({ key, value: json, updatedAt: at }).onConflictDoUpdate({ target: clusterState.key, set: { value: json, updatedAt: at } });
  },
};
