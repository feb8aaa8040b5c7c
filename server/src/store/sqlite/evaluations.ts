import { and, desc, eq, gte, lt, notInArray, or, sql } from 'drizzle-orm';
import type { EvaluationRepository } from '../ports.js';
import { conn } from './connection.js';
import { environments, evaluationCounts, flagLastEvaluated, flags, sdkConnections } from './schema.js';

const countKey = [evaluationCounts.environment, evaluationCounts.flagKey, evaluationCounts.hour, evaluationCounts.variation];

export const sqliteEvaluations: EvaluationRepository = {
  async add(tx, environment, hour, counts, at) {
    if (counts.length === 0) return;
    const db = conn(tx);
    // SQLite runs in process: a prepared upsert per row costs less than one big statement's parse.
    for (const c of counts) {
      db.insert(evaluationCounts)
        .values({ environment, flagKey: c.flagKey, hour, variation: c.variation, count: c.count })
        .onConflictDoUpdate({ target: countKey, set: { count: sql`${evaluationCounts.count} + excluded.count` } })
        .run();
    }
    for (const flagKey of new Set(counts.map((c) => c.flagKey))) {
      db.insert(flagLastEvaluated)
        .values({ environment, flagKey, at })
        .onConflictDoUpdate({ target: [flagLastEvaluated.environment, flagLastEvaluated.flagKey], set: { at: sql`max(${flagLastEvaluated.at}, excluded.at)` } })
        .run();
    }
  },

  async touchConnection(tx, c) {
    conn(tx)
      .insert(sdkConnections)
      .values({ ...c, firstSeenAt: c.lastSeenAt })
      .onConflictDoUpdate({
        target: [sdkConnections.keyId, sdkConnections.sdk, sdkConnections.version],
        set: { keyName: sql`excluded.key_name`, environment: sql`excluded.environment`, lastSeenAt: sql`max(${sdkConnections.lastSeenAt}, excluded.last_seen_at)` },
      })
      .run();
  },

  async hourly(tx, environment, flagKey, since) {
    const e = evaluationCounts;
    return conn(tx)
      .select({ hour: e.hour, variation: e.variation, count: e.count })
      .from(e)
      .where(and(eq(e.environment, environment), eq(e.flagKey, flagKey), gte(e.hour, since)))
      .orderBy(e.hour, e.variation)
      .all();
  },

  async lastEvaluated(tx, environment) {
    const l = flagLastEvaluated;
    const query = conn(tx).select({ flagKey: l.flagKey, environment: l.environment, at: l.at }).from(l);
    return (environment === undefined ? query : query.where(eq(l.environment, environment))).orderBy(l.flagKey, l.environment).all();
  },

  async connections(tx, since, environment) {
    const s = sdkConnections;
    return conn(tx)
      .select()
      .from(s)
      .where(and(gte(s.lastSeenAt, since), environment === undefined ? undefined : eq(s.environment, environment)))
      .orderBy(desc(s.lastSeenAt), s.keyId, s.sdk, s.version)
      .all();
  },

  async prune(tx, countsBefore, connectionsBefore) {
    const db = conn(tx);
    db.delete(evaluationCounts).where(lt(evaluationCounts.hour, countsBefore)).run();
    db.delete(sdkConnections).where(lt(sdkConnections.lastSeenAt, connectionsBefore)).run();
    db.delete(flagLastEvaluated)
      .where(or(notInArray(flagLastEvaluated.flagKey, db.select({ key: flags.key }).from(flags)), notInArray(flagLastEvaluated.environment, db.select({ key: environments.key }).from(environments))))
      .run();
  },
};
