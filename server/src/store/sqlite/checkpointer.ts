import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints off the main thread. A checkpoint copies the write-ahead log back into the
 * database file and fsyncs it: milliseconds that SQLite would otherwise spend inside whichever
 * COMMIT crosses its threshold, stalling every request queued behind it. A worker thread with its
 * own connection runs passive checkpoints instead (they never block the writer), and the main
 * connection stops checkpointing by itself. Should the worker die, SQLite's automatic checkpoints
 * come back, so the log cannot grow without bound.
 */

/** Plain JavaScript, evaluated in the worker: it must run the same from source and from dist/. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 250;
const STOP_TIMEOUT_MS = 5000;
/** SQLite's own default, restored when the worker is gone. */
const AUTO_CHECKPOINT_PAGES = 1000;

export function startCheckpointer(path: string, client: { pragma(source: string): unknown }, intervalMs = DEFAULT_CHECKPOINT_INTERVAL_MS): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { path, driver, intervalMs } });
  let stopping = false;
  client.pragma('wal_autocheckpoint = 0');
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      if (!stopping) client.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      resolve();
    });
  });
  worker.on('error', () => {});
  worker.unref();
  return {
    async stop() {
      stopping = true;
      worker.postMessage('stop');
      // A worker stuck in a checkpoint must not hold up shutdown: SQLite recovers a half-done one.
      const stuck = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(stuck);
      client.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    },
  };
}
