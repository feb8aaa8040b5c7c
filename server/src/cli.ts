#!/usr/bin/env node
// Only `serve` loads the server (Fastify, both database drivers, every route: about a second of CPU
// at start); client commands import just the CLI, so a `switchyard flags list` starts quickly.

const [command, ...args] = process.argv.slice(2);

const SERVE_HELP = `Usage: switchyard serve [options]

Start the Switchyard server: REST API, dashboard, SDK streams, OFREP.

Options (each overrides its environment variable):
  --port N            PORT                     listen port (default 4242)
  --host H            HOST                     listen address (default 127.0.0.1; 0.0.0.0 for all interfaces)
  --data-dir DIR      SWITCHYARD_DATA_DIR      where switchyard.db lives (default ./data)
  --database-url URL  SWITCHYARD_DATABASE_URL  use PostgreSQL instead of SQLite (postgres://…); several
                                               replicas may share it
  --log-level L       LOG_LEVEL                fatal, error, warn, info, debug, trace, silent (default info)
  --heartbeat-ms N    SWITCHYARD_HEARTBEAT_MS  SSE heartbeat period (default 15000)
  --sync PATH         SWITCHYARD_SYNC          keep flags in sync with a YAML/JSON file or directory (GitOps)
  --sync-bypass-approvals REASON  SWITCHYARD_SYNC_BYPASS_APPROVALS  let the sync change environments with
                                               an approval policy (protect the branch instead); the
                                               reason is recorded in every audit entry it writes there
  --release-tick-ms N SWITCHYARD_RELEASE_TICK_MS how often running release plans are looked at (default 5000)
  --max-streams-per-key N     SWITCHYARD_MAX_STREAMS_PER_KEY  open SDK streams per server SDK key, per
                                               replica; more get 429 with Retry-After (default 1000)
  --max-streams-per-address N SWITCHYARD_MAX_STREAMS_PER_ADDRESS  open OFREP change streams of client keys
                                               (browsers, apps) per client address (IPv6: /64), per
                                               replica; more get 429 with Retry-After (default 1000)
  --max-dashboard-streams N   SWITCHYARD_MAX_DASHBOARD_STREAMS  open dashboard live-update streams per
                                               API token or session, per replica (default 10)
  --auth-failures-per-minute N  SWITCHYARD_AUTH_FAILURES_PER_MINUTE  failed authentications (bad token,
                                               SDK key or sign-in) per client IP and minute, per replica,
                                               before 429s; valid credentials always pass (default 30)
  --metrics-uploads-per-minute N  SWITCHYARD_METRICS_UPLOADS_PER_MINUTE  SDK metrics uploads per SDK key
                                               and minute, over all replicas, before 429s (default 1200)
  --trust-proxy V     SWITCHYARD_TRUST_PROXY   trust X-Forwarded-For/-Proto from these peers: false
                                               (default), true (any peer), or addresses/CIDR ranges,
                                               e.g. 10.0.0.0/8,loopback. Makes the session cookie Secure
                                               behind a TLS-terminating proxy; rate limits see the client
  --lifecycle-new-days N       SWITCHYARD_LIFECYCLE_NEW_DAYS       a flag never evaluated is "new" this long (default 7)
  --lifecycle-launched-days N  SWITCHYARD_LIFECYCLE_LAUNCHED_DAYS  one variation to everyone everywhere this long:
                                               "launched" (default 7)
  --lifecycle-stale-days N     SWITCHYARD_LIFECYCLE_STALE_DAYS     no evaluations, or launched, this long: "stale" (default 30)
                      SWITCHYARD_ADMIN_TOKEN   the admin token created on an empty database
`;

async function serve(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(SERVE_HELP);
    return;
  }
  const [{ ConfigError, loadConfig }, { startServer }] = await Promise.all([import('./config.js'), import('./main.js')]);
  let config;
  try {
    config = loadConfig(argv, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchyard: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let server;
  try {
    server = await startServer(config);
  } catch (error) {
    // The database unreachable, the port taken…: one line saying so, not a stack trace.
    process.stderr.write(`switchyard: cannot start: ${startFailure(error)}\n`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    process.stderr.write(`switchyard: ${signal} received, shutting down\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

function startFailure(error: unknown): string {
  const reasons: string[] = [];
  for (let e: unknown = error; e instanceof Error && reasons.length < 3; e = e.cause) if (e.message) reasons.push(e.message);
  if (error instanceof AggregateError) reasons.push(...error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))));
  return reasons.join(': ') || String(error);
}

if (command === 'serve') {
  await serve(args);
} else if (command === 'db') {
  // Works on database files and URLs directly, no server involved (see cli/db.ts).
  const { runDbCommand } = await import('./cli/db.js');
  process.exitCode = await runDbCommand(args);
} else if (command === 'mcp') {
  // A Model Context Protocol server on stdio for coding agents (see cli/mcp/server.ts).
  const { runMcp } = await import('./cli/mcp/server.js');
  // Exit as soon as the client is gone: idle keep-alive connections to the server would hold the
  // process up to seconds, and MCP clients wait for it to exit before killing it.
  process.exit(await runMcp(args));
} else if (command === 'codegen') {
  // TypeScript types of the flags, for createClient<Flags>() (see cli/codegen.ts).
  const { runCodegen } = await import('./cli/codegen.js');
  process.exitCode = await runCodegen(args);
} else {
  const { runClientCommand } = await import('./cli/commands.js');
  process.exitCode = await runClientCommand(command, args);
}
