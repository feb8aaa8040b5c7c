import { and, asc, count, desc, eq, gte, inArray, isNull, lt, lte, max, or, sql, sum } from 'drizzle-orm';
import { EXPOSURE_METRIC } from '../../domain/releases/metrics.js';
import { subscribes } from '../../domain/releases/webhooks.js';
import type { MetricRepository, ReleasePlanRepository, WebhookRepository } from '../ports.js';
import { backlogOf, toDelivery, toMetricTotals, toPlan, toReleaseEvent } from '../rows.js';
import { conn, prepared } from './connection.js';
import { releaseEvents, releaseMetricBuckets, releaseMetricSources, releaseMetrics, releasePlans, sdkUploadCounts, webhookDeliveries, webhooks } from './schema.js';

export const sqlitePlans: ReleasePlanRepository = {
  async get(tx, flagKey, environment) {
    const row = conn(tx).select().from(releasePlans).where(and(eq(releasePlans.flagKey, flagKey), eq(releasePlans.environment, environment))).get();
    return row ? toPlan(row) : undefined;
  },

  async list(tx, statuses) {
    const query = conn(tx).select().from(releasePlans);
    return (statuses ? query.where(inArray(releasePlans.status, [...statuses])) : query).orderBy(releasePlans.id).all().map(toPlan);
  },

  async insert(tx, plan) {
    return toPlan(conn(tx).insert(releasePlans).values(plan).returning().get());
  },

  async update(tx, { id: _id, ...plan }, expectedVersion) {
    return conn(tx).update(releasePlans).set(plan).where(and(eq(releasePlans.id, _id), eq(releasePlans.version, expectedVersion))).run().changes === 1;
  },

  async delete(tx, id) {
    const row = conn(tx).delete(releasePlans).where(eq(releasePlans.id, id)).returning().get();
    return row ? toPlan(row) : undefined;
  },

  async addEvent(tx, event) {
    conn(tx).insert(releaseEvents).values({ ...event, evidence: event.evidence ?? null }).run();
  },

  async events(tx, flagKey, environment, limit) {
    return conn(tx)
      .select()
      .from(releaseEvents)
      .where(and(eq(releaseEvents.flagKey, flagKey), eq(releaseEvents.environment, environment)))
      .orderBy(desc(releaseEvents.id))
      .limit(limit)
      .all()
      .map(toReleaseEvent);
  },
};

const metricKey = [releaseMetrics.environment, releaseMetrics.flagKey, releaseMetrics.metric, releaseMetrics.variation, releaseMetrics.windowStart];
const bucketKey = [releaseMetricBuckets.environment, releaseMetricBuckets.flagKey, releaseMetricBuckets.metric, releaseMetricBuckets.variation, releaseMetricBuckets.windowStart, releaseMetricBuckets.bucket];
const sourceKey = [releaseMetricSources.environment, releaseMetricSources.flagKey, releaseMetricSources.metric, releaseMetricSources.variation, releaseMetricSources.windowStart, releaseMetricSources.keyId];

export const sqliteMetrics: MetricRepository = {
  async add(tx, environment, windowStart, counts, source) {
    const db = conn(tx);
    for (const c of counts) {
      const at = { environment, flagKey: c.flagKey, variation: c.variation, metric: c.metric, windowStart };
      db.insert(releaseMetrics)
        .values({ ...at, count: c.count, sum: c.sum })
        .onConflictDoUpdate({ target: metricKey, set: { count: sql`${releaseMetrics.count} + excluded.count`, sum: sql`${releaseMetrics.sum} + excluded.sum` } })
        .run();
      db.insert(releaseMetricSources)
        .values({ ...at, keyId: source.keyId, keyName: source.keyName, count: c.count })
        .onConflictDoUpdate({ target: sourceKey, set: { count: sql`${releaseMetricSources.count} + excluded.count`, keyName: sql`excluded.key_name` } })
        .run();
      for (const [bucket, n] of Object.entries(c.histogram ?? {})) {
        db.insert(releaseMetricBuckets)
          .values({ ...at, bucket: Number(bucket), count: n })
          .onConflictDoUpdate({ target: bucketKey, set: { count: sql`${releaseMetricBuckets.count} + excluded.count` } })
          .run();
      }
    }
  },

  async totals(tx, environment, flagKey, since) {
    const db = conn(tx);
    const counts = db
      .select({ variation: releaseMetrics.variation, metric: releaseMetrics.metric, count: sum(releaseMetrics.count).mapWith(Number), sum: sum(releaseMetrics.sum).mapWith(Number) })
      .from(releaseMetrics)
      .where(and(eq(releaseMetrics.environment, environment), eq(releaseMetrics.flagKey, flagKey), gte(releaseMetrics.windowStart, since)))
      .groupBy(releaseMetrics.metric, releaseMetrics.variation)
      .all();
    const buckets = db
      .select({ variation: releaseMetricBuckets.variation, metric: releaseMetricBuckets.metric, bucket: releaseMetricBuckets.bucket, count: sum(releaseMetricBuckets.count).mapWith(Number) })
      .from(releaseMetricBuckets)
      .where(and(eq(releaseMetricBuckets.environment, environment), eq(releaseMetricBuckets.flagKey, flagKey), gte(releaseMetricBuckets.windowStart, since)))
      .groupBy(releaseMetricBuckets.metric, releaseMetricBuckets.variation, releaseMetricBuckets.bucket)
      .all();
    return toMetricTotals(counts, buckets);
  },

  async sourceTotals(tx, environment, flagKey, since, metrics) {
    if (metrics.length === 0) return [];
    const s = releaseMetricSources;
    return conn(tx)
      .select({ keyId: s.keyId, keyName: max(s.keyName).mapWith(String), variation: s.variation, metric: s.metric, count: sum(s.count).mapWith(Number) })
      .from(s)
      .where(and(eq(s.environment, environment), eq(s.flagKey, flagKey), gte(s.windowStart, since), inArray(s.metric, [...metrics])))
      .groupBy(s.keyId, s.metric, s.variation)
      .all();
  },

  async countUpload(tx, keyId, windowStart) {
    const row = conn(tx)
      .insert(sdkUploadCounts)
      .values({ keyId, windowStart, count: 1 })
      .onConflictDoUpdate({ target: [sdkUploadCounts.keyId, sdkUploadCounts.windowStart], set: { count: sql`${sdkUploadCounts.count} + 1` } })
      .returning({ count: sdkUploadCounts.count })
      .get();
    return row.count;
  },

  async pruneUploads(tx, before) {
    conn(tx).delete(sdkUploadCounts).where(lt(sdkUploadCounts.windowStart, before)).run();
  },

  async series(tx, environment, flagKey, since) {
    return conn(tx)
      .select({ windowStart: releaseMetrics.windowStart, variation: releaseMetrics.variation, metric: releaseMetrics.metric, count: releaseMetrics.count })
      .from(releaseMetrics)
      .where(and(eq(releaseMetrics.environment, environment), eq(releaseMetrics.flagKey, flagKey), gte(releaseMetrics.windowStart, since)))
      .orderBy(asc(releaseMetrics.windowStart), asc(releaseMetrics.metric), asc(releaseMetrics.variation))
      .all();
  },

  async lastExposureAt(tx, environment, flagKey) {
    const row = conn(tx)
      .select({ at: max(releaseMetrics.windowStart) })
      .from(releaseMetrics)
      .where(and(eq(releaseMetrics.environment, environment), eq(releaseMetrics.flagKey, flagKey), eq(releaseMetrics.metric, EXPOSURE_METRIC)))
      .get();
    return row?.at ?? null;
  },

  async prune(tx, before) {
    const db = conn(tx);
    db.delete(releaseMetrics).where(lt(releaseMetrics.windowStart, before)).run();
    db.delete(releaseMetricBuckets).where(lt(releaseMetricBuckets.windowStart, before)).run();
    db.delete(releaseMetricSources).where(lt(releaseMetricSources.windowStart, before)).run();
  },
};

const p = sql.placeholder;
const subscriptions = prepared((db) => db.select({ id: webhooks.id, events: webhooks.events }).from(webhooks).prepare());
const insertDelivery = prepared((db) =>
  db.insert(webhookDeliveries).values({ webhookId: p('webhookId'), event: p('event'), payload: p('payload'), status: 'pending', attempts: 0, nextAttemptAt: p('at'), createdAt: p('at') }).prepare(),
);

export const sqliteWebhooks: WebhookRepository = {
  async insert(tx, input) {
    const { secret: _secret, ...hook } = conn(tx).insert(webhooks).values(input).returning().get();
    return hook;
  },

  async list(tx) {
    return conn(tx).select().from(webhooks).orderBy(webhooks.id).all();
  },

  async delete(tx, id) {
    const row = conn(tx).delete(webhooks).where(eq(webhooks.id, id)).returning().get();
    if (!row) return undefined;
    const { secret: _secret, ...hook } = row;
    return hook;
  },

  async enqueue(tx, message, at) {
    const subscribed = subscriptions(tx).all().filter((hook) => subscribes(hook.events, message.event));
    for (const hook of subscribed) insertDelivery(tx).run({ webhookId: hook.id, event: message.event, payload: message.payload, at });
    return subscribed.length;
  },

  async claim(tx, now, claimUntil, limit) {
    const db = conn(tx);
    const due = db
      .select({ id: webhookDeliveries.id })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, now), or(isNull(webhookDeliveries.claimedUntil), lt(webhookDeliveries.claimedUntil, now))))
      .orderBy(webhookDeliveries.id)
      .limit(limit)
      .all()
      .map((r) => r.id);
    if (due.length === 0) return [];
    db.update(webhookDeliveries).set({ claimedUntil: claimUntil }).where(inArray(webhookDeliveries.id, due)).run();
    return db
      .select({ delivery: webhookDeliveries, url: webhooks.url, secret: webhooks.secret })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(inArray(webhookDeliveries.id, due))
      .orderBy(webhookDeliveries.id)
      .all()
      .map((r) => ({ ...toDelivery(r.delivery), url: r.url, secret: r.secret }));
  },

  async complete(tx, id, outcome) {
    conn(tx).update(webhookDeliveries).set({ ...outcome, claimedUntil: null }).where(eq(webhookDeliveries.id, id)).run();
  },

  async deliveries(tx, webhookId, limit) {
    return conn(tx).select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, webhookId)).orderBy(desc(webhookDeliveries.id)).limit(limit).all().map(toDelivery);
  },

  async backlog(tx) {
    const rows = conn(tx).select({ status: webhookDeliveries.status, n: count() }).from(webhookDeliveries).where(inArray(webhookDeliveries.status, ['pending', 'failed'])).groupBy(webhookDeliveries.status).all();
    return backlogOf(rows);
  },
};
