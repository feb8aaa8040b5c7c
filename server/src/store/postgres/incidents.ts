import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { IncidentRepository } from '../ports.js';
import { toIncident } from '../rows.js';
import { conn, type Conn } from './connection.js';
import { environments, flags, incidentOverrides } from './schema.js';

const flagId = (key: string) => sql`(select ${flags.id} from ${flags} where ${flags.key} = ${key})`;
const environmentId = (key: string) => sql`(select ${environments.id} from ${environments} where ${environments.key} = ${key})`;
const one = (flag: string, environment: string) => and(eq(incidentOverrides.flagId, flagId(flag)), eq(incidentOverrides.environmentId, environmentId(environment)));

async function rows(c: Conn, where?: SQL) {
  const found = await c
    .select({
      flag: flags.key,
      environment: environments.key,
      killedAt: incidentOverrides.killedAt,
      killedBy: incidentOverrides.killedBy,
      message: incidentOverrides.message,
      sinceCommit: incidentOverrides.sinceCommit,
      fileConfig: incidentOverrides.fileConfig,
    })
    .from(incidentOverrides)
    .innerJoin(flags, eq(flags.id, incidentOverrides.flagId))
    .innerJoin(environments, eq(environments.id, incidentOverrides.environmentId))
    .where(where)
    // Keys in bytewise order, as SQLite sorts them.
    .orderBy(sql`${flags.key} collate "C"`, asc(environments.sortOrder), sql`${environments.key} collate "C"`);
  return found.map(toIncident);
}

export const postgresIncidents: IncidentRepository = {
  async list(tx) {
    return rows(conn(tx));
  },

  async forFlag(tx, flag) {
    return rows(conn(tx), eq(flags.key, flag));
  },

  async get(tx, flag, environment) {
    return (await rows(conn(tx), and(eq(flags.key, flag), eq(environments.key, environment))))[0];
  },

  async insert(tx, incident) {
    const { killedAt, killedBy, message, sinceCommit, fileConfig } = incident;
    const values = { flagId: flagId(incident.flag), environmentId: environmentId(incident.environment), killedAt, killedBy, message, sinceCommit, fileConfig };
    const inserted = await conn(tx).insert(incidentOverrides).values(values).onConflictDoNothing().returning({ at: incidentOverrides.killedAt });
    return inserted.length === 1;
  },

  async setFileConfig(tx, flag, environment, fileConfig) {
    const updated = await conn(tx).update(incidentOverrides).set({ fileConfig }).where(one(flag, environment)).returning({ at: incidentOverrides.killedAt });
    return updated.length === 1;
  },

  async delete(tx, flag, environment) {
    const deleted = await conn(tx).delete(incidentOverrides).where(one(flag, environment)).returning({ at: incidentOverrides.killedAt });
    return deleted.length === 1;
  },

  async clear(tx) {
    await conn(tx).delete(incidentOverrides);
  },
};
