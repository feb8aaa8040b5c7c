import { EventEmitter } from 'node:events';
import type { FeedEntry, NewFeedEntry } from '../../domain/feed.js';
import type { Database, Leadership, Repositories, Tx, WriteRecord } from '../ports.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { asTx, createDb, migrate, type Db } from './connection.js';
import { sqliteSdkKeys, sqliteSessions, sqliteTokens } from './credentials.js';
import { SqliteFeed, sqliteAudit, sqliteEnvironments, sqliteState } from './environments.js';
import { sqliteFlags, sqliteSegments } from './flags.js';
import { sqliteEvaluations } from './evaluations.js';
import { sqliteIncidents } from './incidents.js';
import { sqliteMetrics, sqlitePlans, sqliteWebhooks } from './releases.js';
import { sqliteSchedules } from './schedules.js';
import { sqliteCodeRefs } from './code-refs.js';
import { sqliteApprovalPolicies, sqliteChangeRequests } from './change-requests.js';

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

/** A transaction waiting for its turn in a group. */
interface Pending {
  fn: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Transactions committed together at most: bounds how long the first one waits for its COMMIT. */
const MAX_GROUP = 64;

/**
 * The embedded default: one better-sqlite3 connection. Transactions are async (services await
 * repositories, as they must on PostgreSQL), so a FIFO lock keeps one group of transactions — or
 * one read — on the connection at a time: nothing ever sees another request's uncommitted writes.
 *
 * Group commit: the transactions waiting when the connection frees up run one after another in a
 * single SQLite transaction, each inside its own SAVEPOINT (a failure rolls back that one alone),
 * and share one COMMIT — the WAL write that dominates a small transaction's cost. Each still
 * resolves only after that COMMIT, exactly as if it had committed alone.
 */
export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite';
  readonly repos: Repositories;
  readonly leadership = new SoleLeadership();
  private readonly tx: Tx;
  private readonly feed = new EventEmitter();
  private busy = false;
  /** Reads and groups waiting for the connection, in arrival order. */
  private readonly waiting: (() => void)[] = [];
  private readonly queued: Pending[] = [];
  private appended = false;
  private readonly feedRepository = new SqliteFeed(() => (this.appended = true));
  private readonly statements;

  constructor(
    readonly db: Db,
    private readonly checkpointer?: Checkpointer,
  ) {
    this.tx = asTx(db);
    const prepare = (sql: string) => db.$client.prepare(sql);
    this.statements = {
      begin: prepare('BEGIN IMMEDIATE'),
      commit: prepare('COMMIT'),
      rollback: prepare('ROLLBACK'),
      savepoint: prepare('SAVEPOINT member'),
      release: prepare('RELEASE member'),
      rollbackMember: prepare('ROLLBACK TO member'),
    };
    this.feed.setMaxListeners(0);
    this.repos = {
      environments: sqliteEnvironments,
      flags: sqliteFlags,
      incidents: sqliteIncidents,
      segments: sqliteSegments,
      audit: sqliteAudit,
      feed: this.feedRepository,
      tokens: sqliteTokens,
      sdkKeys: sqliteSdkKeys,
      sessions: sqliteSessions,
      plans: sqlitePlans,
      metrics: sqliteMetrics,
      evaluations: sqliteEvaluations,
      webhooks: sqliteWebhooks,
      state: sqliteState,
      schedules: sqliteSchedules,
      approvalPolicies: sqliteApprovalPolicies,
      changeRequests: sqliteChangeRequests,
      codeRefs: sqliteCodeRefs,
    };
  }

  /** Resolves immediately when the connection is free (the common case), else in arrival order — or first. */
  private acquire(first = false): Promise<void> | undefined {
    if (!this.busy) {
      this.busy = true;
      return undefined;
    }
    return new Promise((resolve) => (first ? this.waiting.unshift(resolve) : this.waiting.push(resolve)));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const first = this.queued.length === 0;
      this.queued.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      // The first of a batch asks for the connection one turn of the event loop later, so writes
      // arriving together share a COMMIT; whoever is queued when it gets the connection, runs.
      if (first) setImmediate(() => void this.runGroup());
    });
  }

  transactionWithFeed<T>(fn: (tx: Tx) => Promise<{ value: T; feed?: WriteRecord }>): Promise<{ value: T; appended?: FeedEntry }> {
    return this.transaction(async (tx) => {
      const { value, feed } = await fn(tx);
      if (!feed) return { value };
      let deliveries = false;
      for (const message of feed.webhooks) if ((await this.repos.webhooks.enqueue(tx, message, feed.entry.at)) > 0) deliveries = true;
      const entry: NewFeedEntry = { ...feed.entry, deliveries };
      return { value, appended: { ...entry, seq: await this.feedRepository.append(tx, entry) } };
    });
  }

  private async runGroup(): Promise<void> {
    const wait = this.acquire();
    if (wait) await wait;
    const group = this.queued.splice(0, MAX_GROUP);
    if (group.length === 0) return this.release(); // an earlier group took them all
    const { statements } = this;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      statements.begin.run();
      // A savepoint per member only when there are several: alone, a failure rolls back everything.
      const savepoints = group.length > 1;
      for (const member of group) {
        if (savepoints) statements.savepoint.run();
        this.feedRepository.memberBegins();
        try {
          const value = await member.fn(this.tx);
          if (savepoints) statements.release.run();
          outcomes.push({ ok: true, value });
        } catch (error) {
          // A statement error may already have ended the savepoint's effects; undo what is left.
          if (this.db.$client.inTransaction) {
            if (savepoints) {
              statements.rollbackMember.run();
              statements.release.run();
            } else {
              statements.rollback.run();
            }
          }
          this.feedRepository.memberRolledBack();
          outcomes.push({ ok: false, error });
        }
      }
      if (this.db.$client.inTransaction) statements.commit.run();
      this.feedRepository.groupCommitted();
    } catch (error) {
      if (this.db.$client.inTransaction) statements.rollback.run();
      this.feedRepository.groupRolledBack();
      this.appended = false;
      this.release();
      for (const member of group) member.reject(error);
      return;
    }
    const appended = this.appended;
    this.appended = false;
    this.release();
    group.forEach((member, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) member.resolve(outcome.value);
      else member.reject(outcome.error);
    });
    if (appended) this.feed.emit('feed');
  }

  async read<T>(fn: (tx: Tx) => Promise<T>, urgent = false): Promise<T> {
    const wait = this.acquire(urgent);
    if (wait) await wait;
    try {
      return await fn(this.tx);
    } finally {
      this.release();
    }
  }

  /** Ahead of queued transactions: the one connection is still never shared with an open transaction. */
  peek<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.read(fn, true);
  }

  async ping(): Promise<void> {
    await this.read(async () => void this.db.$client.prepare('select 1').get());
  }

  onFeed(listener: (entry?: FeedEntry) => void): () => void {
    this.feed.on('feed', listener);
    return () => this.feed.off('feed', listener);
  }

  async close(): Promise<void> {
    await this.leadership.stop();
    await this.checkpointer?.stop();
    // Let the transactions in progress (if any) finish first.
    while (this.queued.length > 0) await new Promise((resolve) => setImmediate(resolve));
    const wait = this.acquire();
    if (wait) await wait;
    this.db.$client.close();
  }
}

/** Open (creating and migrating if needed) a SQLite database; `:memory:` for tests. */
export function openSqlite(path: string): SqliteDatabase {
  const db = createDb(path);
  migrate(db);
  return new SqliteDatabase(db, path === ':memory:' ? undefined : startCheckpointer(path, db.$client));
}
