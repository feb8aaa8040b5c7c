import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FeedEntry } from '../domain/feed.js';
import { DIALECTS, openTestDatabase } from '../testing/databases.js';
import type { Database } from './ports.js';
import { openPostgres } from './postgres/database.js';
import { bootstrap } from '../services/bootstrap.js';
import { createServices, type Services } from '../services/index.js';

// Quotes, a backslash and non-ASCII: the PostgreSQL append inlines the entry as an escaped literal.
const ctx = { actor: `feed-test o'brien \\ "quoted" ✓`, source: 'api' as const };

describe.each(DIALECTS)('the change feed follower on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A writer and a second replica (on SQLite, the same process), followers started, no polling. */
  async function replicas(): Promise<{ writer: Services; reader: Services; readerDb: Database }> {
    const first = await openTestDatabase(`feed_${dialect}`, dialect);
    cleanups.push(() => first.close());
    let readerDb = first.db;
    if (dialect === 'postgres') {
      readerDb = await openPostgres(first.url!, { max: 2 });
      cleanups.push(() => readerDb.close());
    }
    const writer = createServices(first.db, { background: false, feedPollMs: 3_600_000 });
    const reader = dialect === 'postgres' ? createServices(readerDb, { background: false, feedPollMs: 3_600_000 }) : writer;
    for (const s of new Set([writer, reader])) {
      await s.feed.start();
      cleanups.unshift(async () => s.feed.stop());
    }
    await bootstrap(writer.writes, writer.environments, 'feed-test-admin-token-0123456789abcdef');
    // Settled: the reader has applied everything so far and is not reading.
    await reader.feed.applied(await readerDb.read((tx) => readerDb.repos.feed.head(tx)));
    await reader.feed.catchUp();
    return { writer, reader, readerDb };
  }

  it('hands every committed entry to listeners once, in order, exactly as the feed stores it — small and large', async () => {
    const { writer, reader, readerDb } = await replicas();
    const seen: FeedEntry[] = [];
    reader.feed.subscribe({ onEntry: (entry) => seen.push(entry) });
    const from = reader.feed.position;
    await writer.flags.create({ key: 'small', type: 'boolean' }, ctx);
    // Too big for a NOTIFY payload (8,000 bytes): the notification carries its position alone.
    const included = Array.from({ length: 2000 }, (_, i) => `user-${String(i).padStart(6, '0')}@example.com`);
    await writer.segments.create({ key: 'big', name: 'big', description: '', unitAttribute: 'userId', included, excluded: [], rules: [] }, ctx);
    await writer.flags.setStage('small', 'production', '10%', undefined, undefined, ctx);
    const head = await readerDb.read((tx) => readerDb.repos.feed.head(tx));
    await reader.feed.applied(head);
    const stored = await readerDb.read((tx) => readerDb.repos.feed.after(tx, from, 100));
    expect(stored).toHaveLength(3);
    expect(JSON.stringify(stored[1]).length).toBeGreaterThan(8000);
    expect(stored.map((e) => e.writes[0]!.actor)).toEqual([ctx.actor, ctx.actor, ctx.actor]);
    expect(seen.filter((e) => e.seq > from)).toEqual(stored);
  });

  it('applies the next entry a wake-up carries without reading the feed, and reads it after a gap', async () => {
    const { reader, readerDb } = await replicas();
    const seen: number[] = [];
    reader.feed.subscribe({ onEntry: (entry) => seen.push(entry.seq) });
    const peek = vi.spyOn(readerDb, 'peek');
    const position = reader.feed.position;
    const entry = (seq: number): FeedEntry => ({ seq, at: 0, writes: [], sdk: {}, revoked: [], deliveries: false });

    reader.feed.wake(entry(position + 1));
    expect(seen).toEqual([position + 1]);
    expect(reader.feed.position).toBe(position + 1);
    expect(peek).not.toHaveBeenCalled();

    reader.feed.wake(entry(position)); // already applied: ignored
    expect(seen).toEqual([position + 1]);
    expect(peek).not.toHaveBeenCalled();

    // A gap: the follower reads the feed instead of trusting what it was handed. The database has
    // nothing after the (synthetic) position, so nothing more is applied.
    reader.feed.wake(entry(position + 5));
    expect(seen).toEqual([position + 1]);
    await vi.waitFor(() => expect(peek).toHaveBeenCalled());
    await reader.feed.catchUp();
    expect(seen).toEqual([position + 1]);
  });
});
