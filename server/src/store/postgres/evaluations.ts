import { and, desc, eq, gte, lt, notInArray, or, sql } from 'drizzle-orm';
import type { EvaluationRepository } from '../ports.js';
import { conn } from './connection.js';
import { environments, evaluationCounts, flagLastEvaluated, flags, sdkConnections } from './schema.js';

const countKey = [evaluationCounts.environment, evaluationCounts.flagKey, evaluationCounts.hour, evaluationCounts.variation];

export const postgresEvaluations: EvaluationRepository = {
  // One statement per table: counts arrive de-duplicated (one row per key), as ON CONFLICT needs.
  async add(tx, environment, hour, counts, at) {
    if (counts.length === 0) return;
    const c = conn(tx);
    await c
      .insert(evaluationCounts)
      .values(counts.map((e) => ({ environment, flagKey: e.flagKey, hour, variation: e.variation, count: e.count })))
      .onConflictDoUpdate({ target: countKey, set: { count: sql`${evaluationCounts.count} + excluded.count` } });
    await c
      .insert(flagLastEvaluated)
      .values([...new Set(counts.map((e) => e.flagKey))].map((flagKey) => ({ environment, flagKey, at })))
      .onConflictDoUpdate({ target: [flagLastEvaluated.environment, flagLastEvaluated.flagKey], set: { at: sql`greatest(${flagLastEvaluated.at}, excluded.at)` } });
  },

  async touchConnection(tx, connection) {
    await conn(tx)
      .insert(sdkConnections)
      .values({ ...connection, firstSeenAt: connection.lastSeenAt })
      .onConflictDoUpdate({
        target: [sdkConnections.keyId, sdkConnections.sdk, sdkConnections.version],
        set: { keyName: sql`excluded.key_name`, environment: sql`excluded.environment`, lastSeenAt: sql`greatest(${sdkConnections.lastSeenAt}, excluded.last_seen_at)` },
      });
  },

  async hourly(tx, environment, flagKey, since) {
    const e = evaluationCounts;
    return conn(tx)
      .select({ hour: e.hour, variation: e.variation, count: e.count })
      .from(e)
      .where(and(eq(e.environment, environment), eq(e.flagKey, flagKey), gte(e.hour, since)))
      .orderBy(e.hour, e.variation);
  },

  async lastEvaluated(tx, environment) {
    const l = flagLastEvaluated;
    const query = conn(tx).select({ flagKey: l.flagKey, environment: l.environment, at: l.at }).from(l);
    return (environment === undefined ? query : query.where(eq(l.environment, environment))).orderBy(l.flagKey, l.environment);
  },

  async connections(tx, since, environment) {
    const s = sdkConnections;
    return conn(tx)
      .select()
      .from(s)
      .where(and(gte(s.lastSeenAt, since), environment === undefined ? undefined : eq(s.environment, environment)))
      .orderBy(desc(s.lastSeenAt), s.keyId, s.sdk, s.version);
  },

  async prune(tx, countsBefore, connectionsBefore) {
    const c = conn(tx);
    await c.delete(evaluationCounts).where(lt(evaluationCounts.hour, countsBefore));
    await c.delete(sdkConnections).where(lt(sdkConnections.lastSeenAt, connectionsBefore));
    await c
      .delete(flagLastEvaluated)
      .where(or(notInArray(flagLastEvaluated.flagKey, c.select({ key: flags.key }).from(flags)), notInArray(flagLastEvaluated.environment, c.select({ key: environments.key }).from(environments))));
  },
};
