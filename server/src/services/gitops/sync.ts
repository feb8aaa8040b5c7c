import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Logger } from '../logger.js';
import { AppError } from '../../domain/errors.js';
import { decideIncidents, holdIncidents, type IncidentDecision, type IncidentOverride } from '../../domain/gitops/incidents.js';
import { formatProblem, type FileProblem, type SourceFile } from '../../domain/gitops/locate.js';
import { planChanges, type PlannedChange } from '../../domain/gitops/plan.js';
import type { Writes } from '../write.js';
import type { GitOpsService } from './gitops.service.js';

export const SYNC_ACTOR = 'gitops';
const DEFAULT_DEBOUNCE_MS = 150;
const DEFAULT_INTERVAL_MS = 30_000;
const FILE_PATTERN = /\.(ya?ml|json)$/i;
/** Git's own directory (a path segment, exactly: `.github/` holds files like any other). */
const GIT_DIR = '.git';
/** Where the sync keeps its status and the hash of the files it last applied (shared by the replicas). */
export const SYNC_STATE_KEY = 'gitops.sync';

export interface SyncStatus {
  path: string;
  lastSync: string | null;
  lastAttempt: string | null;
  lastCommit: string | null;
  lastSuccess: boolean;
  lastError: { message: string; problems: FileProblem[] } | null;
  drift: PlannedChange[];
  /** Flags killed during an incident that the sync holds against the file (not drift: on purpose). */
  held: HeldIncident[];
  managed: { flags: number; segments: number };
  /** Hash of the files last applied: a new leader does not re-apply an unchanged file over drift. */
  appliedHash: string | null;
}

export interface HeldIncident {
  flag: string;
  environment: string;
  killedAt: string;
  killedBy: string;
  message: string | null;
  sinceCommit: string | null;
}

export interface SyncOptions {
  path: string;
  gitops: GitOpsService;
  writes: Writes;
  log: Logger;
  /**
   * Why the sync may change what an approval policy governs (`--sync-bypass-approvals`): Git is the
   * source of truth, its review is the branch's protection. Without it such a change fails the sync.
   */
  bypassApprovals?: string;
  debounceMs?: number;
  intervalMs?: number;
}

export function emptyStatus(path: string): SyncStatus {
  return { path, lastSync: null, lastAttempt: null, lastCommit: null, lastSuccess: false, lastError: null, drift: [], held: [], managed: { flags: 0, segments: 0 }, appliedHash: null };
}

/**
 * `serve --sync FILE|DIR`: a GitOps controller, run by the leader replica only. On start and
 * whenever the file changes (fs.watch, debounced, plus a periodic re-read in case an event was
 * missed) it applies the file in one transaction as actor `gitops`, with the Git commit of the file's
 * working tree, and marks what the file manages (read-only everywhere else). An invalid file changes
 * nothing: the last good state stays and the error is reported. Between file changes it compares
 * the database with the file and reports drift instead of overwriting it. Its status — and the hash
 * of what it applied — are in the database, so every replica reports it and a new leader carries on.
 *
 * A flag killed during an incident (domain/gitops/incidents.ts) stays killed in that environment
 * through every apply and restart until it is resumed, or until a commit changes what the file
 * asks for there: that commit wins, and the override ends (audited).
 */
export class GitOpsSync {
  private watcher: FSWatcher | undefined;
  private interval: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = true;
  status: SyncStatus;

  constructor(private readonly options: SyncOptions) {
    this.status = emptyStatus(options.path);
  }

  /** The status on any replica: the leader's own, else the one it last saved. */
  async current(): Promise<SyncStatus & { leader: boolean }> {
    if (!this.stopped) return { ...this.status, leader: true };
    const { writes } = this.options;
    const saved = await writes.read((tx) => writes.repos.state.get(tx, SYNC_STATE_KEY));
    const status = saved?.value as SyncStatus | undefined;
    return { ...(status?.path === this.options.path ? status : emptyStatus(this.options.path)), leader: false };
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    const saved = await this.options.writes.read((tx) => this.options.writes.repos.state.get(tx, SYNC_STATE_KEY));
    const previous = saved?.value as Partial<SyncStatus> | undefined;
    if (previous?.path === this.options.path) this.status = { ...emptyStatus(this.options.path), ...previous };
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
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
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
    this.running = this.running
      .then(() => (this.stopped ? undefined : this.run()))
      .then(() => this.save())
      .catch((error: unknown) => this.options.log.error({ err: error }, 'gitops: sync failed'));
    return this.running;
  }

  private async save(): Promise<void> {
    if (this.stopped) return;
    const { writes } = this.options;
    await writes.db.transaction((tx) => writes.repos.state.put(tx, SYNC_STATE_KEY, this.status, writes.now()));
  }

  private async run(): Promise<void> {
    const { gitops, log, path } = this.options;
    this.status.lastAttempt = new Date().toISOString();
    let sources: SourceFile[];
    try {
      sources = await readSources(path);
    } catch (error) {
      return this.fail(`cannot read ${path}: ${(error as Error).message}`, []);
    }
    const hash = createHash('sha256').update(JSON.stringify(sources)).digest('hex');
    try {
      const { desired, current } = await gitops.load(sources);
      // What the sync managed before (this process or another replica, before a restart) is still
      // its own: a flag removed from the file meanwhile is deleted now, as it would have been.
      const pruneOnly = { flags: new Set(current.managed.flags), segments: new Set(current.managed.segments) };
      const fileChanged = hash !== this.status.appliedHash;
      const decisions = decideIncidents(desired, current.incidents, fileChanged);
      const plan = planChanges(holdIncidents(desired, current.flags, decisions), current, { pruneOnly });
      const held = decisions.filter((d) => d.kind !== 'end').map((d) => heldIncident(d.incident));
      if (!fileChanged) {
        // Back to (or still at) the applied file: healthy, nothing to apply; differences are drift.
        await gitops.rebaseIncidents(decisions.filter((d): d is Extract<IncidentDecision, { kind: 'rebase' }> => d.kind === 'rebase'));
        Object.assign(this.status, { lastSuccess: true, lastError: null, drift: plan.changes, held });
        if (plan.changes.length > 0) log.warn({ drift: plan.changes.map((c) => `${c.resource} ${c.key}`) }, 'gitops: the database differs from the file (drift)');
        return;
      }
      const commit = await gitHead(path);
      if (this.status.appliedHash === null && plan.changes.length > 0) log.warn({ changes: plan.changes.map((c) => `${c.action} ${c.resource} ${c.key}`) }, 'gitops: the database differed from the file at start; applying the file');
      const ends = decisions.filter((d): d is Extract<IncidentDecision, { kind: 'end' }> => d.kind === 'end');
      const result = await gitops.applyPlan(plan, {
        // The server itself, applying the file its operator configured: every change is allowed.
        role: 'admin',
        audit: { actor: SYNC_ACTOR, source: 'gitops', message: `sync from ${path}`, ...(commit ? { commit } : {}) },
        manage: { source: path, flags: desired.flags.keys(), segments: desired.segments.keys() },
        endIncidents: ends.map((d) => ({ incident: d.incident, message: endedMessage(d, commit) })),
        approval: this.options.bypassApprovals ? { bypass: this.options.bypassApprovals, by: 'sync' } : { sync: true },
      });
      Object.assign(this.status, { lastSync: new Date().toISOString(), lastCommit: commit ?? null, lastSuccess: true, lastError: null, drift: [], held, managed: { flags: desired.flags.size, segments: desired.segments.size }, appliedHash: hash });
      if (result.applied) log.info({ commit, ...result.summary }, 'gitops: applied the sync file');
      if (ends.length > 0) log.info({ commit, incidents: ends.map((d) => `${d.incident.flag} in ${d.incident.environment}`) }, 'gitops: the file changed flags killed during an incident; the file wins');
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

function heldIncident(incident: IncidentOverride): HeldIncident {
  const { flag, environment, killedBy, message, sinceCommit } = incident;
  return { flag, environment, killedAt: new Date(incident.killedAt).toISOString(), killedBy, message, sinceCommit };
}

/** Why an override ended, for its audit entry. */
function endedMessage(decision: Extract<IncidentDecision, { kind: 'end' }>, commit: string | undefined): string {
  const { incident, reason } = decision;
  const by = commit ? `commit ${commit.slice(0, 12)}` : 'the sync file';
  const kill = `the incident kill by ${incident.killedBy} at ${new Date(incident.killedAt).toISOString()}`;
  return reason === 'removed'
    ? `${by} removed flag "${incident.flag}"; it ends ${kill} in ${incident.environment}`
    : `${by} changed flag "${incident.flag}" in ${incident.environment}: the file wins over ${kill}`;
}

/** The file, or every *.yaml / *.yml / *.json in the directory (recursively), in a stable order. */
export async function readSources(path: string): Promise<SourceFile[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [{ name: path, text: await readFile(path, 'utf8') }];
  const names = (await readdir(path, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile() && FILE_PATTERN.test(d.name) && !relative(path, d.parentPath).split(sep).includes(GIT_DIR))
    .map((d) => join(d.parentPath, d.name))
    .sort();
  return Promise.all(names.map(async (name) => ({ name: relative(process.cwd(), name) || name, text: await readFile(name, 'utf8') })));
}

/**
 * The status as a non-admin may see it: where the server keeps its files is the operator's
 * business, so the sync path shrinks to its last segment and problem files to their path inside
 * it (admins see everything as is).
 */
export function statusForNonAdmin<S extends Pick<SyncStatus, 'path' | 'lastError'>>(status: S): S {
  const root = status.path;
  const shown = basename(root);
  const inside = (file: string) => {
    const rel = relative(root, resolve(file));
    return rel === '' ? shown : rel.startsWith('..') ? basename(file) : join(shown, rel);
  };
  let message = status.lastError?.message ?? '';
  for (const file of new Set(status.lastError?.problems.map((p) => p.file))) message = message.split(file).join(inside(file));
  const lastError = status.lastError && {
    message: message.split(root).join(shown),
    // (The problems of a failed apply also carry `location`: file:line:col.)
    problems: status.lastError.problems.map((p) => {
      const file = inside(p.file);
      return { ...p, file, ...('location' in p ? { location: `${file}:${p.line}:${p.column}` } : {}) };
    }),
  };
  return { ...status, path: shown, lastError };
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
