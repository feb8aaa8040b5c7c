import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from './database.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('WAL checkpoints off the main thread', () => {
  it('the writer never checkpoints, yet the log stays small: the worker copies it back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-wal-'));
    dirs.push(dir);
    const path = join(dir, 'switchyard.db');
    const database = openSqlite(path);
    try {
      const client = database.db.$client;
      expect(client.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      const value = 'x'.repeat(3000);
      // Each write adds ~19 KB of frames (measured: 100 of them grow the log to ~1.9 MB): 1,200 of
      // them would leave ~23 MB in a log nobody copies back. The bound below leaves room for a worker
      // that starts late on a loaded machine (four rounds' worth), and still fails without one.
      for (let round = 0; round < 12; round++) {
        for (let i = 0; i < 100; i++) await database.transaction(async (tx) => database.repos.state.put(tx, `k${i}`, value, round));
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(statSync(`${path}-wal`).size).toBeLessThan(8 * 1024 * 1024);
    } finally {
      await database.close();
    }
    // Closing hands checkpointing back to SQLite, which folds the log in.
    const reopened = openSqlite(path);
    expect(reopened.db.$client.prepare("select count(*) as n from cluster_state").get()).toEqual({ n: 100 });
    await reopened.close();
  });
});
