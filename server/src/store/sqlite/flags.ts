import { and, asc, eq, inArray, isNotNull, notInArray, sql, type SQL } from 'drizzle-orm';
import { AppError } from '../../domain/errors.js';
import type { Flag, FlagEnvironment } from '../../domain/flags.js';
import { onViolation } from '../constraints.js';
import type { FlagRepository, SegmentRepository, Tx } from '../ports.js';
import { configsByFlag, flagColumns, segmentColumns, toFlag, toSegment } from '../rows.js';
import { conn, prepared, type Db } from './connection.js';
import { environments, flagEnvironments, flags, segments } from './schema.js';

const p = sql.placeholder;
const environmentId = (key: ReturnType<typeof p> | string) => sql`(select ${environments.id} from ${environments} where ${environments.key} = ${key})`;
const flagId = (key: ReturnType<typeof p> | string) => sql`(select ${flags.id} from ${flags} where ${flags.key} = ${key})`;

const configColumns = { flagId: flagEnvironments.flagId, environment: environments.key, config: flagEnvironments.config };
/** In the environments' own order (sort order, then creation), the same on both dialects. */
const configRows = (db: Db, where?: SQL) =>
  db.select(configColumns).from(flagEnvironments).innerJoin(environments, eq(environments.id, flagEnvironments.environmentId)).where(where).orderBy(asc(environments.sortOrder), asc(environments.id));

// The stage-change path, prepared once per connection.
/** A flag row with its configurations by environment key, in one statement (JSON text). */
const flagByKey = prepared((db) =>
  db
    .select({
      flag: flags,
      configs: sql<string | null>`(select json_group_object(e.key, json(fe.config)) from flag_environments fe join environments e on e.id = fe.environment_id where fe.flag_id = ${sql.raw('"flags"."id"')})`,
    })
    .from(flags)
    .where(eq(flags.key, p('key')))
    .prepare(),
);
// drizzle's update().set() takes SQL, not placeholders: the parameters arrive encoded (see flagUpdate).
const updateFlag = prepared((db) =>
  db
    .update(flags)
    .set({
      name: sql`${p('name')}`,
      description: sql`${p('description')}`,
      tags: sql`${p('tags')}`,
      owner: sql`${p('owner')}`,
      type: sql`${p('type')}`,
      variations: sql`${p('variations')}`,
      archived: sql`${p('archived')}`,
      clientVisible: sql`${p('clientVisible')}`,
      version: sql`${p('version')}`,
      updatedAt: sql`${p('updatedAt')}`,
      updatedBy: sql`${p('updatedBy')}`,
    })
    .where(and(eq(flags.key, p('key')), eq(flags.version, p('expectedVersion'))))
    .prepare(),
);

/** The parameters of `updateFlag`, encoded as the columns store them (JSON text, 0/1). */
function flagUpdate(flag: Flag, expectedVersion: number) {
  const { key, name, description, owner, type, version, updatedAt, updatedBy } = flag;
  return { key, name, description, owner, type, version, updatedAt, updatedBy, tags: JSON.stringify(flag.tags), variations: JSON.stringify(flag.variations), archived: flag.archived ? 1 : 0, clientVisible: flag.clientVisible ? 1 : 0, expectedVersion };
}
const upsertConfig = prepared((db) =>
  db
    .insert(flagEnvironments)
    .values({ flagId: flagId(p('key')), environmentId: environmentId(p('environment')), config: p('config') })
    .onConflictDoUpdate({ target: [flagEnvironments.flagId, flagEnvironments.environmentId], set: { config: sql`excluded.config` } })
    .prepare(),
);
const segmentByKey = prepared((db) => db.select({ key: segments.key }).from(segments).where(eq(segments.key, p('key'))).prepare());

async function writeConfigs(tx: Tx, key: string, configs: Record<string, FlagEnvironment>): Promise<void> {
  for (const [environment, config] of Object.entries(configs)) {
    // An unknown environment leaves environment_id null: a NOT NULL violation, reported as such.
    await onViolation('not_null', () => AppError.invalid(`environments.${environment}`, `unknown environment "${environment}"`), () => upsertConfig(tx).run({ key, environment, config }));
  }
}

/** Point `managed_by` at `source` for exactly `keys` (and clear it elsewhere). */
function setManaged(db: Db, table: typeof flags | typeof segments, source: string | null, keys: readonly string[]): void {
  db.update(table).set({ managedBy: null }).where(and(isNotNull(table.managedBy), keys.length ? notInArray(table.key, [...keys]) : undefined)).run();
  if (source !== null && keys.length) db.update(table).set({ managedBy: source }).where(inArray(table.key, [...keys])).run();
}

export const sqliteFlags: FlagRepository = {
  async list(tx) {
    const db = conn(tx);
    const byFlag = configsByFlag(configRows(db).all());
    return db.select().from(flags).orderBy(flags.key).all().map((row) => toFlag(row, byFlag.get(row.id) ?? {}));
  },

  // One writer at a time: every read in a transaction is as good as locked.
  async get(tx, key) {
    const row = flagByKey(tx).get({ key });
    return row ? toFlag(row.flag, row.configs ? (JSON.parse(row.configs) as Record<string, FlagEnvironment>) : {}) : undefined;
  },

  async insert(tx, flag) {
    await onViolation('unique', () => new AppError('conflict', `flag "${flag.key}" already exists`), () => conn(tx).insert(flags).values(flagColumns(flag)).run());
    await writeConfigs(tx, flag.key, flag.environments);
  },

  async update(tx, flag, expectedVersion, configs) {
    const { changes } = updateFlag(tx).run(flagUpdate(flag, expectedVersion));
    if (changes === 0) return false;
    await writeConfigs(tx, flag.key, configs);
    return true;
  },

  async delete(tx, key, expectedVersion) {
    return conn(tx).delete(flags).where(and(eq(flags.key, key), eq(flags.version, expectedVersion))).run().changes === 1;
  },

  async insertConfigs(tx, environment, configs) {
    for (const [key, config] of configs) await writeConfigs(tx, key, { [environment]: config });
  },

  async setManaged(tx, source, keys) {
    setManaged(conn(tx), flags, source, keys);
  },
};

export const sqliteSegments: SegmentRepository = {
  async list(tx) {
    return conn(tx).select().from(segments).orderBy(segments.key).all().map(toSegment);
  },

  async get(tx, key) {
    const row = conn(tx).select().from(segments).where(eq(segments.key, key)).get();
    return row ? toSegment(row) : undefined;
  },

  // One writer at a time: nothing can delete a segment between this read and the commit.
  async existing(tx, keys) {
    const wanted = [...new Set(keys)];
    if (wanted.length === 0) return new Set();
    // One key (the dogfood segment of a stage change) is the common case.
    if (wanted.length === 1) return new Set(segmentByKey(tx).all({ key: wanted[0]! }).map((r) => r.key));
    return new Set(conn(tx).select({ key: segments.key }).from(segments).where(inArray(segments.key, wanted)).all().map((r) => r.key));
  },

  async lock() {},

  async insert(tx, segment) {
    await onViolation('unique', () => new AppError('conflict', `segment "${segment.key}" already exists`), () => conn(tx).insert(segments).values(segmentColumns(segment)).run());
  },

  async update(tx, segment, expectedVersion) {
    return conn(tx).update(segments).set(segmentColumns(segment)).where(and(eq(segments.key, segment.key), eq(segments.version, expectedVersion))).run().changes === 1;
  },

  async delete(tx, key, expectedVersion) {
    return conn(tx).delete(segments).where(and(eq(segments.key, key), eq(segments.version, expectedVersion))).run().changes === 1;
  },

  async setManaged(tx, source, keys) {
    setManaged(conn(tx), segments, source, keys);
  },
};
