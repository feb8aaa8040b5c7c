import { performance } from 'node:perf_hooks';
import { TEST_DATABASE_URL_ENV, checkPostgres, redactUrl } from '../../server/src/testing/postgres.js';
import { prepareSchemaPool } from '../../server/src/testing/schema-pool.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

/**
 * vitest globalSetup: decides which PostgreSQL the suite uses and exports its URL as
 * SWITCHYARD_TEST_DATABASE_URL. Workers (every pool) and the processes tests spawn inherit the
 * main process's environment, so setting it here reaches them all. Never skips: if no server can
 * be reached or started, the run fails.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const given = process.env[TEST_DATABASE_URL_ENV];
  if (given) {
    // An explicit URL that does not work is an error, not a reason to quietly use another server.
    const version = await checkPostgres(given, TEST_DATABASE_URL_ENV);
    console.log(`postgres: ${TEST_DATABASE_URL_ENV} (PostgreSQL ${version}, ${redactUrl(given)})`);
    await prepareSchemaPool();
    return async () => {};
  }
  const started = performance.now();
  const server = await startEmbeddedPostgres();
  try {
    const version = await checkPostgres(server.url, 'embedded server');
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`postgres: embedded ${version} on 127.0.0.1:${server.port} (started in ${seconds} s)`);
  } catch (error) {
    await server.stop();
    throw error;
  }
  process.env[TEST_DATABASE_URL_ENV] = server.url;
  await prepareSchemaPool();
  return async () => {
    delete process.env[TEST_DATABASE_URL_ENV];
    await server.stop();
  };
}
