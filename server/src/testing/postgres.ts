import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { redactUrl } from '../store/postgres/connection.js';

const { Client } = pg;

/** Set by CI, or by test/support/postgres-global-setup.ts to the throwaway server it starts. */
export const TEST_DATABASE_URL_ENV = 'SWITCHYARD_TEST_DATABASE_URL';

/** The PostgreSQL every test shares; each test file isolates itself with `createTestSchema`. */
export function testDatabaseUrl(): string {
  const url = process.env[TEST_DATABASE_URL_ENV];
  if (!url) {
    throw new Error(
      `${TEST_DATABASE_URL_ENV} is not set. Run the tests through vitest, whose globalSetup ` +
        `(test/support/postgres-global-setup.ts) sets it, or set it to a PostgreSQL URL yourself.`,
    );
  }
  return url;
}

export { redactUrl };

export async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  // A bounded wait: a wrong host or port should fail the run, not hang it.
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Connects and runs `SELECT 1`; resolves to the server version, rejects with a readable error. */
export async function checkPostgres(url: string, source: string): Promise<string> {
  try {
    return await withClient(url, async (client) => {
      await client.query('SELECT 1');
      const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
      return rows[0]?.server_version ?? 'unknown';
    });
  } catch (error) {
    throw new Error(`PostgreSQL for the tests is unreachable (${source}: ${redactUrl(url)}): ${reasonOf(error)}`, { cause: error });
  }
}

// Refused connections to a host with several addresses arrive as an AggregateError with no message.
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(reasonOf).join('; ');
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * `url` with libpq's `options` query parameter extended by `-c search_path=<schema>`, so every
 * connection made from it (node-postgres, and child processes given the URL) starts in `schema`.
 * Encoded with %20, not `+`: libpq does not decode `+` as a space in URIs.
 */
export function withSearchPath(url: string, schema: string): string {
  const parsed = new URL(url);
  const params = [...parsed.searchParams];
  const setting = `-c search_path=${schema}`;
  const existing = params.find(([key]) => key === 'options');
  if (existing) existing[1] = `${existing[1]} ${setting}`;
  else params.push(['options', setting]);
  parsed.search = params.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
  return parsed.toString();
}

/** `t_<label>_<random>`: a valid unquoted identifier, ≤ 60 characters, unique per call. */
export function testSchemaName(label: string): string {
  const suffix = randomBytes(6).toString('hex');
  const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'test';
  const room = 60 - 't__'.length - suffix.length;
  return `t_${clean.slice(0, room).replace(/_+$/, '')}_${suffix}`;
}

export interface TestSchema {
  /** The test database, with `search_path` set to `schema`. */
  url: string;
  schema: string;
  /** Drops the schema and everything in it; close pools using `url` first. */
  drop(): Promise<void>;
}

/**
 * A fresh, empty schema in the test database for one test file, so files running in parallel (and
 * server processes they start) never see each other's tables.
 */
export async function createTestSchema(label: string): Promise<TestSchema> {
  const base = testDatabaseUrl();
  const schema = testSchemaName(label);
  await withClient(base, (client) => client.query(`CREATE SCHEMA ${client.escapeIdentifier(schema)}`));
  return {
    url: withSearchPath(base, schema),
    schema,
    drop: () => dropTestSchema(schema),
  };
}

/** Drops a test schema and everything in it; close pools using it first. */
export function dropTestSchema(schema: string): Promise<void> {
  return withClient(testDatabaseUrl(), async (client) => {
    // A connection left open inside a transaction would otherwise make DROP wait forever.
    await client.query(`SET lock_timeout = '10s'`);
    await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`);
  });
}
