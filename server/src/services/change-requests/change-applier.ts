import type { AuditContext } from '../../domain/audit.js';
import { describeResource, resourceOf, type ChangeRequest, type ChangeSpec, type PlanSnapshot, type RequestedChange } from '../../domain/change-requests.js';
import { AppError } from '../../domain/errors.js';
import { ownEntry, type Flag } from '../../domain/flags.js';
import type { ReleasePlan } from '../../domain/releases/plans.js';
import type { Segment } from '../../domain/segments.js';
import { parseStage } from '../../domain/stages.js';
import type { Tx } from '../../store/ports.js';
import type { FlagsService } from '../flags.service.js';
import { asPromotion } from '../promotions.service.js';
import type { ReleasesService } from '../releases/releases.service.js';
import type { SegmentsService } from '../segments.service.js';
import type { Change, Writes } from '../write.js';

/** Thrown to roll back a dry run: the diff of a request is computed by the code that will apply it. */
class DryRun extends Error {}

/**
 * A request's changes applied through the same service methods the direct routes use (`…In`
 * variants that run inside the caller's transaction), pinned to the versions they were made
 * against; and the same code run in a transaction that is rolled back, for the diff a request
 * stores.
 */
export class ChangeApplier {
  constructor(
    private readonly w: Writes,
    private readonly flags: FlagsService,
    private readonly segments: SegmentsService,
    private readonly releases: ReleasesService,
  ) {}

  /** What the request touches that is no longer at the version it was made against. */
  async movedSince(tx: Tx, request: ChangeRequest): Promise<{ type: 'flag' | 'segment' | 'release-plan'; key: string; what: string; baseVersion: number; currentVersion: number | null; by: string | null }[]> {
    const seen = new Set<string>();
    const moved = [];
    for (const change of request.changes) {
      if (change.type === 'release') {
        // The plan is pinned too: an edited (or deleted, or meanwhile started) plan is not the one approved.
        const plan = await this.w.repos.plans.get(tx, change.flag, change.environment);
        if (plan?.version !== change.planVersion) {
          const what = `the release plan of flag "${change.flag}" in ${change.environment}${plan ? '' : ' (deleted)'}`;
          moved.push({ type: 'release-plan' as const, key: change.flag, what, baseVersion: change.planVersion, currentVersion: plan?.version ?? null, by: plan?.updatedBy ?? null });
        }
      }
      const resource = resourceOf(change);
      if (seen.has(resource)) continue;
      seen.add(resource);
      const current: Flag | Segment | undefined = change.type === 'segment' ? (await this.w.repos.segments.get(tx, change.segment))?.value : (await this.w.repos.flags.get(tx, change.flag))?.value;
      if (current?.version === change.baseVersion) continue;
      const key = change.type === 'segment' ? change.segment : change.flag;
      moved.push({ type: change.type === 'segment' ? ('segment' as const) : ('flag' as const), key, what: `${describeResource(change)}${current ? '' : ' (deleted)'}`, baseVersion: change.baseVersion, currentVersion: current?.version ?? null, by: current?.updatedBy ?? null });
    }
    return moved;
  }

  /**
   * Apply `specs` in order inside `tx`. The first change to a resource pins its base version
   * (`base`) or whatever is current (`current`, for a rebase); later ones the version the one
   * before made. Calls `each` with the stored form of each change (its diff) and what it records.
   */
  async applyAll(tx: Tx, at: number, ctx: AuditContext, specs: readonly ChangeSpec[], pin: 'base' | 'current', each: (change: RequestedChange, recorded: Change) => void): Promise<void> {
    const versions = new Map<string, number>();
    const bases = new Map<string, number>();
    for (const [index, spec] of specs.entries()) {
      const resource = resourceOf(spec);
      const expected = versions.get(resource) ?? (pin === 'base' ? spec.baseVersion : undefined);
      let result: Applied;
      try {
        result = await this.applyOne(tx, at, ctx, spec, expected, pin);
      } catch (error) {
        throw inChange(error, index, spec);
      }
      // The version the resource was at before the request's first change to it.
      if (!bases.has(resource)) bases.set(resource, result.base);
      versions.set(resource, result.version);
      const plan = result.plan ? { plan: result.plan, planVersion: result.plan.version } : {};
      each({ ...spec, baseVersion: bases.get(resource)!, before: result.before, after: result.after, ...plan }, result.change);
    }
  }

  /** One change through the service method its direct route uses; the touched configuration or segment before and after. */
  private async applyOne(tx: Tx, at: number, ctx: AuditContext, spec: ChangeSpec, expected: number | undefined, pin: 'base' | 'current'): Promise<Applied> {
    if (spec.type === 'segment') {
      const { value, change } = await this.segments.updateIn(tx, at, ctx, spec.segment, expected, spec.patch);
      return { version: value.value.version, base: value.value.version - 1, before: change.audit[0]?.before ?? null, after: value.value, change };
    }
    if (spec.type === 'release') return this.applyRelease(tx, at, ctx, spec, expected, pin);
    let result: { value: { value: Flag }; change: Change };
    if (spec.type === 'targeting') {
      result = await this.flags.updateEnvironmentIn(tx, at, ctx, spec.flag, spec.environment, expected, spec.config);
      if (spec.promotedFrom !== undefined) {
        const was = result.change.audit[0]?.before as Flag | undefined;
        result = { ...result, change: asPromotion(result, was && ownEntry(was.environments, spec.environment), spec.promotedFrom, spec.environment) };
      }
    } else {
      const stage = parseStage(spec.stage);
      if (!stage) throw AppError.invalid('body.stage', `unknown stage "${spec.stage}": use off, dogfood, or a percentage such as 10% (at most 3 decimals)`);
      result = await this.flags.stageIn(tx, at, ctx, spec.flag, spec.environment, stage, spec.variation, expected);
    }
    const after = result.value.value;
    const before = result.change.audit[0]?.before as Flag | undefined;
    return { version: after.version, base: after.version - 1, before: before ? (ownEntry(before.environments, spec.environment) ?? null) : null, after: ownEntry(after.environments, spec.environment) ?? null, change: result.change };
  }

  /**
   * Start or resume the flag's release plan through the releases service (the code the direct
   * routes run), pinned to the plan version the change was made against (`base`) or the current one
   * (`current`, a rebase) and to the flag version `expected`. Before and after: the flag's
   * configuration there (resuming may leave it as it is).
   */
  private async applyRelease(tx: Tx, at: number, ctx: AuditContext, spec: Extract<ChangeSpec, { type: 'release' }>, expected: number | undefined, pin: 'base' | 'current'): Promise<Applied> {
    const { repos } = this.w;
    const plan = await repos.plans.get(tx, spec.flag, spec.environment);
    if (!plan) throw AppError.notFound('release plan for flag', `${spec.flag}" in "${spec.environment}`);
    if (pin === 'base' && plan.version !== spec.planVersion) {
      throw new AppError('conflict', `the release plan of flag "${spec.flag}" in ${spec.environment} is at version ${plan.version}, not ${spec.planVersion} (last changed by ${plan.updatedBy}); read it again (GET …/release-plan) and use its version`);
    }
    const found = await repos.flags.get(tx, spec.flag);
    if (!found) throw AppError.notFound('flag', spec.flag);
    const before = ownEntry(found.value.environments, spec.environment) ?? null;
    const snapshot = snapshotOf(plan);
    const step = spec.action === 'start' ? await this.releases.steps.startIn(tx, at, plan, ctx, expected) : await this.releases.steps.resumeIn(tx, at, plan, ctx, expected);
    const now = (await repos.flags.get(tx, spec.flag))!.value;
    return { version: now.version, base: found.value.version, before, after: ownEntry(now.environments, spec.environment) ?? null, change: step.change, plan: snapshot };
  }

  /** The stored form of `specs` (with their diffs): applied in a transaction that is then rolled back. */
  async dryRun(specs: readonly ChangeSpec[], pin: 'base' | 'current'): Promise<RequestedChange[]> {
    let changes: RequestedChange[] = [];
    try {
      await this.w.db.transaction(async (tx) => {
        changes = [];
        const ctx: AuditContext = { actor: 'change-request', source: 'api' };
        await this.applyAll(tx, this.w.now(), ctx, specs, pin, (change) => void changes.push(change));
        throw new DryRun();
      });
    } catch (error) {
      if (!(error instanceof DryRun)) throw error;
    }
    return changes;
  }
}

/** What applying one change did: the resource's version after and before it, its before and after, what it records. */
interface Applied {
  version: number;
  base: number;
  before: unknown;
  after: unknown;
  change: Change;
  plan?: PlanSnapshot;
}

function snapshotOf(plan: ReleasePlan): PlanSnapshot {
  return {
    version: plan.version,
    status: plan.status,
    strategy: plan.spec.strategy,
    steps: plan.spec.steps.map((s) => s.percentage),
    guarded: plan.spec.guard !== null,
    currentStep: plan.status === 'paused' ? plan.currentStep : null,
  };
}

/** An error from one change, saying which one: a field's path becomes `body.changes.N.config.…` (or `.patch.…`). */
function inChange(error: unknown, index: number, spec: ChangeSpec): unknown {
  if (!(error instanceof AppError)) return error;
  const where = `changes.${index} (${describeResource(spec as RequestedChange)})`;
  if (error.code === 'validation_failed' && Array.isArray(error.details)) {
    const within = `body.changes.${index}${spec.type === 'targeting' ? '.config' : spec.type === 'segment' ? '.patch' : ''}`;
    const details = (error.details as { path: string; message: string }[]).map((d) => ({ ...d, path: d.path.replace(/^body(?=$|[.[])/, within) }));
    return new AppError('validation_failed', `${where}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
  }
  return new AppError(error.code, `${where}: ${error.message}`, error.details);
}
