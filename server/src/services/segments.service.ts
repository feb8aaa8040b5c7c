import type { AuditContext } from '../domain/audit.js';
import { AppError } from '../domain/errors.js';
import type { Managed } from '../domain/flags.js';
import { segmentPatches } from '../domain/ruleset.js';
import { assertSegmentUnused, assertValidSegment, segmentUsage, type NewSegment, type Segment, type SegmentUse } from '../domain/segments.js';
import { DOGFOOD_SEGMENT } from '../domain/stages.js';
import { checkVersion, stampNew, stampNext } from '../domain/versions.js';
import type { Tx } from '../store/ports.js';
import { matchesPatterns } from '../domain/flag-validation.js';
import { lockedByGit } from './flags.service.js';
import { assertSafePatterns } from './pattern-safety.js';
import { assertDirectWriteAllowed } from './change-requests/policy-guard.js';
import { RowMoved, type Change, type Writes } from './write.js';

/** Segments are global: one definition shared by every environment, so a change reaches them all. */
export class SegmentsService {
  constructor(private readonly w: Writes) {}

  list(): Promise<Managed<Segment>[]> {
    return this.w.read((tx) => this.w.repos.segments.list(tx));
  }

  async get(key: string): Promise<Managed<Segment>> {
    const found = await this.w.read((tx) => this.w.repos.segments.get(tx, key));
    if (!found) throw AppError.notFound('segment', key);
    return found;
  }

  /**
   * Which flags use the segment: every rule, per flag and environment, whose clauses name it — the
   * same references that make a deletion fail. Read in one snapshot, so it agrees with itself.
   */
  async usage(key: string): Promise<SegmentUse[]> {
    return this.w.read(async (tx) => {
      const { repos } = this.w;
      if (!(await repos.segments.get(tx, key))) throw AppError.notFound('segment', key);
      const flags = (await repos.flags.list(tx)).map((f) => f.value);
      const order = [...(await repos.environments.list(tx))].sort((a, b) => a.sortOrder - b.sortOrder || a.key.localeCompare(b.key)).map((e) => e.key);
      return segmentUsage(key, flags, order);
    });
  }

  private async environmentKeys(tx: Tx): Promise<string[]> {
    return (await this.w.repos.environments.list(tx)).map((e) => e.key);
  }

  async create(input: NewSegment, ctx: AuditContext): Promise<Managed<Segment>> {
    assertValidSegment(input);
    await assertSafePatterns(matchesPatterns(input.rules, 'body.'));
    return this.w.write(ctx, async (tx, at) => {
      const segment = stampNew(input, ctx.actor, at);
      await this.w.repos.segments.insert(tx, segment);
      const change: Change = {
        audit: [{ action: 'segment.created', resourceType: 'segment', resourceKey: segment.key, environment: null, before: null, after: segment }],
        sdk: segmentPatches(segment.key, segment, await this.environmentKeys(tx)),
      };
      return { value: { value: segment, managedBy: null }, change };
    });
  }

  async update(key: string, expected: number | undefined, patch: Partial<NewSegment>, ctx: AuditContext): Promise<Managed<Segment>> {
    if (patch.rules) await assertSafePatterns(matchesPatterns(patch.rules, 'body.'));
    return this.w.write(ctx, async (tx, at) => {
      await assertDirectWriteAllowed(this.w.repos, tx, `changing segment "${key}" (segments reach every environment)`, null);
      return this.updateIn(tx, at, ctx, key, expected, patch);
    });
  }

  /**
   * `update` inside a transaction the caller opened (an applied change request), without the
   * approval check; the caller has checked `patch.rules`' patterns.
   */
  async updateIn(tx: Tx, at: number, ctx: AuditContext, key: string, expected: number | undefined, patch: Partial<NewSegment>): Promise<{ value: Managed<Segment>; change: Change }> {
    const found = await this.w.repos.segments.get(tx, key);
    if (!found) throw AppError.notFound('segment', key);
    if (found.managedBy !== null) throw lockedByGit('segment', key, found.managedBy);
    const before = found.value;
    checkVersion(`segment "${key}"`, before, expected);
    const next = { ...before, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)), key };
    assertValidSegment(next);
    const after = stampNext(next, before, ctx.actor, at);
    if (!(await this.w.repos.segments.update(tx, after, before.version))) throw await this.moved(tx, key, expected);
    const change: Change = {
      audit: [{ action: 'segment.updated', resourceType: 'segment', resourceKey: key, environment: null, before, after }],
      sdk: segmentPatches(key, after, await this.environmentKeys(tx)),
    };
    return { value: { value: after, managedBy: null }, change };
  }

  async remove(key: string, expected: number | undefined, ctx: AuditContext): Promise<Managed<Segment>> {
    if (key === DOGFOOD_SEGMENT) throw new AppError('conflict', `"${DOGFOOD_SEGMENT}" holds the dogfood users that release stages use; it cannot be deleted`);
    return this.w.write(ctx, async (tx) => {
      const { repos } = this.w;
      // Lock first, then look for users: a flag starting to use it meanwhile waits for us, then fails.
      await repos.segments.lock(tx, key);
      const found = await repos.segments.get(tx, key);
      if (!found) throw AppError.notFound('segment', key);
      if (found.managedBy !== null) throw lockedByGit('segment', key, found.managedBy);
      const before = found.value;
      checkVersion(`segment "${key}"`, before, expected);
      assertSegmentUnused(key, (await repos.flags.list(tx)).map((f) => f.value));
      if (!(await repos.segments.delete(tx, key, before.version))) throw await this.moved(tx, key, expected);
      const change: Change = {
        audit: [{ action: 'segment.deleted', resourceType: 'segment', resourceKey: key, environment: null, before, after: null }],
        sdk: segmentPatches(key, null, await this.environmentKeys(tx)),
      };
      return { value: found, change };
    });
  }

  /** A conditional write found another version: a 409 when the caller pinned one, else a retry. */
  private async moved(tx: Tx, key: string, expected: number | undefined): Promise<Error> {
    const current = await this.w.repos.segments.get(tx, key);
    if (!current) return AppError.notFound('segment', key);
    checkVersion(`segment "${key}"`, current.value, expected);
    return new RowMoved(`segment "${key}"`);
  }
}
