import type { Db } from './connection.js';
import { AppError } from '../../domain/errors.js';
import type { AuditContext, AuditEntry } from '../ports.js';
import { Statements } from './statements.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Conn = Db | Tx;

/** What a write says about itself; the kernel adds id, time, actor and source. */
export type AuditWrite = Pick<AuditEntry, 'action' | 'resourceType' | 'resourceKey' | 'environment' | 'before' | 'after'>;

/**
 * What every part of the SQLite store shares: the connection, prepared statements, the clock,
 * transactions, audit entries written inside them, environment ids and version checks.
 */
export class SqliteKernel {
  readonly stmts: Statements;

  constructor(
    readonly db: Db,
    readonly now: () => number,
  ) {
    this.stmts = new Statements(db.$client);
  }

  /**
   * better-sqlite3's own transaction wrapper (cached BEGIN/COMMIT statements); the drizzle handle
   * shares its connection, so queries inside run in the same transaction. Throwing rolls back.
   */
  transaction<T>(fn: (tx: Conn) => T): T {
    return this.db.$client.transaction(() => fn(this.db))();
  }

  audit(_tx: Conn, entry: AuditWrite, ctx: AuditContext): AuditEntry {
    const at = this.now();
    const before = entry.before ?? null;
    const after = entry.after ?? null;
    const { id } = this.stmts.insertAudit.get(
      at,
      ctx.actor,
      entry.action,
      entry.resourceType,
      entry.resourceKey,
      entry.environment,
      before === null ? null : JSON.stringify(before),
      after === null ? null : JSON.stringify(after),
      ctx.source,
      ctx.message ?? null,
      ctx.commit ?? null,
    )!;
    return { id, at, actor: ctx.actor, source: ctx.source, message: ctx.message ?? null, commit: ctx.commit ?? null, ...entry, before, after };
  }

  environmentRows(_tx?: Conn) {
    return this.stmts.environments.all().map((r) => ({ id: r.id, key: r.key, name: r.name, critical: r.critical === 1, sortOrder: r.sort_order, version: r.version, createdAt: r.created_at }));
  }

  /**
   * Environment key → id, read once: the hot write path looks ids up instead of re-reading the
   * table. Cleared by every write that adds or removes environments (see `environmentsChanged`).
   */
  private envIds = new Map<string, number>();

  environmentsChanged(): void {
    this.envIds.clear();
  }

  environmentId(key: string): number | undefined {
    if (this.envIds.size === 0 || !this.envIds.has(key)) {
      this.envIds = new Map(this.stmts.environments.all().map((r) => [r.key, r.id]));
    }
    return this.envIds.get(key);
  }

  bumpEnvironment(_tx: Conn, id: number): number {
    return this.stmts.bumpEnvironment.get(id)!.version;
  }

  checkVersion(what: string, current: { version: number; updatedBy?: string; updatedAt?: number }, expected: number | undefined) {
    if (expected !== undefined && expected !== current.version) {
      throw AppError.versionConflict(what, current.version, current.updatedBy, current.updatedAt ? new Date(current.updatedAt).toISOString() : undefined);
    }
  }
}
