import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI_SOURCE = join(ROOT, 'server/src/cli.ts');
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef0123';

/** Node arguments that run a TypeScript entry of this repo from source (workspace packages too). */
// tsx's loader by absolute URL, so it also works from a working directory outside the repository.
export const NODE_SOURCE_ARGS = ['--conditions=switchyard-source', '--import', pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href];

/**
 * The newest modification time among the files `pnpm build` compiles under `dir`: tests and
 * src/testing/ are left out as the build configurations leave them out, so editing a test does not
 * make the build look stale.
 */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'testing') newest = Math.max(newest, newestMtime(path));
    } else if (!entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

const CLI_BUILT = join(ROOT, 'server/dist/cli.js');

/** Whether `pnpm build` output is newer than every source file it was built from. */
function buildIsFresh(): boolean {
  const sdkBuilt = join(ROOT, 'sdk/dist/index.js');
  if (!existsSync(CLI_BUILT) || !existsSync(sdkBuilt)) return false;
  const sources = Math.max(newestMtime(join(ROOT, 'server/src')), newestMtime(join(ROOT, 'sdk/src')));
  return Math.min(statSync(CLI_BUILT).mtimeMs, statSync(sdkBuilt).mtimeMs) > sources;
}

/**
 * How to run the `switchyard` CLI and server: the built one when `pnpm build` output is newer than
 * every source file (as in `pnpm test`, which builds first; it starts in a fraction of tsx's time
 * and runs without the loader's overhead), else from source. Decided once, at import.
 */
export const CLI_ARGS: readonly string[] = buildIsFresh() ? [CLI_BUILT] : [...NODE_SOURCE_ARGS, CLI_SOURCE];

/** Which of the two CLI_ARGS runs, for benchmarks to print beside their figures. */
export const CLI_KIND: string = CLI_ARGS[0] === CLI_BUILT ? 'built (node server/dist/cli.js)' : 'from TypeScript source through tsx (no fresh `pnpm build`)';

export interface ServerProcess {
  url: string;
  port: number;
  dataDir: string;
  adminToken: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, no graceful shutdown. */
  kill(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
  args?: string[];
  /** Extra Node.js options for the server process (e.g. `--cpu-prof` when profiling a benchmark). */
  nodeArgs?: string[];
  timeoutMs?: number;
}

/**
 * Start the real server (`switchyard serve`, see CLI_ARGS) as a child process on a free port (or
 * `port`), with a temporary data directory and a known admin token; resolves once it listens.
 */
export async function startServerProcess(options: StartOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'switchyard-e2e-'));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...CLI_ARGS, 'serve', '--port', String(options.port ?? 0), '--data-dir', dataDir, ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Nobody would ever stop a server whose start failed: it must not outlive the caller.
      child.kill('SIGKILL');
      reject(new Error(`server did not start in time:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    let found = false;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // Scanned until found only: a server logging at info under load writes megabytes, and
      // re-reading all of it per chunk made the client (a benchmark's load generator) ever slower.
      if (found) return;
      const m = /Switchyard listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        found = true;
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    adminToken: options.env?.SWITCHYARD_ADMIN_TOKEN ?? ADMIN_TOKEN,
    child,
    output: () => output,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
  };
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Small authenticated JSON client for tests. */
export function api(url: string, token: string) {
  return async function request<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const response = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T, headers: response.headers };
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real `switchyard` CLI as a child process (see CLI_ARGS) and collect its output. */
export function runCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [...CLI_ARGS, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
