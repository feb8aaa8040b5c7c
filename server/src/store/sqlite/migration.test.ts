import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createServices } from '../../services/index.js';
import { SQLITE_MIGRATIONS, createDb, migrate } from './connection.js';
import { SqliteDatabase } from './database.js';

/**
 * An installation made before the cluster work (migrations 0000–0002) upgrades in place: rule-set
 * versions keep growing (SDKs hold the old ones), histograms survive the move to bucket rows, and
 * what the Git sync wrote stays marked as Git-managed.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The migrations folder as it was at migration `last` (drizzle reads the journal to know which exist). */
function migrationsUpTo(last: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-migrations-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'meta'));
  const journal = JSON.parse(readFileSync(join(SQLITE_MIGRATIONS, 'meta/_journal.json'), 'utf8')) as { entries: { idx: number; tag: string }[] };
  journal.entries = journal.entries.filter((e) => e.idx <= last);
  writeFileSync(join(dir, 'meta/_journal.json'), JSON.stringify(journal));
  for (const entry of journal.entries) copyFileSync(join(SQLITE_MIGRATIONS, `${entry.tag}.sql`), join(dir, `${entry.tag}.sql`));
  for (const file of readdirSync(join(SQLITE_MIGRATIONS, 'meta')).filter((f) => /^\d{4}_snapshot\.json$/.test(f) && Number(f.slice(0, 4)) <= last)) {
    copyFileSync(join(SQLITE_MIGRATIONS, 'meta', file), join(dir, 'meta', file));
  }
  return dir;
}

describe('upgrading a SQLite installation to the change feed (migration 0003)', () => {
  it('keeps rule-set versions growing, moves histograms, and marks what the Git sync wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-upgrade-'));
    dirs.push(dir);
    const path = join(dir, 'switchyard.db');
    const old = createDb(path);
    migrate(old, migrationsUpTo(2));
    const run = (sql: string, ...params: unknown[]) => old.$client.prepare(sql).run(...params);
    run("insert into environments (key, name, critical, sort_order, version) values ('production', 'Production', 1, 0, 57), ('staging', 'Staging', 0, 1, 12)");
    const config = JSON.stringify({ on: false, killed: false, offVariation: 'off', targets: [], rules: [], defaultServe: { variation: 'off' }, salt: 'k', bucketBy: 'userId' });
    for (const key of ['synced', 'by-hand']) {
      run("insert into flags (key, name, tags, type, variations, version, updated_by) values (?, ?, '[]', 'boolean', ?, 1, 'x')", key, key, JSON.stringify([{ key: 'off', value: false }, { key: 'on', value: true }]));
      run('insert into flag_environments (flag_id, environment_id, config) select f.id, e.id, ? from flags f, environments e where f.key = ?', config, key);
    }
    const audit = "insert into audit_log (at, actor, action, resource_type, resource_key, source) values (1, ?, ?, 'flag', ?, 'gitops')";
    run(audit, 'gitops', 'flag.created', 'synced');
    run(audit, 'ana', 'flag.created', 'by-hand');
    run(audit, 'gitops', 'flag.updated', 'by-hand'); // written by the sync once…
    run(audit, 'ben', 'flag.created', 'by-hand'); // …then deleted and created again by hand: not the sync's any more
    run("insert into release_metrics (environment, flag_key, variation, metric, window_start, count, sum, histogram) values ('production', 'synced', 'on', 'latency_ms', 60000, 3, 30, ?)", JSON.stringify({ '12': 2, '13': 1 }));
    old.$client.close();

    const db = createDb(path);
    migrate(db);
    const database = new SqliteDatabase(db);
    try {
      const buckets = db.$client.prepare('select bucket, count from release_metric_buckets order by bucket').all();
      expect(buckets).toEqual([{ bucket: 12, count: 2 }, { bucket: 13, count: 1 }]);
      const managed = Object.fromEntries((db.$client.prepare('select key, managed_by from flags').all() as { key: string; managed_by: string | null }[]).map((r) => [r.key, r.managed_by]));
      expect(managed).toEqual({ synced: '(git sync)', 'by-hand': null });

      const services = createServices(database, { background: false });
      const totals = await services.releases.evidence({ id: 1, flagKey: 'synced', environment: 'production', spec: { strategy: 'rolling', steps: [], guard: null }, status: 'running', currentStep: 0, variation: 'on', pauseReason: null, startedAt: 0, stepStartedAt: 0, pausedAt: null, updatedAt: 0, updatedBy: 'x', version: 1 });
      expect(totals.exposures).toEqual({});
      await services.flags.updateEnvironment('by-hand', 'production', 1, { on: true }, { actor: 'oncall', source: 'api' });
      const versions = Object.fromEntries((await services.environments.list()).map((e) => [e.key, e.version]));
      // The first change after the upgrade is above every version an SDK may hold.
      expect(versions.production).toBe(58);
      expect(versions.staging).toBe(12);
    } finally {
      await database.close();
    }
  });
});
