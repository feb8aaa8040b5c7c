import { EventEmitter } from 'node:events';
import type { Database, Leadership, Repositories, Tx } from '../ports.js';
import { asTx, createDb, migrate, type Db } from './connection.js';
import { sqliteSdkKeys, sqliteSessions, sqliteTokens } from './credentials.js';
import { sqliteAudit, sqliteEnvironments, sqliteFeed, sqliteState } from './environments.js';
import { sqliteFlags, sqliteSegments } from './flags.js';
import { sqliteMetrics, sqlitePlans, sqliteWebhooks } from './releases.js';

/** One process owns a SQLite database, so it is always the leader. */
class SoleLeadership implements Leadership {
  private started = false;
  private readonly listeners = new Set<(leader: boolean) => void>();

  isLeader(): boolean {
    return this.started;
  }

  onChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    if (this.started) listener(true);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const listener of this.listeners) listener(true);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const listener of this.listeners) listener(false);
  }
}

/**
 * The embedded default: one better-sqlite3 connection. Transactions are async (services await
 * repositories, as they must on PostgreSQL), so a FIFO lock keeps one transaction — or one read — on
 * the connection at a time: nothing ever sees another request's uncommitted writes. Statements run
 * synchronously, so holding the lock costs microseconds.
 */
export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite';
  readonly repos: Repositories;
  readonly leadership = new SoleLeadership();
  private readonly tx: Tx;
  private readonly feed = new EventEmitter();
  private busy = false;
  private readonly waiting: (() => void)[] = [];
  private appended = false;
  private readonly begin;
  private readonly commit;
  private readonly rollback;

  constructor(readonly db: Db) {
    this.tx = asTx(db);
    this.begin = db.$client.prepare('BEGIN IMMEDIATE');
    this.commit = db.$client.prepare('COMMIT');
    this.rollback = db.$client.prepare('ROLLBACK');
    this.feed.setMaxListeners(0);
    this.repos = {
      environments: sqliteEnvironments,
      flags: sqliteFlags,
      segments: sqliteSegments,
      audit: sqliteAudit,
      feed: sqliteFeed(() => (this.appended = true)),
      tokens: sqliteTokens,
      sdkKeys: sqliteSdkKeys,
      sessions: sqliteSessions,
      plans: sqlitePlans,
      metrics: sqliteMetrics,
      webhooks: sqliteWebhooks,
      state: sqliteState,
    };
  }

  /** Resolves immediately when the connection is free (the common case), else in arrival order. */
  private acquire(): Promise<void> | undefined {
    if (!this.busy) {
      this.busy = true;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const wait = this.acquire();
    if (wait) await wait;
    try {
      this.begin.run();
      let result: T;
      try {
        result = await fn(this.tx);
        this.commit.run();
      } catch (error) {
        if (this.db.$client.inTransaction) this.rollback.run();
        this.appended = false;
        throw error;
      }
      if (this.appended) {
        this.appended = false;
        this.feed.emit('feed');
      }
      return result;
    } finally {
      this.release();
    }
  }

  async read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const wait = this.acquire();
    if (wait) await wait;
    try {
      return await fn(this.tx);
    } finally {
      this.release();
    }
  }

  onFeed(listener: () => void): () => void {
    this.feed.on('feed', listener);
    return () => this.feed.off('feed', listener);
  }

  async close(): Promise<void> {
    await this.leadership.stop();
    // Let the transaction in progress (if any) finish first.
    const wait = this.acquire();
    if (wait) await wait;
    this.db.$client.close();
  }
}

/** Open (creating and migrating if needed) a SQLite database; `:memory:` for tests. */
export function openSqlite(path: string): SqliteDatabase {
  const db = createDb(path);
  migrate(db);
  return new SqliteDatabase(db);
}
