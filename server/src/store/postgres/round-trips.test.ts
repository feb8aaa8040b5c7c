import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootstrap } from '../../services/bootstrap.js';
import { EnvironmentsService } from '../../services/environments.service.js';
import { FlagsService } from '../../services/flags.service.js';
import { Writes } from '../../services/write.js';
import { PostgresProxy } from '../../testing/pg-proxy.js';
import { createTestSchema, type TestSchema } from '../../testing/postgres.js';
import type { FeedEntry } from '../../domain/feed.js';
import { conn } from './connection.js';
import { openPostgres, type PostgresDatabase } from './database.js';

/**
 * Every round trip to PostgreSQL costs a system call each way and, across machines, a network
 * latency: the write path keeps them few. A TCP proxy in front of PostgreSQL counts what the
 * replica sends — each round trip is at least one packet, and statements sent together (BEGIN with
 * the first reads; webhook deliveries and the feed entry with COMMIT) are one.
 */
const schemas: TestSchema[] = [];
afterAll(async () => {
  for (const schema of schemas.splice(0)) await schema.drop();
});

describe('PostgreSQL round trips of the write path', () => {
  let proxy: PostgresProxy;
  let db: PostgresDatabase;
  let writes: Writes;
  let flags: FlagsService;
  let appended: FeedEntry[];
  const ctx = { actor: 'alice', source: 'api' as const };

  beforeEach(async () => {
    const schema = await createTestSchema('round_trips');
    schemas.push(schema);
    proxy = new PostgresProxy(new URL(schema.url));
    // One pooled connection, and no feed follower: every statement of a write goes through it.
    db = await openPostgres(await proxy.listen(), { max: 1 });
    writes = new Writes(db, Date.now);
    appended = [];
    writes.applied = async (entry) => void appended.push(entry);
    flags = new FlagsService(writes);
    await bootstrap(writes, new EnvironmentsService(writes));
    await flags.create({ key: 'checkout', type: 'boolean' }, ctx);
    await flags.setStage('checkout', 'production', '10%', undefined, 1, ctx);
  });

  afterEach(async () => {
    await db.close();
    await proxy.close();
  });

  it('a stage change takes four: BEGIN with the policy and flag reads, the update, the audit entry, then webhooks, feed entry and COMMIT', async () => {
    expect(await proxy.count(() => flags.setStage('checkout', 'production', '50%', undefined, 2, ctx))).toBe(4);
    const stored = await db.read((tx) => db.repos.flags.get(tx, 'checkout'));
    expect(stored?.value.version).toBe(3);
    expect(appended.at(-1)).toMatchObject({ deliveries: false, writes: [{ action: 'flag.stage_changed', resourceKey: 'checkout', version: 3 }] });
  });

  it('queues a delivery per subscribed webhook in the same round trip as COMMIT, and says so in the feed entry', async () => {
    await db.transaction(async (tx) => {
      for (const events of [['*'], ['flag.stage_changed'], ['flag.created']]) await db.repos.webhooks.insert(tx, { url: 'http://127.0.0.1:9/hook', events, secret: 's', createdAt: 0, createdBy: 'alice' });
    });
    expect(await proxy.count(() => flags.setStage('checkout', 'production', '50%', undefined, 2, ctx))).toBe(4);
    const queued = await db.read((tx) => conn(tx).execute<{ webhook_id: number; event: string; payload: string }>(sql`select webhook_id, event, payload from webhook_deliveries order by id`));
    expect(queued.rows.map((row) => [Number(row.webhook_id), row.event])).toEqual([
      [1, 'flag.stage_changed'],
      [2, 'flag.stage_changed'],
    ]);
    const audit = await db.read((tx) => db.repos.audit.list(tx, { limit: 1 }));
    expect(JSON.parse(queued.rows[0]!.payload)).toMatchObject({ event: 'flag.stage_changed', data: { flag: 'checkout', stage: '50%', auditId: audit[0]!.id } });
    const entry = appended.at(-1)!;
    expect(entry.deliveries).toBe(true);
    // The entry as stored is what followers read back.
    const [stored] = await db.peek((tx) => db.repos.feed.after(tx, entry.seq - 1, 1));
    expect(stored).toEqual(entry);
  });

  it('a failed statement rolls the pipelined transaction back, and the connection serves the next one', async () => {
    const failing = db.transaction(async (tx) => {
      await conn(tx).execute(sql`update flags set name = 'changed' where key = 'checkout'`);
      await conn(tx).execute(sql`select 1 / 0`);
    });
    await expect(failing).rejects.toMatchObject({ cause: { code: '22012' } }); // division by zero
    const flag = await db.read((tx) => db.repos.flags.get(tx, 'checkout'));
    expect(flag?.value.name).toBe('checkout');
    const stale = await flags.setStage('checkout', 'production', '50%', undefined, 1, ctx).catch((error: Error) => error.message);
    expect(stale).toMatch(/version/);
    expect((await flags.setStage('checkout', 'production', '50%', undefined, 2, ctx)).value.version).toBe(3);
  });
});
