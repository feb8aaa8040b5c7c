/**
 * Several Switchyard replicas on one PostgreSQL, for the server benchmarks. The PostgreSQL is
 * SWITCHYARD_BENCH_DATABASE_URL, else SWITCHYARD_TEST_DATABASE_URL, else a throwaway embedded
 * cluster (test/support/embedded-postgres.ts, as the tests' globalSetup). Each set of replicas
 * gets a fresh schema, dropped when they stop.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { TEST_DATABASE_URL_ENV, checkPostgres, createTestSchema, redactUrl } from '../../server/src/testing/postgres.js';
import { startEmbeddedPostgres } from '../support/embedded-postgres.js';
import { ROOT, removeDataDir, startServerProcess, type ServerProcess, type StartOptions } from '../support/server-process.js';

export const BENCH_DATABASE_URL_ENV = 'SWITCHYARD_BENCH_DATABASE_URL';

export interface BenchPostgres {
  url: string;
  /** Where it is and the settings that decide commit cost, for the report. */
  description: string;
  stop(): Promise<void>;
}

/** The few node-postgres calls used here; `pg` is the server's dependency, not the tests'. */
interface PgClient {
  connect(): Promise<unknown>;
  query(sql: string): Promise<{ rows: Record<string, string>[] }>;
  end(): Promise<void>;
}
const pg = createRequire(join(ROOT, 'server/package.json'))('pg') as { Client: new (options: { connectionString: string }) => PgClient };

/** Commit durability settings: fsync on or off changes write throughput several-fold. */
async function commitSettings(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const settings: string[] = [];
    for (const name of ['fsync', 'synchronous_commit', 'max_connections']) settings.push(`${name}=${(await client.query(`SHOW ${name}`)).rows[0]?.[name]}`);
    return settings.join(', ');
  } finally {
    await client.end();
  }
}

/** The PostgreSQL the benchmarks use (see the module comment); stop() stops it if it was started here. */
export async function benchPostgres(): Promise<BenchPostgres> {
  let url: string;
  let source: string;
  let stop = async () => {};
  const given = [BENCH_DATABASE_URL_ENV, TEST_DATABASE_URL_ENV].find((name) => process.env[name]);
  if (given) {
    url = process.env[given]!;
    source = `${given}, ${redactUrl(url)}`;
  } else {
    const embedded = await startEmbeddedPostgres({ purpose: 'the benchmarks', urlEnv: BENCH_DATABASE_URL_ENV });
    url = embedded.url;
    source = `embedded, 127.0.0.1:${embedded.port}`;
    stop = embedded.stop;
  }
  try {
    const version = await checkPostgres(url, given ?? 'embedded server');
    const description = `PostgreSQL ${version} (${source}; ${await commitSettings(url)})`;
    // createTestSchema makes its schemas in the database this variable names.
    process.env[TEST_DATABASE_URL_ENV] = url;
    return { url, description, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface Replicas {
  servers: ServerProcess[];
  /** The schema's URL (search_path set), shared by every replica. */
  url: string;
  /** Stop every replica, then drop the schema. */
  stop(): Promise<void>;
}

/**
 * `count` replicas on a fresh schema: the first migrates and bootstraps it alone, the others then
 * start together. On failure, whatever started is stopped and the schema dropped.
 */
export async function startReplicas(label: string, count: number, options: StartOptions = {}): Promise<Replicas> {
  const schema = await createTestSchema(label);
  const servers: ServerProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(servers.map((server) => server.stop()));
    for (const server of servers) removeDataDir(server.dataDir);
    await schema.drop();
  };
  const start = async () => {
    const server = await startServerProcess({ ...options, env: { ...options.env, SWITCHYARD_DATABASE_URL: schema.url } });
    servers.push(server);
  };
  try {
    await start();
    await Promise.all(Array.from({ length: count - 1 }, start));
  } catch (error) {
    await stop();
    throw error;
  }
  return { servers, url: schema.url, stop };
}
