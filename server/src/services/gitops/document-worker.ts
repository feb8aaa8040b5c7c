import { parentPort } from 'node:worker_threads';
import { runDocumentJob, type DocumentJob } from './documents.js';

/**
 * Entry point of the worker thread that parses, validates and plans flags documents (see
 * documents.ts): started by DocumentWorker, never imported.
 */
parentPort!.on('message', ({ id, job }: { id: number; job: DocumentJob }) => {
  try {
    parentPort!.postMessage({ id, ok: true, value: runDocumentJob(job) });
  } catch (error) {
    parentPort!.postMessage({ id, ok: false, message: (error as Error).message ?? String(error) });
  }
});
