import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestSchema, type TestSchema } from '../../testing/postgres.js';
import { POSTGRES_MIGRATIONS, createPool, migratePostgres, namespaceOf } from './connection.js';

/**
 * Our migrator keeps drizzle-kit's bookkeeping (so installations migrated by drizzle's own
 * migrator upgrade in place) but sends the pending statements in one round trip: these pin that
 * it records the same rows, applies only what is pending, and leaves nothing behind on failure.
 */

interface Journal {
  entries: { idx: number; tag: string; when: number }[];
}

const dirs: string[] = [];
const schemas: TestSchema[] = [];
const pools: pg.Pool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.end();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
afterAll(async () => {
  for (const schema of schemas.splice(0)) await schema.drop();
});

/** The migrations folder as it was at migration `last`, plus optional extra migrations. */
function migrationsUpTo(last: number, extra: { tag: string; sql: string }[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-migrations-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'meta'));
  const journal = JSON.parse(readFileSync(join(POSTGRES_MIGRATIONS, 'meta/_journal.json'), 'utf8')) as Journal;
  journal.entries = journal.entries.filter((e) => e.idx <= last);
  for (const entry of journal.entries) copyFileSync(join(POSTGRES_MIGRATIONS, `${entry.tag}.sql`), join(dir, `${entry.tag}.sql`));
  for (const [i, migration] of extra.entries()) {
    const previous = journal.entries.at(-1)!;
    journal.entries.push({ ...previous, idx: previous.idx + 1, tag: migration.tag, when: previous.when + 1000 * (i + 1) });
    writeFileSync(join(dir, `${migration.tag}.sql`), migration.sql);
  }
  writeFileSync(join(dir, 'meta/_journal.json'), JSON.stringify(journal));
  for (const file of readdirSync(join(POSTGRES_MIGRATIONS, 'meta')).filter((f) => /^\d{4}_snapshot\.json$/.test(f))) {
    copyFileSync(join(POSTGRES_MIGRATIONS, 'meta', file), join(dir, 'meta', file));
  }
  return dir;
}

async function freshSchema(label: string): Promise<{ pool: pg.Pool; schema: string }> {
  const schema = await createTestSchema(label);
  schemas.push(schema);
  const pool = createPool(schema.url, { max: 2 });
  pools.push(pool);
  return { pool, schema: schema.schema };
}

async function applied(pool: pg.Pool): Promise<{ hash: string; created_at: string }[]> {
  return (await pool.query<{ hash: string; created_at: string }>('select hash, created_at from __drizzle_migrations order by id')).rows;
}

async function tables(pool: pg.Pool, schema: string): Promise<string[]> {
  const { rows } = await pool.query<{ table_name: string }>('select table_name from information_schema.tables where table_schema = $1 order by 1', [schema]);
  return rows.map((r) => r.table_name);
}

const journalLength = (JSON.parse(readFileSync(join(POSTGRES_MIGRATIONS, 'meta/_journal.json'), 'utf8')) as Journal).entries.length;

describe('migratePostgres', () => {
  it("records exactly what drizzle-kit's migrator records, and builds the same tables", async () => {
    const ours = await freshSchema('migrate_ours');
    const theirs = await freshSchema('migrate_theirs');
    await migratePostgres(ours.pool, await namespaceOf(ours.pool));
    const client = await theirs.pool.connect();
    try {
      await migrate(drizzle({ client }), { migrationsFolder: POSTGRES_MIGRATIONS, migrationsSchema: theirs.schema });
    } finally {
      client.release();
    }
    expect(await applied(ours.pool)).toEqual(await applied(theirs.pool));
    expect(await applied(ours.pool)).toHaveLength(journalLength);
    expect(await tables(ours.pool, ours.schema)).toEqual(await tables(theirs.pool, theirs.schema));
  });

  it("upgrades an installation drizzle's migrator set up, applying only the pending migrations, and does nothing the second time", async () => {
    const { pool, schema } = await freshSchema('migrate_upgrade');
    const client = await pool.connect();
    try {
      await migrate(drizzle({ client }), { migrationsFolder: migrationsUpTo(2), migrationsSchema: schema });
    } finally {
      client.release();
    }
    expect(await applied(pool)).toHaveLength(3);
    const namespace = await namespaceOf(pool);
    await migratePostgres(pool, namespace);
    expect(await applied(pool)).toHaveLength(journalLength);
    await migratePostgres(pool, namespace);
    expect(await applied(pool)).toHaveLength(journalLength);
  });

  it('applies nothing of a batch with a failing statement, releases its lock and leaves the pool usable', async () => {
    const { pool, schema } = await freshSchema('migrate_failing');
    const namespace = await namespaceOf(pool);
    await migratePostgres(pool, namespace, migrationsUpTo(1));
    const before = await tables(pool, schema);
    const bad = migrationsUpTo(1, [
      { tag: '9000_good', sql: 'CREATE TABLE "made_by_good" ("id" integer);' },
      { tag: '9001_bad', sql: 'CREATE TABLE "made_by_bad" ("id" integer);\n--> statement-breakpoint\nALTER TABLE "no_such_table" ADD COLUMN "x" integer;' },
    ]);
    await expect(migratePostgres(pool, namespace, bad)).rejects.toThrow(/no_such_table/);
    expect(await tables(pool, schema)).toEqual(before);
    expect(await applied(pool)).toHaveLength(2);
    // The lock was released: a good migration set applies at once (a held lock would block forever).
    await migratePostgres(pool, namespace, migrationsUpTo(1, [{ tag: '9000_good', sql: 'CREATE TABLE "made_by_good" ("id" integer);' }]));
    expect(await tables(pool, schema)).toContain('made_by_good');
    expect(await applied(pool)).toHaveLength(3);
  });
});
