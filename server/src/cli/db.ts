import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { CopyError, copySqliteToPostgres, redactUrl } from '../store/copy.js';
import { EXIT, UsageError } from './errors.js';
import { COPY_HELP, DB_HELP } from './db-help.js';
import { formatTable, processIo, type Io } from './output.js';

/**
 * `switchyard db …`: commands on the database files themselves, run beside (not through) a server.
 * Unlike the client commands they need no server URL or token, only access to the databases.
 */

/** Returns the exit code. */
export async function runDbCommand(args: readonly string[], io: Io = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const [command, ...rest] = args;
    if (command === undefined) {
      io.err(DB_HELP);
      throw new UsageError('missing command after "db": copy');
    }
    if (command === '--help' || command === '-h' || command === 'help') {
      io.out(DB_HELP);
      return EXIT.ok;
    }
    if (command !== 'copy') throw new UsageError(`unknown command "db ${command}"`, 'Run "switchyard db --help" for the list.');
    return await copy(rest, io);
  } catch (error) {
    return report(error, io, env);
  }
}

async function copy(args: readonly string[], io: Io): Promise<number> {
  let values: { from?: string; to?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: [...args], options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message, 'Run "switchyard db copy --help" for usage.');
  }
  if (values.help) {
    io.out(COPY_HELP);
    return EXIT.ok;
  }
  const { from, to } = values;
  if (!from || !to) throw new UsageError(`missing ${!from ? '--from FILE' : '--to URL'}`, 'Usage: switchyard db copy --from FILE --to URL');
  const started = performance.now();
  const copied = await copySqliteToPostgres({
    from,
    to,
    onStart: ({ schema, feedHead }) => io.out(`Copying ${from} as of change-feed position ${feedHead} into ${redactUrl(to)} (schema "${schema}")…\n`),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const total = copied.tables.reduce((sum, t) => sum + t.rows, 0);
  io.out(`\n${formatTable(['TABLE', 'ROWS', 'SHA-256 (canonical rows)'], copied.tables.map((t) => [t.table, String(t.rows), t.digest.slice(0, 16)]))}\n`);
  io.out(
    `Verified: row count and content digest of all ${copied.tables.length} tables match the source.\n` +
      `Copied ${total} rows in ${seconds} s; new ids and change-feed positions continue after the copied ones.\n`,
  );
  return EXIT.ok;
}

function report(error: unknown, io: Io, env: NodeJS.ProcessEnv): number {
  if (error instanceof UsageError || (error instanceof CopyError && error.usage)) {
    const hint = error instanceof UsageError ? error.hint : 'Run "switchyard db copy --help" for usage.';
    io.err(`switchyard: ${error.message}\n${hint ? `${hint}\n` : ''}`);
    return EXIT.usage;
  }
  if (error instanceof CopyError) {
    io.err(`switchyard: ${error.message}\n`);
    return EXIT.rejected;
  }
  // A bug, not an expected failure: say so briefly; the stack only on request.
  const detail = error instanceof Error ? (env.SWITCHYARD_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
  io.err(`switchyard: unexpected error: ${detail}\n(set SWITCHYARD_DEBUG=1 for details)\n`);
  return EXIT.rejected;
}
