import { and, asc, eq, inArray, lte, type SQL } from 'drizzle-orm';
import type { ScheduleRepository } from '../ports.js';
import { toSchedule } from '../rows.js';
import { conn } from './connection.js';
import { schedules } from './schema.js';

export const postgresSchedules: ScheduleRepository = {
  async insert(tx, schedule) {
    const [row] = await conn(tx).insert(schedules).values(schedule).returning();
    return toSchedule(row!);
  },

  async get(tx, id) {
    const [row] = await conn(tx).select().from(schedules).where(eq(schedules.id, id));
    return row ? toSchedule(row) : undefined;
  },

  async list(tx, query) {
    const where: SQL[] = [];
    if (query.flagKey !== undefined) where.push(eq(schedules.flagKey, query.flagKey));
    if (query.environment !== undefined) where.push(eq(schedules.environment, query.environment));
    if (query.statuses) where.push(inArray(schedules.status, [...query.statuses]));
    const rows = await conn(tx)
      .select()
      .from(schedules)
      .where(and(...where))
      .orderBy(asc(schedules.at), asc(schedules.id))
      .limit(query.limit);
    return rows.map(toSchedule);
  },

  async due(tx, now, limit) {
    const rows = await conn(tx)
      .select()
      .from(schedules)
      .where(and(eq(schedules.status, 'pending'), lte(schedules.at, now)))
      .orderBy(asc(schedules.at), asc(schedules.id))
      .limit(limit);
    return rows.map(toSchedule);
  },


  // Under READ COMMITTED, a second replica's claim waits for the first one's row lock, then finds
  // the row no longer pending and claims nothing.
  async claim(tx, id, expectedVersion, now) {
    const [row] = await conn(tx)
      .update(schedules)
      .set({ status: 'running' })
      .where(and(eq(schedules.id, id), eq(schedules.status, 'pending'), eq(schedules.version, expectedVersion), lte(schedules.at, now)))
      .returning();
    return row ? toSchedule(row) : undefined;
  },

  async update(tx, { id, ...schedule }, fromStatus, expectedVersion) {
    const where = and(eq(schedules.id, id), eq(schedules.status, fromStatus), eq(schedules.version, expectedVersion));
    const updated = await conn(tx).update(schedules).set(schedule).where(where).returning({ id: schedules.id });
    return updated.length === 1;
  },
};
