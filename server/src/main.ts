import { buildApp } from './app.js';
import type { Config } from './config.js';
import { bootstrap } from './services/bootstrap.js';
import { openDatabase } from './store/open.js';

/**
 * Start one replica: open (and migrate) the database, bootstrap an empty one, listen, and stop
 * cleanly on signals.
 */
export async function startServer(config: Config): Promise<{ url: string; close: () => Promise<void> }> {
  const db = await openDatabase(config);
  const app = await buildApp({
    db,
    heartbeatMs: config.heartbeatMs,
    tickMs: config.releaseTickMs,
    syncPath: config.syncPath,
    syncBypassApprovals: config.syncBypassApprovals,
    trustProxy: config.trustProxy,
    maxStreamsPerKey: config.maxStreamsPerKey,
    maxStreamsPerAddress: config.maxStreamsPerAddress,
    maxDashboardStreams: config.maxDashboardStreams,
    authFailuresPerMinute: config.authFailuresPerMinute,
    metricsUploadsPerMinute: config.metricsUploadsPerMinute,
    lifecycle: { newForDays: config.lifecycleNewDays, launchedAfterDays: config.lifecycleLaunchedDays, staleAfterDays: config.lifecycleStaleDays },
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
    },
  });
  let generatedAdminToken: string | undefined;
  try {
    ({ generatedAdminToken } = await bootstrap(app.services.writes, app.services.environments, config.adminToken));
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app.close();
    await db.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  // Always said, whatever the log level: scripts and humans need to know where to go. One write, so
  // whoever waits for the "listening" line has the generated token in the same chunk.
  let banner = `Switchyard listening at ${url}\n`;
  if (generatedAdminToken) {
    // Printed once, to the terminal only (not through the logger): it is never shown again.
    banner += `\n  Switchyard created an admin API token. Store it now; it will not be shown again:\n\n    ${generatedAdminToken}\n\n  Dashboard and API: ${url}\n\n`;
  }
  process.stdout.write(banner);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await db.close();
    })());
  return { url, close };
}
