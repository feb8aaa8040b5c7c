import { and, asc, eq, inArray, isNotNull, notInArray, sql } from 'drizzle-orm';
import { AppError } from '../../domain/errors.js';
import type { Flag, FlagEnvironment } from '../../domain/flags.js';
import { onViolation } from '../constraints.js';
import type { FlagRepository, SegmentRepository } from '../ports.js';
import { flagColumns, segmentColumns, toFlag, toSegment } from '../rows.js';
import { conn, prepared, preparedSql, type Conn } from './connection.js';
import { environments, flagEnvironments, flags, segments } from './schema.js';

/**
 * A flag's configurations by environment key, read with the flag in one statement. Written out:
 * drizzle leaves the outer `flags.id` unqualified, which the subquery would take for its own `id`.
 */
// json, not jsonb: a jsonb object orders its keys by length, so environments came back as
// staging, production, development; json keeps the environments' own order, as SQLite does.
const configsOf = sql<Record<string, FlagEnvironment> | null>`(
  select json_object_agg(e.key, fe.config order by e.sort_order, e.id)
  from flag_environments fe join environments e on e.id = fe.environment_id
  where fe.flag_id = ${sql.raw('"flags"."id"')})`;

/** Upsert configurations of flag `key` for the environments named in `configs` (all must exist). */
async function writeConfigs(c: Conn, key: string, configs: Record<string, FlagEnvironment>): Promise<void> {
  const wanted = Object.keys(configs).length;
  if (wanted === 0) return;
  const written = await c.execute<{ n: string }>(sql`
    with written as (
      insert into ${flagEnvironments} (flag_id, environment_id, config)
      select f.id, e.id, c.value from ${flags} f, jsonb_each(${JSON.stringify(configs)}::jsonb) c join ${environments} e on e.key = c.key
      where f.key = ${key}
      on conflict (flag_id, environment_id) do update set config = excluded.config
      returning 1)
    select count(*) as n from written`);
  if (Number(written.rows[0]?.n) !== wanted) await unknownEnvironment(c, configs);
}

async function unknownEnvironment(c: Conn, configs: Record<string, FlagEnvironment>): Promise<never> {
  const known = new Set((await c.select({ key: environments.key }).from(environments)).map((e) => e.key));
  const unknown = Object.keys(configs).find((env) => !known.has(env)) ?? Object.keys(configs)[0]!;
  throw AppError.invalid(`environments.${unknown}`, `unknown environment "${unknown}"`);
}

async function setManaged(c: Conn, table: typeof flags | typeof segments, source: string | null, keys: readonly string[]): Promise<void> {
  await c.update(table).set({ managedBy: null }).where(and(isNotNull(table.managedBy), keys.length ? notInArray(table.key, [...keys]) : undefined));
  if (source !== null && keys.length) await c.update(table).set({ managedBy: source }).where(inArray(table.key, [...keys]));
}

// The stage-change path, prepared (see `prepared`).
const p = sql.placeholder;
const flagSelect = (db: Conn) => db.select({ flag: flags, configs: configsOf }).from(flags).where(eq(flags.key, p('key')));
const flagByKey = prepared((db) => flagSelect(db).prepare('switchyard_flag_by_key'));
const flagForUpdate = prepared((db) => flagSelect(db).for('update', { of: flags }).prepare('switchyard_flag_for_update'));
type FlagColumn = keyof ReturnType<typeof flagColumns>;
const FLAG_COLUMNS = Object.keys(flagColumns({} as Flag)) as FlagColumn[];
/** The flag row (if still at `expectedVersion`) and the configurations in `configs` (JSON), counted. */
const updateFlag = preparedSql<{ updated: string; written: string }>(
  'switchyard_flag_update',
  sql`
    with f as (
      update ${flags} set ${sql.join(
        FLAG_COLUMNS.map((column) => sql`${sql.identifier(flags[column].name)} = ${sql.param(p(column), flags[column])}`),
        sql`, `,
      )}
      where key = ${p('key')} and version = ${p('expectedVersion')} returning id),
    written as (
      insert into ${flagEnvironments} (flag_id, environment_id, config)
      select f.id, e.id, c.value from f, jsonb_each(${p('configs')}::jsonb) c join ${environments} e on e.key = c.key
      on conflict (flag_id, environment_id) do update set config = excluded.config
      returning 1)
    select (select count(*) from f) as updated, (select count(*) from written) as written`,
);

export const postgresFlags: FlagRepository = {
  async list(tx) {
    const rows = await conn(tx).select({ flag: flags, configs: configsOf }).from(flags).orderBy(asc(flags.key));
    return rows.map((r) => toFlag(r.flag, r.configs ?? {}));
  },

  async get(tx, key, options) {
    const [row] = await (options?.forUpdate ? flagForUpdate : flagByKey)(tx).execute({ key });
    return row ? toFlag(row.flag, row.configs ?? {}) : undefined;
  },

  async insert(tx, flag) {
    const c = conn(tx);
    await onViolation('unique', () => new AppError('conflict', `flag "${flag.key}" already exists`), () => c.insert(flags).values(flagColumns(flag)));
    await writeConfigs(c, flag.key, flag.environments);
  },

  // One statement (one round trip) for the flag row and its changed configurations.
  async update(tx, flag, expectedVersion, configs) {
    const result = await updateFlag(tx, { ...flagColumns(flag), expectedVersion, configs: JSON.stringify(configs) });
    const row = result.rows[0]!;
    if (Number(row.updated) === 0) return false;
    if (Number(row.written) !== Object.keys(configs).length) await unknownEnvironment(conn(tx), configs);
    return true;
  },

  async delete(tx, key, expectedVersion) {
    const deleted = await conn(tx).delete(flags).where(and(eq(flags.key, key), eq(flags.version, expectedVersion))).returning({ id: flags.id });
    return deleted.length === 1;
  },

  async insertConfigs(tx, environment, configs) {
    if (configs.size === 0) return;
    const rows = Object.fromEntries(configs);
    await conn(tx).execute(sql`
      insert into ${flagEnvironments} (flag_id, environment_id, config)
      select f.id, e.id, c.value from jsonb_each(${JSON.stringify(rows)}::jsonb) c
      join ${flags} f on f.key = c.key join ${environments} e on e.key = ${environment}
      on conflict (flag_id, environment_id) do update set config = excluded.config`);
  },

  async setManaged(tx, source, keys) {
    await setManaged(conn(tx), flags, source, keys);
  },
};

export const postgresSegments: SegmentRepository = {
  async list(tx) {
    return (await conn(tx).select().from(segments).orderBy(asc(segments.key))).map(toSegment);
  },

  async get(tx, key) {
    const [row] = await conn(tx).select().from(segments).where(eq(segments.key, key));
    return row ? toSegment(row) : undefined;
  },

  // FOR SHARE: a concurrent delete (which locks FOR UPDATE first) waits for us, then sees our rules.
  async existing(tx, keys) {
    const wanted = [...new Set(keys)];
    if (wanted.length === 0) return new Set();
    const rows = await conn(tx).select({ key: segments.key }).from(segments).where(inArray(segments.key, wanted)).for('share');
    return new Set(rows.map((r) => r.key));
  },

  async lock(tx, key) {
    await conn(tx).select({ id: segments.id }).from(segments).where(eq(segments.key, key)).for('update');
  },

  async insert(tx, segment) {
    await onViolation('unique', () => new AppError('conflict', `segment "${segment.key}" already exists`), () => conn(tx).insert(segments).values(segmentColumns(segment)));
  },

  async update(tx, segment, expectedVersion) {
    const updated = await conn(tx).update(segments).set(segmentColumns(segment)).where(and(eq(segments.key, segment.key), eq(segments.version, expectedVersion))).returning({ id: segments.id });
    return updated.length === 1;
  },

  async delete(tx, key, expectedVersion) {
    const deleted = await conn(tx).delete(segments).where(and(eq(segments.key, key), eq(segments.version, expectedVersion))).returning({ id: segments.id });
    return deleted.length === 1;
  },

  async setManaged(tx, source, keys) {
    await setManaged(conn(tx), segments, source, keys);
  },
};
