import { eq, sql } from 'drizzle-orm';
import { flagEnvironments, flags, segments } from './schema.js';
import { AppError } from '../../domain/errors.js';
import { toRuleSetSegment } from '../../domain/ruleset.js';
import type { Segment } from '../../domain/segments.js';
import type { AuditContext, Mutation, NewSegment, RuleSetChange, Write } from '../ports.js';
import type { Conn, SqliteKernel } from './kernel.js';
import { segmentColumns, toSegment } from './rows.js';

/** Segments are global: every change bumps every environment's rule-set version. */
export class SqliteSegments {
  constructor(private readonly k: SqliteKernel) {}

  async listSegments(): Promise<Segment[]> {
    return this.k.db.select().from(segments).orderBy(segments.key).all().map(toSegment);
  }

  async listSegmentKeys(): Promise<string[]> {
    return this.k.stmts.segmentKeys.all().map((r) => r.key);
  }

  async getSegment(key: string): Promise<Segment | undefined> {
    const row = this.k.db.select().from(segments).where(eq(segments.key, key)).get();
    return row ? toSegment(row) : undefined;
  }

  /** Segments are global, so a segment change reaches every environment. */
  private segmentChanges(tx: Conn, key: string, after: Segment | null): RuleSetChange[] {
    return this.k.environmentRows(tx).map((env) => ({
      environment: env.key,
      version: this.k.bumpEnvironment(tx, env.id),
      flags: {},
      segments: { [key]: after ? toRuleSetSegment(after) : null },
    }));
  }

  async createSegment(input: NewSegment, ctx: AuditContext): Promise<Write<Segment>> {
    return this.k.transaction((tx) => {
      if (tx.select({ id: segments.id }).from(segments).where(eq(segments.key, input.key)).get()) {
        throw new AppError('conflict', `segment "${input.key}" already exists`);
      }
      const at = this.k.now();
      const segment: Segment = { ...input, version: 1, createdAt: at, updatedAt: at, updatedBy: ctx.actor };
      tx.insert(segments).values(segmentColumns(segment)).run();
      const changes = this.segmentChanges(tx, segment.key, segment);
      const audit = this.k.audit(tx, { action: 'segment.created', resourceType: 'segment', resourceKey: segment.key, environment: null, before: null, after: segment }, ctx);
      return { value: segment, changes, audit };
    });
  }

  async updateSegment(key: string, expectedVersion: number | undefined, mutation: Mutation<Segment>, ctx: AuditContext): Promise<Write<Segment>> {
    return this.k.transaction((tx) => {
      const row = tx.select().from(segments).where(eq(segments.key, key)).get();
      if (!row) throw AppError.notFound('segment', key);
      const before = toSegment(row);
      this.k.checkVersion(`segment "${key}"`, before, expectedVersion);
      const after: Segment = { ...mutation(structuredClone(before)), key, version: before.version + 1, createdAt: before.createdAt, updatedAt: this.k.now(), updatedBy: ctx.actor };
      tx.update(segments).set(segmentColumns(after)).where(eq(segments.id, row.id)).run();
      const changes = this.segmentChanges(tx, key, after);
      const audit = this.k.audit(tx, { action: 'segment.updated', resourceType: 'segment', resourceKey: key, environment: null, before, after }, ctx);
      return { value: after, changes, audit };
    });
  }

  async deleteSegment(key: string, expectedVersion: number | undefined, ctx: AuditContext): Promise<Write<Segment>> {
    return this.k.transaction((tx) => {
      const row = tx.select().from(segments).where(eq(segments.key, key)).get();
      if (!row) throw AppError.notFound('segment', key);
      const before = toSegment(row);
      this.k.checkVersion(`segment "${key}"`, before, expectedVersion);
      const users = tx
        .select({ key: flags.key })
        .from(flagEnvironments)
        .innerJoin(flags, eq(flags.id, flagEnvironments.flagId))
        .where(sql`exists (select 1 from json_each(${flagEnvironments.config}, '$.rules') r, json_each(r.value, '$.clauses') c, json_each(c.value, '$.values') v where json_extract(c.value, '$.operator') in ('in_segment', 'not_in_segment') and v.value = ${key})`)
        .all();
      if (users.length > 0) {
        const names = [...new Set(users.map((u) => u.key))].slice(0, 10).join(', ');
        throw new AppError('conflict', `segment "${key}" is used by flag(s): ${names}; remove those rules first`);
      }
      tx.delete(segments).where(eq(segments.id, row.id)).run();
      const changes = this.segmentChanges(tx, key, null);
      const audit = this.k.audit(tx, { action: 'segment.deleted', resourceType: 'segment', resourceKey: key, environment: null, before, after: null }, ctx);
      return { value: before, changes, audit };
    });
  }
}
