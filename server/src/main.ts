import { join } from 'node:path';
import { buildApp } from './app.js';
import { bootstrap } from './services/bootstrap.js';
import type { Config } from './config.js';
import { createDb, migrate } from './store/sqlite/connection.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';

export const DATABASE_FILE = 'switchyard.db';

/** Start the server: open + migrate the database, bootstrap, listen, and stop cleanly on signals. */
export async function startServer(config: Config): Promise<{ url: string; close: () => Promise<void> }> {
  const db = createDb(join(config.dataDir, DATABASE_FILE));
  migrate(db);
  const store = new SqliteStore(db);
  const { generatedAdminToken } = await bootstrap(store, config.adminToken);
  const app = await buildApp({
    store,
    heartbeatMs: config.heartbeatMs,
    syncPath: config.syncPath,
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
    },
  });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  // Always said, whatever the log level: scripts and humans need to know where to go.
  process.stdout.write(`Switchyard listening at ${url}\n`);
  if (generatedAdminToken) {
    // Printed once, to the terminal only (not through the logger): it is never shown again.
    process.stdout.write(
      `\n  Switchyard created an admin API token. Store it now; it will not be shown again:\n\n    ${generatedAdminToken}\n\n  Dashboard and API: ${url}\n\n`,
    );
  }
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await store.close();
    })());
  return { url, close };
}
