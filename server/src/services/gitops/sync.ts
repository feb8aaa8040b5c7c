import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../../domain/errors.js';
import type { GitOpsService } from './gitops.service.js';
import { formatProblem, type FileProblem, type SourceFile } from '../../domain/gitops/locate.js';
import type { ManagedResources } from './managed.js';
import { planChanges, type PlannedChange } from '../../domain/gitops/plan.js';

export const SYNC_ACTOR = 'gitops';
const DEFAULT_DEBOUNCE_MS = 150;
const DEFAULT_INTERVAL_MS = 30_000;
const FILE_PATTERN = /\.(ya?ml|json)$/i;

export interface SyncStatus {
  path: string;
  lastSync: string | null;
  lastAttempt: string | null;
  lastCommit: string | null;
  lastSuccess: boolean;
  lastError: { message: string; problems: FileProblem[] } | null;
  drift: PlannedChange[];
  managed: { flags: number; segments: number };
}

export interface SyncOptions {
  path: string;
  gitops: GitOpsService;
  managed: ManagedResources;
  log: FastifyBaseLogger;
  debounceMs?: number;
  intervalMs?: number;
}

/**
 * `serve --sync FILE|DIR`: a GitOps controller. On start and whenever the file changes (fs.watch,
 * debounced, plus a periodic re-read in case an event was missed) it applies the file in one
 * transaction as actor `gitops`, with the Git commit of the file's working tree. An invalid file
 * changes nothing: the last good state stays and the error is reported. Between file changes it
 * compares the database with the file and reports drift instead of overwriting it.
 */
export class GitOpsSync {
  private watcher: FSWatcher | undefined;
  private interval: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private appliedHash: string | null = null;
  readonly status: SyncStatus;

  constructor(private readonly options: SyncOptions) {
    this.status = { path: options.path, lastSync: null, lastAttempt: null, lastCommit: null, lastSuccess: false, lastError: null, drift: [], managed: { flags: 0, segments: 0 } };
  }

  async start(): Promise<void> {
    await this.check();
    const { path } = this.options;
    const isDir = (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
    // Watch the directory: editors and `git checkout` replace files, which ends a file watch.
    try {
      this.watcher = watch(isDir ? path : dirname(path), { persistent: false }, () => this.schedule());
      this.watcher.on('error', (error) => this.options.log.warn({ err: error }, 'gitops: file watch failed; relying on the periodic check'));
    } catch (error) {
      this.options.log.warn({ err: error }, 'gitops: cannot watch the sync path; relying on the periodic check');
    }
    this.interval = setInterval(() => void this.check(), this.options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.interval.unref();
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    clearInterval(this.interval);
    clearTimeout(this.debounce);
    await this.running;
  }

  private schedule(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), this.options.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  /** Re-read the file: apply it if it changed since the last apply, else look for drift. Serialised. */
  check(): Promise<void> {
    this.running = this.running.then(() => this.run()).catch((error: unknown) => this.options.log.error({ err: error }, 'gitops: sync failed'));
    return this.running;
  }

  private async run(): Promise<void> {
    const { gitops, managed, log, path } = this.options;
    this.status.lastAttempt = new Date().toISOString();
    let sources: SourceFile[];
    try {
      sources = await readSources(path);
    } catch (error) {
      return this.fail(`cannot read ${path}: ${(error as Error).message}`, []);
    }
    const hash = createHash('sha256').update(JSON.stringify(sources)).digest('hex');
    let pruneOnly = { flags: managed.managedFlags(), segments: managed.managedSegments() };
    if (this.appliedHash === null && pruneOnly.flags.size === 0 && pruneOnly.segments.size === 0) {
      // Just started: what the sync wrote before the restart is still its own, so a flag removed
      // from the file while the server was down is deleted now, as it would have been had it run.
      const earlier = await gitops.writtenBy(SYNC_ACTOR);
      pruneOnly = { flags: new Set(earlier.flags), segments: new Set(earlier.segments) };
    }
    try {
      const { desired, current } = await gitops.load(sources);
      const plan = planChanges(desired, current, { pruneOnly });
      if (hash === this.appliedHash) {
        // Back to the applied file (e.g. a broken edit was undone): healthy again, nothing to apply.
        Object.assign(this.status, { lastSuccess: true, lastError: null, drift: plan.changes });
        if (plan.changes.length > 0) log.warn({ drift: plan.changes.map((c) => `${c.resource} ${c.key}`) }, 'gitops: the database differs from the file (drift)');
        return;
      }
      const commit = await gitHead(path);
      if (this.appliedHash === null && plan.changes.length > 0) log.warn({ changes: plan.changes.map((c) => `${c.action} ${c.resource} ${c.key}`) }, 'gitops: the database differed from the file at start; applying the file');
      const result = await gitops.applyPlan(plan, { audit: { actor: SYNC_ACTOR, source: 'gitops', message: `sync from ${path}`, ...(commit ? { commit } : {}) } });
      managed.set(path, desired.flags.keys(), desired.segments.keys());
      this.appliedHash = hash;
      Object.assign(this.status, { lastSync: new Date().toISOString(), lastCommit: commit ?? null, lastSuccess: true, lastError: null, drift: [], managed: { flags: desired.flags.size, segments: desired.segments.size } });
      if (result.applied) log.info({ commit, ...result.summary }, 'gitops: applied the sync file');
    } catch (error) {
      if (error instanceof AppError) {
        const problems = Array.isArray(error.details) && error.code === 'validation_failed' ? (error.details as FileProblem[]) : [];
        return this.fail(error.message, problems);
      }
      throw error;
    }
  }

  private fail(message: string, problems: FileProblem[]): void {
    this.status.lastSuccess = false;
    this.status.lastError = { message, problems };
    // Loud on purpose: the server keeps serving the last good state until the file is fixed.
    this.options.log.error({ problems: problems.map(formatProblem) }, `gitops: ${message}; keeping the last good state`);
  }
}

/** The file, or every *.yaml / *.yml / *.json in the directory (recursively), in a stable order. */
export async function readSources(path: string): Promise<SourceFile[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [{ name: path, text: await readFile(path, 'utf8') }];
  const names = (await readdir(path, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile() && FILE_PATTERN.test(d.name) && !join(d.parentPath, d.name).includes(`${join(path, '.git')}`))
    .map((d) => join(d.parentPath, d.name))
    .sort();
  return Promise.all(names.map(async (name) => ({ name: relative(process.cwd(), name) || name, text: await readFile(name, 'utf8') })));
}

/** `git rev-parse HEAD` in the file's working tree, when it is one. */
export function gitHead(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    stat(path)
      .then((s) => (s.isDirectory() ? path : dirname(path)))
      .catch(() => dirname(path))
      .then((cwd) => {
        execFile('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000 }, (error, stdout) => resolve(error ? undefined : stdout.trim() || undefined));
      });
  });
}
