import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestSchema, testDatabaseUrl, testSchemaName, withSearchPath, type TestSchema } from './postgres.js';

const { Client } = pg;

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('test PostgreSQL', () => {
  const schemas: TestSchema[] = [];
  afterAll(async () => {
    for (const schema of schemas) await schema.drop();
  });
  async function fresh(label: string): Promise<TestSchema> {
    const schema = await createTestSchema(label);
    schemas.push(schema);
    return schema;
  }

  it('is reachable at the URL the global setup exported', async () => {
    expect(await query<{ one: number }>(testDatabaseUrl(), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('starts connections made from the returned URL in the new schema', async () => {
    const { url, schema } = await fresh('Current Schema!');
    expect(schema).toMatch(/^t_current_schema_[0-9a-f]{12}$/);
    expect(await query(url, 'SELECT current_schema() AS s')).toEqual([{ s: schema }]);
  });

  it('isolates schemas from each other', async () => {
    const [a, b] = [await fresh('iso a'), await fresh('iso b')];
    await query(a.url, 'CREATE TABLE items (id int PRIMARY KEY)');
    await query(a.url, 'INSERT INTO items VALUES (1)');
    expect(await query(a.url, 'SELECT id FROM items')).toEqual([{ id: 1 }]);
    await expect(query(b.url, 'SELECT id FROM items')).rejects.toThrow(/relation "items" does not exist/);
    expect(await query(b.url, `SELECT to_regclass('items') AS t`)).toEqual([{ t: null }]);
  });

  it('drop() removes the schema and its tables', async () => {
    const { url, schema, drop } = await createTestSchema('dropped');
    await query(url, 'CREATE TABLE t (x int)');
    await drop();
    const found = await query(testDatabaseUrl(), `SELECT 1 FROM pg_namespace WHERE nspname = '${schema}'`);
    expect(found).toEqual([]);
    await drop(); // idempotent: a second call (e.g. from a shared afterAll) does not throw
  });
});

describe('schema URLs and names', () => {
  it('adds search_path through libpq options, merged with an existing query', () => {
    const url = withSearchPath('postgres://u:p@h:5432/db?sslmode=disable&options=-c%20statement_timeout%3D5000', 't_x_1');
    const parsed = new URL(url);
    expect(parsed.searchParams.get('sslmode')).toBe('disable');
    expect(parsed.searchParams.get('options')).toBe('-c statement_timeout=5000 -c search_path=t_x_1');
    expect(url).not.toContain('+'); // libpq does not read + as a space
  });

  it('keeps names lowercase, identifier-safe and at most 60 characters', () => {
    const name = testSchemaName('A Very/Long Label: '.repeat(10));
    expect(name.length).toBeLessThanOrEqual(60);
    expect(name).toMatch(/^t_[a-z0-9_]+_[0-9a-f]{12}$/);
    expect(testSchemaName('***')).toMatch(/^t_test_[0-9a-f]{12}$/);
    expect(testSchemaName('x')).not.toBe(testSchemaName('x'));
  });
});
