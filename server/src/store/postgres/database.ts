import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { FeedEntry, NewFeedEntry } from '../../domain/feed.js';
import type { Database, Repositories, Tx, WriteRecord } from '../ports.js';
import { drizzle } from 'drizzle-orm/node-postgres';
import { CONNECT_TIMEOUT_MS, asTx, createDb, createPool, migratePostgres, namespaceOf, socketOf, type Conn, type Namespace, type PgDb, type PoolOptions } from './connection.js';
import * as schema from './schema.js';
import { postgresSdkKeys, postgresSessions, postgresTokens } from './credentials.js';
import { feedAppend, postgresAudit, postgresEnvironments, postgresFeed, postgresState } from './environments.js';
import { postgresFlags, postgresSegments } from './flags.js';
import { postgresEvaluations } from './evaluations.js';
import { postgresIncidents } from './incidents.js';
import { AdvisoryLeadership } from './leadership.js';
import { postgresMetrics, postgresPlans, postgresWebhooks } from './releases.js';
import { postgresSchedules } from './schedules.js';
import { postgresCodeRefs } from './code-refs.js';
import { postgresApprovalPolicies, postgresChangeRequests } from './change-requests.js';

/** Serialization failure and deadlock: the transaction did nothing and may simply run again. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;
const RECONNECT_MS = [100, 500, 1000, 2000, 5000];

function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export interface PostgresOptions extends PoolOptions {
  /** How often a replica that is not the leader tries to become it. */
  leaderPollMs?: number;
}

/**
 * PostgreSQL, for several replicas: a connection pool for statements, plus two dedicated
 * connections per replica — one LISTENs for change-feed notifications, one holds the leadership
 * advisory lock.
 */
export class PostgresDatabase implements Database {
  readonly dialect = 'postgres';
  readonly repos: Repositories;
  readonly leadership: AdvisoryLeadership;
  private readonly feed = new EventEmitter();
  private listener: pg.Client | undefined;
  private listening = false;
  private closed = false;
  private reconnects = 0;
  private readonly clientDbs = new WeakMap<pg.PoolClient, Conn>();

  constructor(
    readonly db: PgDb,
    readonly pool: pg.Pool,
    readonly namespace: Namespace,
    private readonly url: string,
    options: PostgresOptions = {},
  ) {
    this.feed.setMaxListeners(0);
    this.leadership = new AdvisoryLeadership(url, namespace.lockKey('leader'), options.leaderPollMs);
    this.repos = {
      environments: postgresEnvironments,
      flags: postgresFlags,
      incidents: postgresIncidents,
      segments: postgresSegments,
      audit: postgresAudit,
      feed: postgresFeed(namespace.channel),
      tokens: postgresTokens,
      sdkKeys: postgresSdkKeys,
      sessions: postgresSessions,
      plans: postgresPlans,
      metrics: postgresMetrics,
      evaluations: postgresEvaluations,
      webhooks: postgresWebhooks,
      state: postgresState,
      schedules: postgresSchedules,
      approvalPolicies: postgresApprovalPolicies,
      changeRequests: postgresChangeRequests,
      codeRefs: postgresCodeRefs,
    };
    // An idle pooled connection that dies (a PostgreSQL restart) is replaced on next use.
    pool.on('error', () => {});
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return (await this.transactionWithFeed(async (tx) => ({ value: await fn(tx) }))).value;
  }

  /**
   * BEGIN, `fn`, then the webhook deliveries, the feed append and COMMIT sent together (one
   * simple-protocol query): the feed's head row, locked by the append, is released by the same
   * round trip that took it. Serialization failures and deadlocks run it again.
   */
  async transactionWithFeed<T>(fn: (tx: Tx) => Promise<{ value: T; feed?: WriteRecord }>): Promise<{ value: T; appended?: FeedEntry }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.session('begin', async (tx, client, began) => {
          const { value, feed } = await fn(tx);
          await began;
          if (!feed) {
            await client.query('commit');
            return { value };
          }
          const results = (await client.query(`${feedAppend(this.namespace.channel, feed.entry, feed.webhooks)};\ncommit`)) as unknown as pg.QueryResult<{ seq: string; deliveries: boolean }>[];
          const row = results[0]!.rows[0]!;
          return { value, appended: { ...feed.entry, deliveries: row.deliveries, seq: Number(row.seq) } };
        });
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has(sqlState(error) ?? '')) throw error;
      }
    }
  }

  /** A snapshot: every statement in `fn` sees the same committed state. */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.session('begin isolation level repeatable read, read only', async (tx, client, began) => {
      const value = await fn(tx);
      await began;
      await client.query('commit');
      return value;
    });
  }

  /**
   * One transaction on a pooled connection: `begin`, then `fn`, which commits. Any error rolls it
   * back; a connection that cannot even do that is discarded rather than reused.
   *
   * BEGIN is not waited for: the connection is pipelined, and the socket is corked while `fn` makes
   * its first statements (those it sends before it first waits for an answer), so BEGIN and they
   * leave in one write and are answered in one round trip. `fn` must await `began` (BEGIN's answer,
   * which comes before any other) before COMMIT: a transaction never commits unless it began.
   */
  private async session<T>(begin: string, fn: (tx: Tx, client: pg.PoolClient, began: Promise<unknown>) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const socket = socketOf(client);
      socket?.cork();
      let running: Promise<T>;
      try {
        const began = client.query(begin);
        began.catch(() => {}); // awaited by `fn` before it commits
        running = fn(asTx(this.onClient(client)), client, began);
      } finally {
        // After the microtasks queued so far: a query builder awaited by `fn` sends its statement
        // from one (`await` calls its `then` in a microtask), and it should leave with BEGIN too.
        if (socket) queueMicrotask(() => socket.uncork());
      }
      return await running;
    } catch (error) {
      await client.query('rollback').catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Drizzle on one pooled connection, kept with it: statements that repositories prepare are cached
   * per connection handle (see `prepared` in connection.ts), so they are built once per connection.
   */
  private onClient(client: pg.PoolClient): Conn {
    let db = this.clientDbs.get(client);
    if (!db) {
      db = drizzle({ client, schema });
      this.clientDbs.set(client, db);
    }
    return db;
  }

  /** On the pool, no transaction: one round trip per statement. */
  async peek<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return fn(asTx(this.db));
  }

  async ping(): Promise<void> {
    await this.pool.query('select 1');
  }

  onFeed(listener: (entry?: FeedEntry) => void): () => void {
    this.feed.on('feed', listener);
    if (!this.listening) void this.listen();
    return () => this.feed.off('feed', listener);
  }

  /**
   * LISTEN on a dedicated connection, reconnecting with backoff when it drops. A (re)connection
   * wakes the followers too: notifications sent while it was down are lost, but the entries are not.
   */
  private async listen(): Promise<void> {
    this.listening = true;
    while (!this.closed) {
      const client = new pg.Client({ connectionString: this.url, application_name: 'switchyard-feed', connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
      const ended = new Promise<void>((resolve) => {
        client.once('end', resolve);
        client.once('error', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', (message) => this.feed.emit('feed', entryOf(message.payload)));
        await client.query(`LISTEN "${this.namespace.channel}"`);
        this.listener = client;
        this.reconnects = 0;
        this.feed.emit('feed');
        await ended;
      } catch {
        // Unreachable: try again after a pause.
      }
      this.listener = undefined;
      void client.end().catch(() => {});
      if (this.closed) break;
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS[Math.min(this.reconnects++, RECONNECT_MS.length - 1)]));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.leadership.stop();
    await this.listener?.end().catch(() => {});
    await this.pool.end();
  }
}

/** `<seq>` alone, or `<seq> <entry JSON>` when the entry was small enough to travel with it. */
function entryOf(payload: string | undefined): FeedEntry | undefined {
  const space = payload?.indexOf(' ') ?? -1;
  if (!payload || space < 0) return undefined;
  try {
    return { seq: Number(payload.slice(0, space)), ...(JSON.parse(payload.slice(space + 1)) as NewFeedEntry) };
  } catch {
    return undefined; // a follower reads the feed instead
  }
}

/**
 * Connect, then migrate (once across replicas starting together). The URL's search_path picks the
 * schema, e.g. `postgres://host/db?options=-c%20search_path%3Dswitchyard`; the default is `public`.
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<PostgresDatabase> {
  const pool = createPool(url, options);
  try {
    const namespace = await namespaceOf(pool);
    await migratePostgres(pool, namespace);
    return new PostgresDatabase(createDb(pool), pool, namespace, url, options);
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
}
