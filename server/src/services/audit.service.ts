import type { AuditContext, AuditEntry, AuditQuery, AuditResource } from '../domain/audit.js';
import {
  applyRevert,
  currentValue,
  describeConflicts,
  describeEdit,
  entryEffect,
  laterChangesText,
  laterConflicts,
  restoredPatterns,
  stageOf,
  unexplainedDrift,
  type EntryEffect,
  type FieldRef,
  type LaterChange,
} from '../domain/audit-revert.js';
import { describeAuditEntry, environmentNames } from '../domain/audit-text.js';
import { AppError, type ErrorCode } from '../domain/errors.js';
import { defaultFlagEnvironment, segmentReferences } from '../domain/flag-defaults.js';
import { assertNoProblems, configProblems, flagProblems } from '../domain/flag-validation.js';
import { assertPrerequisites, prerequisiteCheck } from './prerequisites.js';
import { ownEntry, type Flag, type FlagEnvironment, type Managed } from '../domain/flags.js';
import { flagPatches, segmentPatches } from '../domain/ruleset.js';
import { assertSegmentUnused, assertValidSegment, type Segment } from '../domain/segments.js';
import { DOGFOOD_SEGMENT } from '../domain/stages.js';
import { checkVersion, stampNext } from '../domain/versions.js';
import type { Tx } from '../store/ports.js';
import { FlagsService, lockedByGit } from './flags.service.js';
import { assertSafePatterns } from './pattern-safety.js';
import { assertDirectWriteAllowed } from './change-requests/policy-guard.js';
import { differingFields } from '../domain/gitops/governance.js';
import { RowMoved, type Change, type Writes } from './write.js';

/** One field a revert writes: its value now and after the revert. */
export interface RevertChange extends FieldRef {
  current: unknown;
  reverted: unknown;
  /** Readable: `production: defaultServe on 100% → on 10% / off 90%`. */
  text: string;
}

/** A flag environment whose release stage the revert moves. */
export interface StageMove {
  environment: string;
  current: string;
  reverted: string;
}

/** What reverting an entry would do, computed exactly as the revert itself computes it. */
/** An audit entry with its readable sentence (domain/audit-text.ts). */
export type DescribedAuditEntry = AuditEntry & { summary: string };

export interface RevertPreview {
  entry: DescribedAuditEntry;
  /** `update`: set the entry's fields back; `delete`: undo a creation; `recreate`: undo a deletion. */
  operation: 'update' | 'delete' | 'recreate';
  /** The resource's current version (null: it does not exist): send it with the revert. */
  version: number | null;
  changes: RevertChange[];
  stages: StageMove[];
  /** One readable line per stage move and per field (or the creation/deletion). */
  summary: string[];
  /** Later changes that touched the same fields: any makes the revert refuse. */
  conflicts: LaterChange[];
  /** Why the revert would be refused (null: it would apply) — the error it would answer with. */
  refusal: { code: ErrorCode; message: string; details?: unknown } | null;
}

export type RevertResult = { resourceType: 'flag'; value: Managed<Flag> | null } | { resourceType: 'segment'; value: Managed<Segment> | null };

type Resource = Flag | Segment;

/** A revert worked out against the current state inside a transaction. */
interface Plan {
  preview: Omit<RevertPreview, 'refusal' | 'entry'> & { entry: AuditEntry };
  refusal: AppError | null;
  current: Managed<Resource> | undefined;
  /** The state after the revert (null: the resource goes). */
  target: Resource | null;
}

/** How many audit entries one query reads while collecting the changes made since an entry. */
const PAGE = 500;

/**
 * The audit log, newest first, and reverting one of its entries: undoing exactly the fields that
 * entry changed (domain/audit-revert.ts), through the one write path, audited as a revert of it.
 */
export class AuditService {
  constructor(
    private readonly w: Writes,
    private readonly flags: FlagsService = new FlagsService(w),
  ) {}

  /** Entries matching `query`, each with its readable sentence (environment display names as they are now). */
  list(query: AuditQuery): Promise<DescribedAuditEntry[]> {
    return this.w.read(async (tx) => this.describe(tx, await this.w.repos.audit.list(tx, query)));
  }

  private async describe(tx: Tx, entries: readonly AuditEntry[]): Promise<DescribedAuditEntry[]> {
    if (entries.length === 0) return [];
    const name = environmentNames(await this.w.repos.environments.list(tx));
    return entries.map((entry) => ({ ...entry, summary: describeAuditEntry(entry, name) }));
  }

  /** What `revert` would write now, and whether it would be refused (and why). Writes nothing. */
  async previewRevert(id: number): Promise<RevertPreview> {
    const { entry, effect } = await this.entry(id);
    const unsafe = await this.patternRefusal(effect);
    return this.w.read(async (tx) => {
      const plan = await this.plan(tx, entry, effect, false);
      const refusal = plan.refusal ?? (await this.approvalRefusal(tx, entry, effect, plan)) ?? unsafe;
      const [described] = await this.describe(tx, [plan.preview.entry]);
      return { ...plan.preview, entry: described!, refusal: refusal ? { code: refusal.code, message: refusal.message, ...(refusal.details !== undefined ? { details: refusal.details } : {}) } : null };
    });
  }

  /**
   * Undo what audit entry `id` changed, if no later change touched the same fields; `expected` is
   * the resource's current version (required while it exists). One transaction, audited as
   * `flag.reverted` / `segment.reverted` with the message "revert of audit entry #id[: comment]".
   */
  async revert(id: number, expected: number | undefined, ctx: AuditContext): Promise<RevertResult> {
    const { entry, effect } = await this.entry(id);
    // Before the transaction: the analysis may take a while and needs nothing from the database.
    const unsafe = await this.patternRefusal(effect);
    const message = `revert of audit entry #${id}${ctx.message ? `: ${ctx.message}` : ''}`;
    return this.w.write<RevertResult>(ctx, async (tx, at) => {
      const { repos } = this.w;
      const key = entry.resourceKey;
      // Undoing a segment's creation deletes it: lock it first, as a deletion does, so no flag starts using it meanwhile.
      if (effect.resourceType === 'segment' && effect.kind === 'created') await repos.segments.lock(tx, key);
      const plan = await this.plan(tx, entry, effect, true);
      if (plan.refusal) throw plan.refusal;
      const needsApproval = await this.approvalRefusal(tx, entry, effect, plan);
      if (needsApproval) throw needsApproval;
      if (unsafe) throw unsafe;
      const { current, target } = plan;
      const what = `${entry.resourceType} "${key}"`;
      if (current) {
        if (expected === undefined) throw new AppError('precondition_required', `send ${what}'s current version ("version" or If-Match; the preview has it) so the revert cannot overwrite a newer change`);
        checkVersion(what, current.value, expected);
      }
      const environment = singleEnvironment(plan.preview.changes);

      if (effect.resourceType === 'flag') {
        const before = (current?.value ?? null) as Flag | null;
        if (before && target) {
          const options = { action: 'flag.reverted', environment, message };
          const { value, change } = await this.flags.changeIn(tx, at, ctx, key, expected, options, () => target as Flag);
          return { value: { resourceType: 'flag' as const, value }, change };
        }
        let after: Flag | null = null;
        if (before) {
          if (!(await repos.flags.delete(tx, key, before.version))) throw new RowMoved(what);
        } else {
          const snapshot = target as Flag;
          after = { ...snapshot, key, version: snapshot.version + 1, updatedAt: at, updatedBy: ctx.actor };
          await repos.flags.insert(tx, after);
        }
        await assertPrerequisites(repos, tx, prerequisiteCheck(before, after));
        const change: Change = { audit: [{ action: 'flag.reverted', resourceType: 'flag', resourceKey: key, environment: null, before, after, message }], sdk: flagPatches(before, after) };
        return { value: { resourceType: 'flag' as const, value: after ? { value: after, managedBy: null } : null }, change };
      }

      const before = (current?.value ?? null) as Segment | null;
      let after: Segment | null = null;
      if (before && target) {
        after = stampNext({ ...(target as Segment), key }, before, ctx.actor, at);
        if (!(await repos.segments.update(tx, after, before.version))) throw new RowMoved(what);
      } else if (before) {
        if (!(await repos.segments.delete(tx, key, before.version))) throw new RowMoved(what);
      } else {
        const snapshot = target as Segment;
        after = { ...snapshot, key, version: snapshot.version + 1, updatedAt: at, updatedBy: ctx.actor };
        await repos.segments.insert(tx, after);
      }
      const environments = (await repos.environments.list(tx)).map((e) => e.key);
      const change: Change = { audit: [{ action: 'segment.reverted', resourceType: 'segment', resourceKey: key, environment: null, before, after, message }], sdk: segmentPatches(key, after, environments) };
      return { value: { resourceType: 'segment' as const, value: after ? { value: after, managedBy: null } : null }, change };
    });
  }

  /**
   * Where an approval policy applies, a revert is a change like any other: it is refused (409
   * `approval_required`) when it changes what a direct write there may not — a flag's configuration
   * in a policy environment (unless all it does there is turn the flag off: kill-like, it works as
   * the kill switch does), or a segment's rules while any environment has a policy. Reverting a
   * flag's metadata, or deleting what an entry created, is not governed (as the direct routes are not).
   */
  private async approvalRefusal(tx: Tx, entry: AuditEntry, effect: EntryEffect, plan: Plan): Promise<AppError | null> {
    const { repos } = this.w;
    const { current, target } = plan;
    const instead = `propose the values it would restore as a change request (POST /api/change-requests, or "switchyard requests create"; GET /api/audit/${entry.id}/revert lists them)`;
    const what = `reverting audit entry #${entry.id}`;
    try {
      if (effect.resourceType === 'segment') {
        if (current && target) await assertDirectWriteAllowed(repos, tx, `${what} (segment "${entry.resourceKey}"; segments reach every environment)`, null, instead);
        return null;
      }
      if (!target) return null;
      const before = current?.value as Flag | undefined;
      const after = target as Flag;
      for (const policy of await repos.approvalPolicies.list(tx)) {
        if (!policy.required) continue;
        const will = ownEntry(after.environments, policy.environment);
        if (!will) continue;
        const was = before ? ownEntry(before.environments, policy.environment) : undefined;
        const fields = was ? differingFields(was, will) : will.on ? ['on'] : [];
        const killLike = !will.on && fields.every((f) => f === 'on' || f === 'killed');
        if (fields.length === 0 || killLike) continue;
        await assertDirectWriteAllowed(repos, tx, `${what} (flag "${entry.resourceKey}": ${fields.join(', ')})`, policy.environment, instead);
      }
      return null;
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
  }

  /** The entry (404 when unknown) and what it did (400 when it is nothing a revert can undo). */
  private async entry(id: number): Promise<{ entry: AuditEntry; effect: EntryEffect }> {
    const entry = await this.w.read((tx) => this.w.repos.audit.get(tx, id));
    if (!entry) throw AppError.notFound('audit entry', id);
    return { entry, effect: entryEffect(entry) };
  }

  private async patternRefusal(effect: EntryEffect): Promise<AppError | null> {
    try {
      await assertSafePatterns(restoredPatterns(effect));
      return null;
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
  }

  /**
   * The revert against the current state: the fields it writes, the later changes it would undo
   * too, and the first reason to refuse it. `writing`: inside the revert's own transaction (locks
   * the segments its flag would refer to; a preview reads in a read-only transaction).
   */
  private async plan(tx: Tx, entry: AuditEntry, effect: EntryEffect, writing: boolean): Promise<Plan> {
    const { repos } = this.w;
    const key = entry.resourceKey;
    const what = `${entry.resourceType} "${key}"`;
    const current: Managed<Resource> | undefined = effect.resourceType === 'flag' ? await repos.flags.get(tx, key) : await repos.segments.get(tx, key);
    const conflicts = laterConflicts(effect, await this.changesSince(tx, entry, effect));
    const version = current?.value.version ?? null;
    const base = { entry, version, changes: [] as RevertChange[], stages: [] as StageMove[], conflicts };
    const result = (preview: Plan['preview'], refusal: AppError | null, target: Resource | null = null): Plan => ({ preview, refusal, current, target });
    const conflictError = (list: readonly LaterChange[]) => new AppError('conflict', describeConflicts(entry.id, list), conflictDetails(list));

    if (effect.kind === 'created') {
      const preview = { ...base, operation: 'delete' as const, summary: [`delete ${what} (created by this entry)`] };
      if (!current) {
        const gone = conflicts.find((c) => c.fields.length === 0 && c.entry !== null && (c.entry.action.endsWith('.deleted') || c.entry.action.endsWith('.reverted')));
        const by = gone?.entry ? ` (${gone.entry.action} by ${gone.entry.actor} at ${new Date(gone.entry.at).toISOString()}, entry #${gone.entry.id})` : '';
        return result(preview, new AppError('conflict', `${what} was created by audit entry ${entry.id} and no longer exists${by}: nothing to revert`, conflictDetails(conflicts)));
      }
      if (conflicts.length > 0) return result(preview, conflictError(conflicts));
      if (current.managedBy) return result(preview, lockedByGit(effect.resourceType, key, current.managedBy));
      if (effect.resourceType === 'segment') {
        if (key === DOGFOOD_SEGMENT) return result(preview, new AppError('conflict', `"${DOGFOOD_SEGMENT}" holds the dogfood users that release stages use; it cannot be deleted`));
        const users = await failure(async () => assertSegmentUnused(key, (await repos.flags.list(tx)).map((f) => f.value)));
        if (users) return result(preview, users);
      }
      return result(preview, null);
    }

    if (effect.kind === 'deleted') {
      if (current) {
        const preview = { ...base, operation: 'recreate' as const, summary: [`recreate ${what} as it was before this entry`] };
        const again = conflicts.length > 0 ? ` (${laterChangesText(conflicts)})` : '';
        return result(preview, new AppError('conflict', `${what} exists again, so audit entry ${entry.id}'s deletion cannot be undone${again}`, conflictDetails(conflicts)));
      }
      const target = effect.resourceType === 'flag' ? await this.recreatedFlag(tx, key, effect.snapshot as unknown as Flag) : ({ ...(effect.snapshot as unknown as Segment), key } as Segment);
      const stages = effect.resourceType === 'flag' ? Object.keys((target as Flag).environments).map((env) => `${env}: ${stageOf(target as Flag, env)}`) : [];
      const preview = { ...base, operation: 'recreate' as const, summary: [`recreate ${what} as it was before this entry${stages.length > 0 ? ` (${stages.join(', ')})` : ''}`] };
      if (conflicts.length > 0) return result(preview, conflictError(conflicts), target);
      const invalid = await failure(async () => this.validate(tx, target, effect.resourceType, null, writing));
      return result(preview, invalid, target);
    }

    // Changed fields: set each back, leave everything else as it is now.
    const { edits } = effect;
    const now = (current?.value ?? {}) as unknown as Record<string, unknown>;
    const changes = edits.map((e) => {
      const value = currentValue(now, e);
      return { environment: e.environment, field: e.field, current: value, reverted: e.before, text: describeEdit(e, value, e.before) };
    });
    const target = current ? applyRevert(current.value, edits) : null;
    const stages: StageMove[] = [];
    if (effect.resourceType === 'flag' && current && target) {
      for (const env of new Set(edits.flatMap((e) => (e.environment === null ? [] : [e.environment])))) {
        const from = stageOf(current.value as Flag, env);
        const to = stageOf(target as Flag, env);
        if (from !== undefined && to !== undefined && from !== to) stages.push({ environment: env, current: from, reverted: to });
      }
    }
    const drift = current ? unexplainedDrift(edits, now, conflicts) : null;
    const all = drift ? [...conflicts, drift] : conflicts;
    const preview = { ...base, conflicts: all, operation: 'update' as const, changes, stages, summary: [...stages.map((s) => `${s.environment}: stage ${s.current} → ${s.reverted}`), ...changes.map((c) => c.text)] };
    if (edits.length === 0) return result(preview, new AppError('conflict', `audit entry ${entry.id} changed no field of ${what} that can be reverted: nothing to revert`));
    if (!current || !target) {
      const since = all.length > 0 ? ` (${laterChangesText(all)})` : '';
      return result(preview, new AppError('conflict', `${what} no longer exists, so audit entry ${entry.id} cannot be reverted${since}`, conflictDetails(all)));
    }
    if (all.length > 0) return result(preview, conflictError(all), target);
    if (current.managedBy) return result(preview, lockedByGit(effect.resourceType, key, current.managedBy), target);
    const invalid = await failure(async () => this.validate(tx, target, effect.resourceType, edits, writing));
    return result(preview, invalid, target);
  }

  /**
   * Every later entry that could have touched what `entry` changed: the resource's own, and for a
   * field change of a flag the creation or deletion of the environments it changed.
   */
  private async changesSince(tx: Tx, entry: AuditEntry, effect: EntryEffect): Promise<AuditEntry[]> {
    const later = await this.entriesAfter(tx, entry.resourceType, entry.resourceKey, entry.id);
    if (effect.kind !== 'changed') return later;
    for (const env of new Set(effect.edits.flatMap((e) => (e.environment === null ? [] : [e.environment])))) {
      later.push(...(await this.entriesAfter(tx, 'environment', env, entry.id)));
    }
    return later;
  }

  private async entriesAfter(tx: Tx, resourceType: AuditResource, resourceKey: string, afterId: number): Promise<AuditEntry[]> {
    const found: AuditEntry[] = [];
    let cursor: number | undefined;
    for (;;) {
      const page = await this.w.repos.audit.list(tx, { resourceType, resourceKey, limit: PAGE, ...(cursor === undefined ? {} : { before: cursor }) });
      for (const entry of page) {
        if (entry.id <= afterId) return found;
        found.push(entry);
      }
      if (page.length < PAGE) return found;
      cursor = page[page.length - 1]!.id;
    }
  }

  /** A deleted flag as it comes back: environments created since get a fresh configuration, deleted ones are dropped. */
  private async recreatedFlag(tx: Tx, key: string, snapshot: Flag): Promise<Flag> {
    const environments: Record<string, FlagEnvironment> = {};
    for (const { key: env } of await this.w.repos.environments.list(tx)) {
      environments[env] = ownEntry(snapshot.environments, env) ?? defaultFlagEnvironment(key, snapshot.variations, snapshot.type);
    }
    return { ...snapshot, key, environments };
  }

  /**
   * The reverted state must be valid now: the variations and segments it names exist. Only what the
   * revert writes is checked (a changed variation list checks the whole flag).
   */
  private async validate(tx: Tx, target: Resource, resourceType: 'flag' | 'segment', edits: readonly FieldRef[] | null, writing: boolean): Promise<void> {
    if (resourceType === 'segment') return assertValidSegment(target as Segment);
    const flag = target as Flag;
    const segments = await this.existingSegments(tx, segmentReferences(flag), writing);
    const whole = edits === null || edits.some((e) => e.environment === null && (e.field === 'variations' || e.field === 'type'));
    if (whole) return assertNoProblems(flagProblems(flag, segments));
    const variations = new Set(flag.variations.map((v) => v.key));
    const environments = new Set(edits.flatMap((e) => (e.environment === null ? [] : [e.environment])));
    assertNoProblems([...environments].flatMap((env) => configProblems(ownEntry(flag.environments, env)!, variations, segments, `environments.${env}`)));
  }

  /** Writing locks them against deletion until the revert commits; a preview only looks. */
  private async existingSegments(tx: Tx, keys: ReadonlySet<string>, writing: boolean): Promise<Set<string>> {
    if (writing) return this.w.repos.segments.existing(tx, keys);
    const found = new Set<string>();
    for (const key of keys) if (await this.w.repos.segments.get(tx, key)) found.add(key);
    return found;
  }
}

/** The AppError `check` throws, if any: a preview reports refusals instead of throwing them. */
async function failure(check: () => Promise<void> | void): Promise<AppError | null> {
  try {
    await check();
    return null;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
}

/** An error's details: the later changes, timestamps as ISO strings like everywhere in the API. */
function conflictDetails(conflicts: readonly LaterChange[]) {
  return { conflicts: conflicts.map((c) => ({ ...c, entry: c.entry && { ...c.entry, at: new Date(c.entry.at).toISOString() } })) };
}

/** The environment a revert's audit entry names: the one environment all its fields belong to, if any. */
function singleEnvironment(changes: readonly FieldRef[]): string | null {
  const environments = new Set(changes.map((c) => c.environment));
  return environments.size === 1 ? [...environments][0]! : null;
}
