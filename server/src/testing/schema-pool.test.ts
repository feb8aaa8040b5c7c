import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool, migratePostgres, namespaceOf } from '../store/postgres/connection.js';
import { openPostgres } from '../store/postgres/database.js';
import { createServices } from '../services/index.js';
import { bootstrap } from '../services/bootstrap.js';
import { testDatabaseUrl } from './postgres.js';
import { takeTestSchema, type PooledSchema } from './schema-pool.js';

/**
 * Reused test schemas must be indistinguishable from freshly migrated ones. The schemas here are
 * listed under a fingerprint of their own, so no other test file running meanwhile can claim them.
 */

const fingerprint = `pool-test-${randomBytes(4).toString('hex')}`;
const taken: PooledSchema[] = [];

async function query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function schemaExists(schema: string): Promise<boolean> {
  return (await query('select 1 from pg_namespace where nspname = $1', [schema])).length === 1;
}

async function listed(schema: string): Promise<boolean> {
  return (await query('select 1 from switchyard_test_pool.free where schema = $1', [schema])).length === 1;
}

/** Every table's rows and every sequence's next value: what a test could observe. */
async function contents(url: string): Promise<unknown> {
  const pool = createPool(url, { max: 1 });
  try {
    const tables = (await pool.query<{ t: string }>(`select tablename as t from pg_tables where schemaname = current_schema() and tablename <> '__drizzle_migrations' order by 1`)).rows.map((r) => r.t);
    const dump: Record<string, unknown> = {};
    for (const t of tables) dump[t] = (await pool.query(`select * from "${t}" order by 1`)).rows;
    const sequences = (await pool.query<{ s: string }>(`select relname as s from pg_class where relkind = 'S' and relnamespace = current_schema()::regnamespace and relname <> '__drizzle_migrations_id_seq' order by 1`)).rows;
    for (const { s } of sequences) dump[`seq:${s}`] = (await pool.query(`select last_value, is_called from "${s}"`)).rows[0];
    return dump;
  } finally {
    await pool.end();
  }
}

/** Take a schema, migrate it when new, as openTestDatabase does. */
async function take(label: string): Promise<PooledSchema> {
  const schema = await takeTestSchema(label, fingerprint);
  taken.push(schema);
  if (!schema.reused) {
    const pool = createPool(schema.url, { max: 1 });
    await migratePostgres(pool, await namespaceOf(pool));
    await pool.end();
    await schema.migrated();
  }
  return schema;
}

afterAll(async () => {
  // Claim whatever is still listed under this test's fingerprint and drop it.
  const rows = await query<{ schema: string }>('delete from switchyard_test_pool.free where fingerprint = $1 returning schema', [fingerprint]);
  for (const { schema } of rows) await query(`drop schema if exists "${schema}" cascade`);
  for (const schema of taken) if (await schemaExists(schema.schema)) await query(`drop schema if exists "${schema.schema}" cascade`);
});

describe('the test schema pool', () => {
  it('gives the next test a released schema holding exactly what a fresh, migrated one holds', async () => {
    const fresh = await take('pool_fresh');
    expect(fresh.reused).toBe(false);
    const pristine = await contents(fresh.url);

    // A whole app's worth of writes: bootstrap (environments, internal segment, admin token), a flag, feed entries.
    const db = await openPostgres(fresh.url, { max: 2 });
    const services = createServices(db, { now: () => Date.UTC(2026, 0, 1) });
    await bootstrap(services.writes, services.environments, 'sy_api_pool_test_token_0123456789abcdefghijklmnop');
    await services.flags.create({ key: 'pooled', name: 'Pooled', type: 'boolean' }, { actor: 'test', source: 'api' });
    await db.close();
    expect(await contents(fresh.url)).not.toEqual(pristine);

    await fresh.release();
    expect(await listed(fresh.schema)).toBe(true);
    expect(await contents(fresh.url)).toEqual(pristine);

    const again = await take('pool_again');
    expect(again.reused).toBe(true);
    expect(again.schema).toBe(fresh.schema);
    expect(await listed(fresh.schema)).toBe(false);
    await again.release();
  });

  it('drops, rather than lists, a schema whose tables a test changed', async () => {
    const schema = await take('pool_altered');
    await query(`alter table "${schema.schema}".flags add column extra integer`);
    await schema.release();
    expect(await schemaExists(schema.schema)).toBe(false);
  });

  it('drops a new schema released before it was recorded as migrated', async () => {
    const schema = await takeTestSchema('pool_unmigrated', fingerprint);
    taken.push(schema);
    expect(schema.reused).toBe(false);
    await schema.release();
    expect(await schemaExists(schema.schema)).toBe(false);
  });
});
