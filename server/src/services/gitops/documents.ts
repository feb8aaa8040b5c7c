import { extname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AppError } from '../../domain/errors.js';
import { matchesPatterns } from '../../domain/flag-validation.js';
import { loadDesired, type DesiredState, type LoadResult } from '../../domain/gitops/desired.js';
import type { CurrentState } from '../../domain/gitops/export.js';
import { formatBytes } from '../../domain/gitops/limits.js';
import type { SourceFile } from '../../domain/gitops/locate.js';
import { planChanges, summarize, type PlanOptions } from '../../domain/gitops/plan.js';
import { prerequisiteFileProblems } from './prerequisites.js';

/**
 * Parsing YAML is slow (~0.5 MB/s on a small machine: the `yaml` composer builds a whole document
 * in one synchronous step) and so is planning thousands of flags. Done on the event loop, one
 * viewer's `plan` of a big file stalls every other request, SDK streams included. So anything
 * but a small document is parsed, validated and planned in a worker thread, one job at a time,
 * with a bounded heap and a deadline.
 */

export interface DocumentJob {
  sources: SourceFile[];
  existingSegments: string[];
  /**
   * With the current state, the job plans too, and answers with the plan as JSON (`plan`: the
   * whole Plan, `response`: the plan route's body): a 10,000-flag plan takes ~10 ms to parse on
   * the event loop, but hundreds to pass as an object (structured clone).
   */
  plan?: { current: CurrentState; options: PlanOptions; as: 'plan' | 'response' };
}

/** With a plan, `state` holds only the flags and segments with `matches` patterns (to be analysed for ReDoS). */
export type DocumentJobResult = { load: LoadResult; planJson?: string };

export function runDocumentJob(job: DocumentJob): DocumentJobResult {
  const load = loadDesired(job.sources, new Set(job.existingSegments));
  if (!load.ok || !job.plan) return { load };
  // Here, while the whole desired state is at hand (the answer keeps only what pattern checks need).
  const prerequisites = prerequisiteFileProblems(load.state, job.plan.current.flags, job.plan.options, job.sources, INLINE_BYTES);
  if (prerequisites.length > 0) return { load: { ok: false, problems: prerequisites } };
  const plan = planChanges(load.state, job.plan.current, job.plan.options);
  const body = job.plan.as === 'plan' ? plan : { changes: plan.changes, summary: summarize(plan.changes), versions: plan.versions };
  return { load: { ok: true, state: withPatternsOnly(load.state) }, planJson: JSON.stringify(body) };
}

function withPatternsOnly(state: DesiredState): DesiredState {
  const holds = (rules: Parameters<typeof matchesPatterns>[0]) => matchesPatterns(rules, '').length > 0;
  return {
    environments: new Map(),
    segments: new Map([...state.segments].filter(([, s]) => holds(s.rules))),
    flags: new Map([...state.flags].filter(([, f]) => Object.values(f.environments).some((config) => holds(config.rules)))),
  };
}

/** Below this, parsing and planning take a few ms: not worth a round trip to the worker. */
export const INLINE_BYTES = 16 * 1024;
/** A maximal document (DOCUMENT_LIMITS.bytes) takes ~5 s on a busy 2-core machine. */
export const JOB_DEADLINE_MS = 60_000;
/** The worker's heap: a hostile 2 MB file of tiny list items would otherwise take ~1 GB. */
export const WORKER_HEAP_MB = 512;
/** Jobs waiting for the worker; beyond this, plan/apply answer 503 instead of queueing forever. */
export const MAX_QUEUED_JOBS = 16;

interface Pending {
  id: number;
  job: DocumentJob;
  bytes: number;
  resolve: (value: DocumentJobResult) => void;
  reject: (error: unknown) => void;
}

const WORKER_FILE = new URL(`./document-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const FROM_SOURCES = WORKER_FILE.pathname.endsWith('.ts');
/**
 * Run from the TypeScript sources (tests, `--import tsx`), the worker needs the same loader,
 * registered inside it (a worker ignores `--import`); tsx is a dev dependency, present then.
 * Resolved from here, so it works whatever the working directory.
 */
function sourceBoot(): string {
  // require.resolve finds the CommonJS build; the ES module build sits beside it (tsx's "exports").
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(WORKER_FILE.href)}); });`;
}

export class DocumentWorker {
  private worker: Worker | undefined;
  private readonly queue: Pending[] = [];
  private running: (Pending & { timer: NodeJS.Timeout }) | undefined;
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: { inlineBytes?: number; deadlineMs?: number } = {}) {}

  run(job: DocumentJob): Promise<DocumentJobResult> {
    const bytes = job.sources.reduce((sum, s) => sum + s.text.length, 0);
    if (bytes <= (this.options.inlineBytes ?? INLINE_BYTES)) return Promise.resolve(runDocumentJob(job));
    if (this.closed) return Promise.reject(new AppError('unavailable', 'the server is shutting down'));
    if (this.queue.length >= MAX_QUEUED_JOBS) return Promise.reject(new AppError('unavailable', `${this.queue.length} flags documents are waiting to be checked; retry shortly`));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, bytes, resolve, reject });
      this.next();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new AppError('unavailable', 'the server is shutting down'));
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private next(): void {
    if (this.running || this.closed) return;
    const pending = this.queue.shift();
    if (!pending) return;
    const worker = this.start();
    const timer = setTimeout(() => {
      this.fail(new AppError('payload_too_large', `the flags document (${formatBytes(pending.bytes)}) took longer than ${(this.options.deadlineMs ?? JOB_DEADLINE_MS) / 1000} s to check; split it or make it smaller`));
    }, this.options.deadlineMs ?? JOB_DEADLINE_MS);
    this.running = { ...pending, timer };
    worker.postMessage({ id: pending.id, job: pending.job });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const resourceLimits = { maxOldGenerationSizeMb: WORKER_HEAP_MB };
    const worker = FROM_SOURCES
      ? new Worker(sourceBoot(), { eval: true, execArgv: ['--conditions=switchyard-source'], resourceLimits })
      : new Worker(WORKER_FILE, { resourceLimits });
    // An idle worker must not keep the process alive.
    worker.unref();
    worker.on('message', (message: { id: number; ok: true; value: DocumentJobResult } | { id: number; ok: false; message: string }) => {
      const running = this.running;
      if (!running || running.id !== message.id) return;
      this.finish();
      if (message.ok) running.resolve(message.value);
      else running.reject(new Error(`checking the flags document failed: ${message.message}`));
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (this.worker !== worker) return;
      const oom = error.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.fail(oom ? new AppError('payload_too_large', `the flags document needs more than ${WORKER_HEAP_MB} MB to check; split it or make it smaller`) : error);
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.fail(new Error('the flags document worker stopped'));
    });
    this.worker = worker;
    return worker;
  }

  /** The running job failed (deadline, out of memory, crash): a fresh worker takes the next one. */
  private fail(error: unknown): void {
    const running = this.running;
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
    this.finish();
    running?.reject(error);
  }

  private finish(): void {
    clearTimeout(this.running?.timer);
    this.running = undefined;
    setImmediate(() => this.next());
  }
}
