import { and, eq, inArray, isNotNull, notInArray, sql, type SQL } from 'drizzle-orm';
import { AppError } from '../../domain/errors.js';
import type { FlagEnvironment } from '../../domain/flags.js';
import type { Segment } from '../../domain/segments.js';
import { onViolation } from '../constraints.js';
import type { FlagRepository, SegmentRepository } from '../ports.js';
import { configsByFlag, flagColumns, segmentColumns, toFlag, toSegment } from '../rows.js';
import { conn, type Db } from './connection.js';
import { environments, flagEnvironments, flags, segments } from './schema.js';

const environmentId = (key: string) => sql`(select ${environments.id} from ${environments} where ${environments.key} = ${key})`;
const flagId = (key: string) => sql`(select ${flags.id} from ${flags} where ${flags.key} = ${key})`;

function configRows(db: Db, where?: SQL) {
  return db
    .select({ flagId: flagEnvironments.flagId, environment: environments.key, config: flagEnvironments.config })
    .from(flagEnvironments)
    .innerJoin(environments, eq(environments.id, flagEnvironments.environmentId))
    .where(where)
    .all();
}

async function writeConfigs(db: Db, key: string, configs: Record<string, FlagEnvironment>): Promise<void> {
  for (const [environment, config] of Object.entries(configs)) {
    // An unknown environment leaves environment_id null: a NOT NULL violation, reported as such.
    await onViolation('not_null', () => AppError.invalid(`environments.${environment}`, `unknown environment "${environment}"`), () =>
      db
        .insert(flagEnvironments)
        .values({ flagId: flagId(key), environmentId: environmentId(environment), config })
        .onConflictDoUpdate({ target: [flagEnvironments.flagId, flagEnvironments.environmentId], set: { config } })
        .run(),
    );
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
    const byFlag = configsByFlag(configRows(db));
    return db.select().from(flags).orderBy(flags.key).all().map((row) => toFlag(row, byFlag.get(row.id) ?? {}));
  },

  async get(tx, key) {
    const db = conn(tx);
    const row = db.select().from(flags).where(eq(flags.key, key)).get();
    if (!row) return undefined;
    return toFlag(row, configsByFlag(configRows(db, eq(flagEnvironments.flagId, row.id))).get(row.id) ?? {});
  },

  async insert(tx, flag) {
    const db = conn(tx);
    await onViolation('unique', () => new AppError('conflict', `flag "${flag.key}" already exists`), () => db.insert(flags).values(flagColumns(flag)).run());
    await writeConfigs(db, flag.key, flag.environments);
  },

  async update(tx, flag, expectedVersion, configs) {
    const db = conn(tx);
    const { changes } = db
      .update(flags)
      .set(flagColumns(flag))
      .where(and(eq(flags.key, flag.key), eq(flags.version, expectedVersion)))
      .run();
    if (changes === 0) return false;
    await writeConfigs(db, flag.key, configs);
    return true;
  },

  async delete(tx, key, expectedVersion) {
    return conn(tx).delete(flags).where(and(eq(flags.key, key), eq(flags.version, expectedVersion))).run().changes === 1;
  },

  async insertConfigs(tx, environment, configs) {
    const db = conn(tx);
    for (const [key, config] of configs) await writeConfigs(db, key, { [environment]: config });
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
    return new Set(conn(tx).select({ key: segments.key }).from(segments).where(inArray(segments.key, wanted)).all().map((r) => r.key));
  },

  async lock() {},

  async insert(tx, segment: Segment) {
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
