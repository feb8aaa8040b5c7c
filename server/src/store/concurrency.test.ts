import { afterEach, describe, expect, it } from 'vitest';
import type { AppError } from '../domain/errors.js';
import { createServices, type Services } from '../services/index.js';
import { bootstrap } from '../services/bootstrap.js';
import { DIALECTS, dumpTables, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { createTestSchema } from '../testing/postgres.js';
import type { Database } from './ports.js';
import { openPostgres, type PostgresDatabase } from './postgres/database.js';

/**
 * Races, on both dialects: writes that meet on one row, on the change feed, on a segment being
 * deleted, on a webhook delivery. On PostgreSQL each "replica" is a Database of its own (its own
 * pool) on the same schema — what several server processes are.
 */

const ADMIN = 'concurrency-admin-token-0123456789abcdef';
const ctx = (actor: string) => ({ actor, source: 'api' as const });

interface Cluster {
  replicas: Services[];
  dialect: 'sqlite' | 'postgres';
}

describe.each(DIALECTS)('concurrency on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Replicas sharing one database: three pools on PostgreSQL; SQLite has one process, so one. */
  async function cluster(size = 3): Promise<Cluster> {
    const first: TestDatabase = await openTestDatabase(`race_${dialect}`, dialect);
    cleanups.push(() => first.close());
    const databases: Database[] = [first.db];
    for (let i = 1; i < (dialect === 'postgres' ? size : 1); i++) {
      const db = await openPostgres(first.url!, { max: 4 });
      cleanups.unshift(() => db.close());
      databases.push(db);
    }
    const replicas = databases.map((db) => createServices(db, { background: false }));
    for (const replica of replicas) {
      await replica.feed.start();
      cleanups.unshift(() => replica.feed.stop());
    }
    await bootstrap(replicas[0]!.writes, replicas[0]!.environments, ADMIN);
    return { replicas, dialect };
  }

  const at = (c: Cluster, i: number) => c.replicas[i % c.replicas.length]!;

  it('two writes pinned to the same version: exactly one wins, the other gets 409, one audit entry', async () => {
    const c = await cluster();
    const created = await at(c, 0).flags.create({ key: 'contested', type: 'boolean' }, ctx('creator'));
    const version = created.value.version;
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => at(c, i).flags.setStage('contested', 'production', i % 2 ? '10%' : '50%', undefined, version, ctx(`editor-${i}`))),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(5);
    for (const r of lost) expect((r.reason as AppError).statusCode).toBe(409);
    const audit = (await dumpTables(c.replicas[0]!.db, ['audit_log'])).audit_log!.filter((e) => e.action === 'flag.stage_changed');
    expect(audit).toHaveLength(1);
  });

  it('unpinned writes to one flag (the kill switch, the runner) all apply, one after the other', async () => {
    const c = await cluster();
    await at(c, 0).flags.create({ key: 'switch', type: 'boolean' }, ctx('creator'));
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => at(c, i).flags.setStage('switch', i % 2 ? 'production' : 'staging', 'kill', undefined, undefined, ctx(`oncall-${i}`))));
    expect(new Set(results.map((r) => r.value.version)).size).toBe(8);
    const final = await at(c, 1).flags.get('switch');
    expect(final.value.version).toBe(9);
    const audit = (await dumpTables(c.replicas[0]!.db, ['audit_log'])).audit_log!.filter((e) => e.action === 'flag.killed');
    expect(audit).toHaveLength(8);
  });

  it('the change feed stays gap-free and in order under concurrent writers on every replica', async () => {
    const c = await cluster();
    for (let i = 0; i < 6; i++) await at(c, i).flags.create({ key: `f${i}`, type: 'boolean' }, ctx('creator'));
    const head = await c.replicas[0]!.db.read((tx) => c.replicas[0]!.db.repos.feed.head(tx));
    const changes = 60;
    await Promise.all(
      Array.from({ length: 6 }, async (_, writer) => {
        for (let k = 0; k < changes / 6; k++) await at(c, writer).flags.setStage(`f${writer}`, 'production', k % 2 ? '10%' : '20%', undefined, undefined, ctx(`w${writer}`));
      }),
    );
    const entries = await c.replicas[0]!.db.read((tx) => c.replicas[0]!.db.repos.feed.after(tx, head, 1000));
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: changes }, (_, i) => head + 1 + i));
    const auditIds = entries.flatMap((e) => e.writes.map((w) => w.auditId));
    expect(new Set(auditIds).size).toBe(changes);
    // Every replica's follower applies them all, in the same order.
    for (const replica of c.replicas) {
      await replica.feed.applied(head + changes);
      const ruleSet = await replica.ruleSets.get('production');
      expect(ruleSet!.version).toBe(head + changes);
    }
  });

  it('a segment being deleted and a flag starting to use it never both commit', async () => {
    const c = await cluster(2);
    await at(c, 0).flags.create({ key: 'user', type: 'boolean' }, ctx('creator'));
    let deletions = 0;
    let uses = 0;
    for (let round = 0; round < 8; round++) {
      const key = `seg${round}`;
      await at(c, 0).segments.create({ key, name: key, description: '', unitAttribute: 'userId', included: [], excluded: [], rules: [] }, ctx('creator'));
      const version = (await at(c, 0).flags.get('user')).value.version;
      const rule = { id: 'r', clauses: [{ attribute: '', operator: 'in_segment' as const, values: [key] }], serve: { variation: 'on' } };
      const [removed, used] = await Promise.allSettled([
        at(c, 0).segments.remove(key, undefined, ctx('remover')),
        at(c, 1).flags.updateEnvironment('user', 'production', version, { rules: [rule] }, ctx('user')),
      ]);
      if (removed.status === 'fulfilled') deletions++;
      if (used.status === 'fulfilled') uses++;
      expect(removed.status === 'fulfilled' && used.status === 'fulfilled', `round ${round}: both committed`).toBe(false);
      const referenced = (await at(c, 0).flags.get('user')).value.environments.production!.rules.some((r) => r.clauses.some((cl) => cl.values.includes(key)));
      const exists = (await at(c, 0).segments.list()).some((s) => s.value.key === key);
      expect(!referenced || exists, `round ${round}: a rule refers to a deleted segment`).toBe(true);
      // Clear the rule for the next round (the segment, if it survived, is then unused).
      const now = (await at(c, 0).flags.get('user')).value.version;
      await at(c, 0).flags.updateEnvironment('user', 'production', now, { rules: [] }, ctx('cleaner'));
    }
    expect(deletions + uses).toBeGreaterThanOrEqual(8);
  });

  it('replicas claiming webhook deliveries at once each get different ones, and all of them', async () => {
    const c = await cluster();
    const db0 = c.replicas[0]!.db;
    await db0.transaction((tx) => db0.repos.webhooks.insert(tx, { url: 'https://hooks.example', secret: 's', events: ['*'], createdAt: 1, createdBy: 'x' }));
    for (let i = 0; i < 30; i++) await db0.transaction((tx) => db0.repos.webhooks.enqueue(tx, { event: 'release.started', payload: `{"n":${i}}` }, 100));
    const claims = await Promise.all(c.replicas.flatMap((r) => [1, 2].map(() => r.db.transaction((tx) => r.db.repos.webhooks.claim(tx, 200, 10_000, 7)))));
    const ids = claims.flat().map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    const rest = await db0.transaction((tx) => db0.repos.webhooks.claim(tx, 200, 10_000, 100));
    expect(ids.length + rest.length).toBe(30);
  });

  it('bootstrap on an empty database happens once even when replicas start together', async () => {
    if (dialect === 'sqlite') return; // one process owns a SQLite database
    const schema = await createTestSchema('bootstrap');
    cleanups.push(() => schema.drop());
    const databases = await Promise.all([1, 2, 3].map(() => openPostgres(schema.url, { max: 3 })));
    cleanups.unshift(async () => {
      for (const db of databases) await db.close();
    });
    const replicas = databases.map((db) => createServices(db, { background: false }));
    const outcomes = await Promise.all(replicas.map((r) => bootstrap(r.writes, r.environments)));
    expect(outcomes.filter((o) => o.generatedAdminToken !== undefined)).toHaveLength(1);
    const tables = await dumpTables(databases[0]!, ['api_tokens', 'environments', 'segments']);
    expect(tables.api_tokens).toHaveLength(1);
    expect(tables.environments!.map((e) => e.key)).toEqual(['development', 'staging', 'production']);
    expect(tables.segments!.map((s) => s.key)).toEqual(['internal']);
  });

  it('exactly one replica leads; when it steps down another takes over', async () => {
    if (dialect === 'sqlite') {
      const c = await cluster();
      await c.replicas[0]!.db.leadership.start();
      expect(c.replicas[0]!.db.leadership.isLeader()).toBe(true);
      return;
    }
    const c = await cluster();
    const leaders = () => c.replicas.filter((r) => r.db.leadership.isLeader());
    await Promise.all(c.replicas.map((r) => r.db.leadership.start()));
    expect(leaders()).toHaveLength(1);
    const first = leaders()[0]!;
    await first.db.leadership.stop();
    const deadline = Date.now() + 5000;
    while (leaders().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(leaders()).toHaveLength(1);
    expect(leaders()[0]).not.toBe(first);
    for (const r of c.replicas) await r.db.leadership.stop();
  });

  it('replicas migrating a fresh schema at once all start, and migrate it once', async () => {
    if (dialect === 'sqlite') return;
    const schema = await createTestSchema('migrate');
    cleanups.push(() => schema.drop());
    const databases: PostgresDatabase[] = await Promise.all([1, 2, 3].map(() => openPostgres(schema.url, { max: 2 })));
    cleanups.unshift(async () => {
      for (const db of databases) await db.close();
    });
    const { rows } = await databases[0]!.pool.query('select count(*)::int as n from __drizzle_migrations');
    expect(rows[0].n).toBeGreaterThan(0);
    const applied = await databases[1]!.pool.query('select hash from __drizzle_migrations');
    expect(new Set(applied.rows.map((r: { hash: string }) => r.hash)).size).toBe(applied.rows.length);
  });
});
