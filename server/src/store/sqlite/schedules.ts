import { and, asc, eq, inArray, lte, type SQL } from 'drizzle-orm';
import type { ScheduleRepository } from '../ports.js';
import { toSchedule } from '../rows.js';
import { conn } from './connection.js';
import { schedules } from './schema.js';

export const sqliteSchedules: ScheduleRepository = {
  async insert(tx, schedule) {
    return toSchedule(conn(tx).insert(schedules).values(schedule).returning().get());
  },

  async get(tx, id) {
    const row = conn(tx).select().from(schedules).where(eq(schedules.id, id)).get();
    return row ? toSchedule(row) : undefined;
  },

  async list(tx, query) {
    const where: SQL[] = [];
    if (query.flagKey !== undefined) where.push(eq(schedules.flagKey, query.flagKey));
    if (query.environment !== undefined) where.push(eq(schedules.environment, query.environment));
    if (query.statuses) where.push(inArray(schedules.status, [...query.statuses]));
    return conn(tx)
      .select()
      .from(schedules)
      .where(and(...where))
      .orderBy(asc(schedules.at), asc(schedules.id))
      .limit(query.limit)
      .all()
      .map(toSchedule);
  },

  async due(tx, now, limit) {
    return conn(tx)
      .select()
      .from(schedules)
      .where(and(eq(schedules.status, 'pending'), lte(schedules.at, now)))
      .orderBy(asc(schedules.at), asc(schedules.id))
      .limit(limit)
      .all()
      .map(toSchedule);
  },


  async claim(tx, id, expectedVersion, now) {
    const row = conn(tx)
      .update(schedules)
      .set({ status: 'running' })
      .where(and(eq(schedules.id, id), eq(schedules.status, 'pending'), eq(schedules.version, expectedVersion), lte(schedules.at, now)))
      .returning()
      .get();
    return row ? toSchedule(row) : undefined;
  },

  async update(tx, { id, ...schedule }, fromStatus, expectedVersion) {
    const where = and(eq(schedules.id, id), eq(schedules.status, fromStatus), eq(schedules.version, expectedVersion));
    return conn(tx).update(schedules).set(schedule).where(where).run().changes === 1;
  },
};
