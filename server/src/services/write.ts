import { auditEntries, type AuditContext, type AuditEntry, type AuditWrite } from '../domain/audit.js';
import { AppError } from '../domain/errors.js';
import type { Revocation } from '../domain/credentials.js';
import { feedWrite, type FeedEntry, type SdkPatch } from '../domain/feed.js';
import type { WebhookMessage } from '../domain/releases/webhooks.js';
import { mergePatches } from '../domain/ruleset.js';
import type { Database, Repositories, Tx, WriteRecord } from '../store/ports.js';

/**
 * The one write path. Every change runs as: read through repositories → domain rules → conditional
 * write → audit entries → webhook deliveries → change-feed entry, in ONE transaction. Nothing is
 * told in-process: every replica (this one included) learns of the change from the feed.
 */

/** What a write records besides its rows. */
export interface Change {
  audit: AuditWrite[];
  /** Per environment, what its SDKs must apply (null: reload the environment). */
  sdk?: Record<string, SdkPatch | null>;
  revoked?: Revocation[];
  /** Webhook messages, built from the stored audit entries (they carry the audit ids). */
  webhooks?: (audit: readonly AuditEntry[]) => WebhookMessage[];
}

/** Two changes made in one transaction, recorded as one. */
export function combine(a: Change, b: Change): Change {
  return {
    audit: [...a.audit, ...b.audit],
    sdk: mergePatches(a.sdk ?? {}, b.sdk ?? {}),
    revoked: [...(a.revoked ?? []), ...(b.revoked ?? [])],
    webhooks: (audit) => [...(a.webhooks?.(audit) ?? []), ...(b.webhooks?.(audit) ?? [])],
  };
}

/**
 * A row was no longer at the version this transaction read (another writer got there first) and
 * the caller had not pinned a version: the whole read-modify-write runs again on fresh data.
 */
export class RowMoved extends Error {
  constructor(what: string) {
    super(`${what} changed during the write`);
    this.name = 'RowMoved';
  }
}

/** A write that turned out to change nothing. */
export const NO_CHANGE: Change = Object.freeze({ audit: [] });

const MAX_ATTEMPTS = 5;

export interface WriteResult<T> {
  value: T;
  change: Change;
}

export class Writes {
  /**
   * Called after each commit with its feed entry: resolves once this replica has applied it, so
   * a write is followed by reads of its own result here (read-your-writes) — and a revocation takes
   * effect here before its response. Set by the wiring (services/index.ts) to the feed follower.
   */
  applied: (entry: FeedEntry) => Promise<unknown> = async () => {};

  constructor(
    readonly db: Database,
    readonly now: () => number,
  ) {}

  get repos(): Repositories {
    return this.db.repos;
  }

  /**
   * Run `fn` (reads, rules, conditional writes) and record its change, in one transaction.
   * Retried from the start when `fn` throws RowMoved.
   */
  async write<T>(ctx: AuditContext, fn: (tx: Tx, at: number) => Promise<WriteResult<T>>): Promise<T> {
    return (await this.writeAudited(ctx, fn)).value;
  }

  /** `write`, also returning the audit entries it stored. */
  async writeAudited<T>(ctx: AuditContext, fn: (tx: Tx, at: number) => Promise<WriteResult<T>>): Promise<{ value: T; audit: AuditEntry[] }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const done = await this.db.transactionWithFeed(async (tx) => {
          const at = this.now();
          const { value, change } = await fn(tx, at);
          const { audit, feed } = await this.record(tx, change, ctx, at);
          return { value: { value, audit }, ...(feed ? { feed } : {}) };
        });
        if (done.appended) await this.applied(done.appended);
        return done.value;
      } catch (error) {
        if (!(error instanceof RowMoved)) throw error;
        if (attempt >= MAX_ATTEMPTS) throw new AppError('conflict', `${error.message} again and again (too many concurrent changes); retry`);
      }
    }
  }

  /**
   * The end of every write: audit entries, then what the database records as it commits — webhook
   * deliveries and the change-feed entry (one round trip with COMMIT on PostgreSQL). A change that
   * records nothing (no audit entry, nothing for SDKs or revocations) leaves no feed entry.
   */
  private async record(tx: Tx, change: Change, ctx: AuditContext, at: number): Promise<{ audit: AuditEntry[]; feed?: WriteRecord }> {
    const { repos } = this.db;
    if (change.audit.length === 0 && Object.keys(change.sdk ?? {}).length === 0 && (change.revoked ?? []).length === 0) return { audit: [] };
    const audit = await repos.audit.append(tx, auditEntries(change.audit, ctx, at));
    const entry = { at, writes: audit.map(feedWrite), sdk: change.sdk ?? {}, revoked: change.revoked ?? [] };
    return { audit, feed: { webhooks: change.webhooks?.(audit) ?? [], entry } };
  }

  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.read(fn);
  }
}
