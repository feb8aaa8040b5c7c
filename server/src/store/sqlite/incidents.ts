import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { IncidentRepository } from '../ports.js';
import { toIncident } from '../rows.js';
import { conn, type Db } from './connection.js';
import { environments, flags, incidentOverrides } from './schema.js';

const flagId = (key: string) => sql`(select ${flags.id} from ${flags} where ${flags.key} = ${key})`;
const environmentId = (key: string) => sql`(select ${environments.id} from ${environments} where ${environments.key} = ${key})`;
const one = (flag: string, environment: string) => and(eq(incidentOverrides.flagId, flagId(flag)), eq(incidentOverrides.environmentId, environmentId(environment)));

function rows(db: Db, where?: SQL) {
  return db
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
    .orderBy(asc(flags.key), asc(environments.sortOrder), asc(environments.key))
    .all()
    .map(toIncident);
}

export const sqliteIncidents: IncidentRepository = {
  async list(tx) {
    return rows(conn(tx));
  },

  async forFlag(tx, flag) {
    return rows(conn(tx), eq(flags.key, flag));
  },

  async get(tx, flag, environment) {
    return rows(conn(tx), and(eq(flags.key, flag), eq(environments.key, environment)))[0];
  },

  async insert(tx, incident) {
    const { killedAt, killedBy, message, sinceCommit, fileConfig } = incident;
    const values = { flagId: flagId(incident.flag), environmentId: environmentId(incident.environment), killedAt, killedBy, message, sinceCommit, fileConfig };
    return conn(tx).insert(incidentOverrides).values(values).onConflictDoNothing().run().changes === 1;
  },

  async setFileConfig(tx, flag, environment, fileConfig) {
    return conn(tx).update(incidentOverrides).set({ fileConfig }).where(one(flag, environment)).run().changes === 1;
  },

  async delete(tx, flag, environment) {
    return conn(tx).delete(incidentOverrides).where(one(flag, environment)).run().changes === 1;
  },

  async clear(tx) {
    conn(tx).delete(incidentOverrides).run();
  },
};
