import { and, asc, count, desc, eq, gte, inArray, lt, max, sql, sum } from 'drizzle-orm';
import { EXPOSURE_METRIC } from '../../domain/releases/metrics.js';
import type { MetricRepository, ReleasePlanRepository, WebhookRepository } from '../ports.js';
import { backlogOf, toDelivery, toMetricTotals, toPlan, toReleaseEvent } from '../rows.js';
import { conn, preparedSql } from './connection.js';
import { releaseEvents, releaseMetricBuckets, releaseMetricSources, releaseMetrics, releasePlans, sdkUploadCounts, webhookDeliveries, webhooks } from './schema.js';

export const postgresPlans: ReleasePlanRepository = {
  async get(tx, flagKey, environment) {
    const [row] = await conn(tx).select().from(releasePlans).where(and(eq(releasePlans.flagKey, flagKey), eq(releasePlans.environment, environment)));
    return row ? toPlan(row) : undefined;
  },

  async list(tx, statuses) {
    const query = conn(tx).select().from(releasePlans);
    return (await (statuses ? query.where(inArray(releasePlans.status, [...statuses])) : query).orderBy(releasePlans.id)).map(toPlan);
  },

  async insert(tx, plan) {
    const [row] = await conn(tx).insert(releasePlans).values(plan).returning();
    return toPlan(row!);
  },

  async update(tx, { id, ...plan }, expectedVersion) {
    const updated = await conn(tx).update(releasePlans).set(plan).where(and(eq(releasePlans.id, id), eq(releasePlans.version, expectedVersion))).returning({ id: releasePlans.id });
    return updated.length === 1;
  },

  async delete(tx, id) {
    const [row] = await conn(tx).delete(releasePlans).where(eq(releasePlans.id, id)).returning();
    return row ? toPlan(row) : undefined;
  },

  async addEvent(tx, event) {
    await conn(tx).insert(releaseEvents).values({ ...event, evidence: event.evidence ?? null });
  },

  async events(tx, flagKey, environment, limit) {
    const rows = await conn(tx)
      .select()
      .from(releaseEvents)
      .where(and(eq(releaseEvents.flagKey, flagKey), eq(releaseEvents.environment, environment)))
      .orderBy(desc(releaseEvents.id))
      .limit(limit);
    return rows.map(toReleaseEvent);
  },
};

const metricKey = [releaseMetrics.environment, releaseMetrics.flagKey, releaseMetrics.metric, releaseMetrics.variation, releaseMetrics.windowStart];
const bucketKey = [releaseMetricBuckets.environment, releaseMetricBuckets.flagKey, releaseMetricBuckets.metric, releaseMetricBuckets.variation, releaseMetricBuckets.windowStart, releaseMetricBuckets.bucket];
const sourceKey = [releaseMetricSources.environment, releaseMetricSources.flagKey, releaseMetricSources.metric, releaseMetricSources.variation, releaseMetricSources.windowStart, releaseMetricSources.keyId];

export const postgresMetrics: MetricRepository = {
  // One statement per table; counts arrive de-duplicated (one row per key), as ON CONFLICT needs.
  async add(tx, environment, windowStart, counts, source) {
    if (counts.length === 0) return;
    const c = conn(tx);
    await c
      .insert(releaseMetrics)
      .values(counts.map((m) => ({ environment, flagKey: m.flagKey, variation: m.variation, metric: m.metric, windowStart, count: m.count, sum: m.sum })))
      .onConflictDoUpdate({ target: metricKey, set: { count: sql`${releaseMetrics.count} + excluded.count`, sum: sql`${releaseMetrics.sum} + excluded.sum` } });
    await c
      .insert(releaseMetricSources)
      .values(counts.map((m) => ({ environment, flagKey: m.flagKey, variation: m.variation, metric: m.metric, windowStart, keyId: source.keyId, keyName: source.keyName, count: m.count })))
      .onConflictDoUpdate({ target: sourceKey, set: { count: sql`${releaseMetricSources.count} + excluded.count`, keyName: sql`excluded.key_name` } });
    const buckets = counts.flatMap((m) =>
      Object.entries(m.histogram ?? {}).map(([bucket, n]) => ({ environment, flagKey: m.flagKey, variation: m.variation, metric: m.metric, windowStart, bucket: Number(bucket), count: n })),
    );
    if (buckets.length > 0) {
      await c.insert(releaseMetricBuckets).values(buckets).onConflictDoUpdate({ target: bucketKey, set: { count: sql`${releaseMetricBuckets.count} + excluded.count` } });
    }
  },

  async totals(tx, environment, flagKey, since) {
    const c = conn(tx);
    const counts = await c
      .select({ variation: releaseMetrics.variation, metric: releaseMetrics.metric, count: sum(releaseMetrics.count).mapWith(Number), sum: sum(releaseMetrics.sum).mapWith(Number) })
      .from(releaseMetrics)
      .where(and(eq(releaseMetrics.environment, environment), eq(releaseMetrics.flagKey, flagKey), gte(releaseMetrics.windowStart, since)))
      .groupBy(releaseMetrics.metric, releaseMetrics.variation);
    const buckets = await c
      .select({ variation: releaseMetricBuckets.variation, metric: releaseMetricBuckets.metric, bucket: releaseMetricBuckets.bucket, count: sum(releaseMetricBuckets.count).mapWith(Number) })
      .from(releaseMetricBuckets)
      .where(and(eq(releaseMetricBuckets.environment, environment), eq(releaseMetricBuckets.flagKey, flagKey), gte(releaseMetricBuckets.windowStart, since)))
      .groupBy(releaseMetricBuckets.metric, releaseMetricBuckets.variation, releaseMetricBuckets.bucket);
    return toMetricTotals(counts, buckets);
  },

  async sourceTotals(tx, environment, flagKey, since, metrics) {
    if (metrics.length === 0) return [];
    const s = releaseMetricSources;
    return conn(tx)
      .select({ keyId: s.keyId, keyName: max(s.keyName).mapWith(String), variation: s.variation, metric: s.metric, count: sum(s.count).mapWith(Number) })
      .from(s)
      .where(and(eq(s.environment, environment), eq(s.flagKey, flagKey), gte(s.windowStart, since), inArray(s.metric, [...metrics])))
      .groupBy(s.keyId, s.metric, s.variation);
  },

  async countUpload(tx, keyId, windowStart) {
    const [row] = await conn(tx)
      .insert(sdkUploadCounts)
      .values({ keyId, windowStart, count: 1 })
      .onConflictDoUpdate({ target: [sdkUploadCounts.keyId, sdkUploadCounts.windowStart], set: { count: sql`${sdkUploadCounts.count} + 1` } })
      .returning({ count: sdkUploadCounts.count });
    return row!.count;
  },

  async pruneUploads(tx, before) {
    await conn(tx).delete(sdkUploadCounts).where(lt(sdkUploadCounts.windowStart, before));
  },

  async series(tx, environment, flagKey, since) {
    return conn(tx)
      .select({ windowStart: releaseMetrics.windowStart, variation: releaseMetrics.variation, metric: releaseMetrics.metric, count: releaseMetrics.count })
      .from(releaseMetrics)
      .where(and(eq(releaseMetrics.environment, environment), eq(releaseMetrics.flagKey, flagKey), gte(releaseMetrics.windowStart, since)))
      .orderBy(asc(releaseMetrics.windowStart), asc(releaseMetrics.metric), asc(releaseMetrics.variation));
  },

  async lastExposureAt(tx, environment, flagKey) {
    const [row] = await conn(tx)
      .select({ at: max(releaseMetrics.windowStart) })
      .from(releaseMetrics)
      .where(and(eq(releaseMetrics.environment, environment), eq(releaseMetrics.flagKey, flagKey), eq(releaseMetrics.metric, EXPOSURE_METRIC)));
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  },

  async prune(tx, before) {
    const c = conn(tx);
    await c.delete(releaseMetrics).where(lt(releaseMetrics.windowStart, before));
    await c.delete(releaseMetricBuckets).where(lt(releaseMetricBuckets.windowStart, before));
    await c.delete(releaseMetricSources).where(lt(releaseMetricSources.windowStart, before));
  },
};

/** A delivery per subscribed webhook: its event list names the event, or `*`. */
const enqueueDelivery = preparedSql(
  'switchyard_webhook_enqueue',
  sql`
    insert into ${webhookDeliveries} (webhook_id, event, payload, status, attempts, next_attempt_at, created_at)
    select w.id, ${sql.placeholder('event')}, ${sql.placeholder('payload')}, 'pending', 0, ${sql.placeholder('at')}, ${sql.placeholder('at')} from ${webhooks} w
    where jsonb_exists(w.events, ${sql.placeholder('event')}) or jsonb_exists(w.events, '*')`,
);

export const postgresWebhooks: WebhookRepository = {
  async insert(tx, input) {
    const [row] = await conn(tx).insert(webhooks).values(input).returning();
    const { secret: _secret, ...hook } = row!;
    return hook;
  },

  async list(tx) {
    return conn(tx).select().from(webhooks).orderBy(webhooks.id);
  },

  async delete(tx, id) {
    const [row] = await conn(tx).delete(webhooks).where(eq(webhooks.id, id)).returning();
    if (!row) return undefined;
    const { secret: _secret, ...hook } = row;
    return hook;
  },

  async enqueue(tx, message, at) {
    return (await enqueueDelivery(tx, { event: message.event, payload: message.payload, at })).rowCount ?? 0;
  },

  // SKIP LOCKED: replicas claiming at the same moment take different deliveries instead of waiting.
  async claim(tx, now, claimUntil, limit) {
    const c = conn(tx);
    const claimed = await c.execute<{ id: number }>(sql`
      update ${webhookDeliveries} set claimed_until = ${claimUntil}
      where id in (
        select id from ${webhookDeliveries}
        where status = 'pending' and next_attempt_at <= ${now} and (claimed_until is null or claimed_until < ${now})
        order by id limit ${limit} for update skip locked)
      returning id`);
    const ids = claimed.rows.map((r) => Number(r.id));
    if (ids.length === 0) return [];
    const rows = await c
      .select({ delivery: webhookDeliveries, url: webhooks.url, secret: webhooks.secret })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(inArray(webhookDeliveries.id, ids))
      .orderBy(webhookDeliveries.id);
    return rows.map((r) => ({ ...toDelivery(r.delivery), url: r.url, secret: r.secret }));
  },

  async complete(tx, id, outcome) {
    await conn(tx).update(webhookDeliveries).set({ ...outcome, claimedUntil: null }).where(eq(webhookDeliveries.id, id));
  },

  async deliveries(tx, webhookId, limit) {
    return (await conn(tx).select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, webhookId)).orderBy(desc(webhookDeliveries.id)).limit(limit)).map(toDelivery);
  },

  async backlog(tx) {
    const rows = await conn(tx).select({ status: webhookDeliveries.status, n: count() }).from(webhookDeliveries).where(inArray(webhookDeliveries.status, ['pending', 'failed'])).groupBy(webhookDeliveries.status);
    return backlogOf(rows);
  },
};
