import type { AuditContext } from '../domain/audit.js';
import { MAX_CHANGES, effectivePolicy, type Person, type ProposedChange, type TargetingPatch } from '../domain/change-requests.js';
import type { Role } from '../domain/credentials.js';
import type { Environment } from '../domain/environments.js';
import { AppError } from '../domain/errors.js';
import { segmentReferences } from '../domain/flag-defaults.js';
import { assertNoProblems, configProblems } from '../domain/flag-validation.js';
import { LIMITS, type Flag, type FlagEnvironment, type Managed } from '../domain/flags.js';
import { PROMOTED_FIELDS, planPromotion, promotionBlockers, promotionSummary, type PromotionBlocker, type PromotionPlan } from '../domain/promotion.js';
import type { ReleasePlan } from '../domain/releases/plans.js';
import { deriveStage, describeTargeting } from '../domain/stages.js';
import { checkVersion } from '../domain/versions.js';
import type { Tx } from '../store/ports.js';
import type { ChangeRequestView, ChangeRequestsService } from './change-requests/change-requests.service.js';
import { assertDirectWriteAllowed } from './change-requests/policy-guard.js';
import { configIn, lockedByGit, stageChangedWebhooks, type FlagsService } from './flags.service.js';
import { NO_CHANGE, combine, type Change, type Writes } from './write.js';

/**
 * What a promotion is: one flag, from one environment to another, planned against a version of the
 * flag. Where the target's approval policy requires review, a change request holds the promoted
 * configuration instead (`propose`), as a targeting change pinned to the version it was planned from.
 */
export interface PromotionRequest {
  flag: string;
  from: string;
  to: string;
  /** The flag version the promotion was previewed against: a change since is a 409 (undefined: the current state). */
  version?: number;
}

/** A plan with what stands in its way and what it was planned against. */
export interface PromotionPreview {
  plan: PromotionPlan;
  /** The flag's version the plan was made from (send it back to promote exactly this). */
  version: number;
  managedBy: string | null;
  from: Environment;
  to: Environment;
  blockers: PromotionBlocker[];
  /** A few words for lists ("off → 10%, 1 rule"); empty when there is nothing to promote. */
  summary: string;
}

export interface PromotionResult {
  preview: PromotionPreview;
  flag: Managed<Flag>;
  /** False when there was nothing to promote: nothing was written or audited. */
  changed: boolean;
}

/** One row of "compare every flag between two environments". */
export interface FlagComparison {
  flag: Pick<Flag, 'key' | 'name' | 'archived' | 'version'>;
  managedBy: string | null;
  differs: boolean;
  summary: string;
  /** Readable lines (the plan's `changes`). */
  changes: string[];
  stage: { from: string; to: string };
  blockers: PromotionBlocker[];
}

/** An admin's bypass of the target's approval policy (where it allows one): the reason is audited. */
export interface PromotionBypass {
  reason: string;
  role: Role;
}

/** What `propose` did: the request it opened, or none when nothing differed. */
export interface PromotionProposal {
  previews: PromotionPreview[];
  request: ChangeRequestView | undefined;
}

export const PROMOTED_ACTION = 'flag.promoted';
const PROMOTED: ReadonlySet<string> = new Set([PROMOTED_ACTION]);

const PROPOSE_INSTEAD = 'promote with ?changeRequest=true to open a change request holding the promotion (CLI: switchyard promote … --request), or, where the policy allows it, as an admin with "bypassApproval" and a reason';

/** Promotion of a flag's targeting between environments (see domain/promotion.ts for what moves). */
export class PromotionsService {
  constructor(
    private readonly w: Writes,
    private readonly flags: FlagsService,
    private readonly changeRequests?: ChangeRequestsService,
  ) {}

  /** The diff a promotion would apply now, and what would refuse it; writes nothing. */
  async preview(request: PromotionRequest): Promise<PromotionPreview> {
    return this.w.read(async (tx) => {
      const found = await this.w.repos.flags.get(tx, request.flag);
      if (!found) throw AppError.notFound('flag', request.flag);
      return this.previewIn(tx, found, request.from, request.to);
    });
  }

  /** Promote one flag in its own transaction: one audit entry, one change-feed entry. */
  async promote(request: PromotionRequest, ctx: AuditContext, bypass?: PromotionBypass): Promise<PromotionResult> {
    return this.w.write(ctx, async (tx, at) => this.promoteIn(tx, at, await this.governed(tx, ctx, request.flag, request.to, bypass), request));
  }

  /**
   * Promote several flags from one environment to another, all or nothing: one transaction, an audit
   * entry per flag, one change-feed entry. The first refusal (naming its flag) refuses them all.
   */
  async promoteMany(from: string, to: string, requests: readonly Omit<PromotionRequest, 'from' | 'to'>[], ctx: AuditContext, bypass?: PromotionBypass): Promise<PromotionResult[]> {
    assertListedOnce(requests);
    return this.w.write(ctx, async (tx, at) => {
      const results: PromotionResult[] = [];
      let change: Change = NO_CHANGE;
      const what = requests.length === 1 ? requests[0]!.flag : `${requests.length} flags`;
      const governed = await this.governed(tx, ctx, what, to, bypass);
      for (const request of requests) {
        const one = await this.promoteIn(tx, at, governed, { ...request, from, to });
        results.push(one.value);
        change = combine(change, one.change);
      }
      return { value: results, change };
    });
  }

  /**
   * Open ONE change request holding the promotion of every listed flag that differs: for each, the
   * promoted fields of the target's configuration as a targeting change, pinned to the flag version
   * it was planned from (a pinned `version` that moved since is refused here). Applying it is then
   * atomic and refused when any of the flags changed since, like any other request. Refused like a
   * direct promotion when one of them cannot be promoted now (Git-managed, killed, release running).
   */
  async propose(
    from: string,
    to: string,
    requests: readonly Omit<PromotionRequest, 'from' | 'to'>[],
    text: { title?: string; description?: string },
    person: Person,
    ctx: AuditContext,
  ): Promise<PromotionProposal> {
    if (!this.changeRequests) throw new Error('PromotionsService: change requests are not wired');
    assertListedOnce(requests);
    const previews = await this.w.read(async (tx) => {
      const found: PromotionPreview[] = [];
      for (const request of requests) {
        const flag = await this.w.repos.flags.get(tx, request.flag);
        if (!flag) throw AppError.notFound('flag', request.flag);
        const preview = await this.previewIn(tx, flag, from, to);
        checkVersion(`flag "${request.flag}"`, flag.value, request.version);
        const blocker = preview.blockers[0];
        if (!preview.plan.upToDate && blocker) throw blockerError(blocker, request.flag, flag.managedBy);
        found.push(preview);
      }
      return found;
    });
    const differing = previews.filter((p) => !p.plan.upToDate);
    if (differing.length === 0) return { previews, request: undefined };
    if (differing.length > MAX_CHANGES) {
      throw AppError.invalid('body.flags', `${differing.length} flags differ; a change request holds at most ${MAX_CHANGES} changes: promote them in several requests`);
    }
    const changes: ProposedChange[] = differing.map((p) => ({ type: 'targeting', flag: p.plan.flag, config: promotedFields(p.plan), baseVersion: p.version, promotedFrom: from }));
    const first = differing[0]!;
    const named = differing.length === 1 ? first.plan.flag : `${differing.length} flags`;
    const title = (text.title?.trim() || `Promote ${named} from ${first.from.key} to ${first.to.key}`).slice(0, LIMITS.name);
    const description = text.description ?? differing.map((p) => `${p.plan.flag}: ${p.summary}`).join('\n').slice(0, LIMITS.description);
    const request = await this.changeRequests.create({ title, description, environment: to, changes }, person, ctx);
    return { previews, request };
  }

  /**
   * The target's approval policy, checked in the write's transaction: no policy → `ctx`; a required
   * one → 409 `approval_required`, unless an admin bypasses it where the policy allows, which
   * notes the reason in every audit entry.
   */
  private async governed(tx: Tx, ctx: AuditContext, what: string, to: string, bypass: PromotionBypass | undefined): Promise<AuditContext> {
    if (bypass === undefined) {
      await assertDirectWriteAllowed(this.w.repos, tx, `promoting ${what}`, to, PROPOSE_INSTEAD);
      return ctx;
    }
    const policy = await this.w.repos.approvalPolicies.get(tx, to);
    if (!policy?.required) return ctx;
    if (bypass.role !== 'admin') throw new AppError('forbidden', `only an admin can bypass approvals; this ${bypass.role} token must promote with ?changeRequest=true (switchyard promote … --request) instead`);
    if (!effectivePolicy([policy]).adminBypass) {
      throw new AppError('forbidden', `the approval policy of ${to} does not allow admins to bypass approvals; promote with ?changeRequest=true (switchyard promote … --request) instead`);
    }
    const note = `approvals in ${to} bypassed by ${ctx.actor}: ${bypass.reason}`;
    return { ...ctx, message: ctx.message ? `${ctx.message} (${note})` : note };
  }

  /**
   * The promotion inside a transaction the caller opened (a bulk promotion, a change request's
   * apply): refusals are thrown before anything is written, so the caller's transaction rolls back.
   */
  async promoteIn(tx: Tx, at: number, ctx: AuditContext, request: PromotionRequest): Promise<{ value: PromotionResult; change: Change }> {
    const { repos } = this.w;
    const found = await repos.flags.get(tx, request.flag);
    if (!found) throw AppError.notFound('flag', request.flag);
    const first = await this.previewIn(tx, found, request.from, request.to);
    if (found.managedBy !== null) throw lockedByGit('flag', request.flag, found.managedBy);
    checkVersion(`flag "${request.flag}"`, found.value, request.version);
    if (first.plan.upToDate) return { value: { preview: first, flag: found, changed: false }, change: NO_CHANGE };

    let preview = first;
    const options = { action: PROMOTED_ACTION, environment: request.to };
    // changeIn reads the flag again (locked when no version is pinned): the plan is made from that state.
    const changed = await this.flags.changeIn(tx, at, ctx, request.flag, request.version, options, async (flag) => {
      preview = flag.version === found.value.version ? first : await this.previewIn(tx, { value: flag, managedBy: found.managedBy }, request.from, request.to);
      const blocker = preview.blockers[0];
      if (blocker) throw blockerError(blocker, request.flag, found.managedBy);
      const { after } = preview.plan;
      const segments = await repos.segments.existing(tx, [...segmentReferences({ environments: { [request.to]: after } })]);
      assertNoProblems(configProblems(after, new Set(flag.variations.map((v) => v.key)), segments, `environments.${request.to}`));
      return { ...flag, environments: { ...flag.environments, [request.to]: after } };
    });
    const after = changed.value.value;
    const change = asPromotion(changed, preview.plan.before, request.from, request.to);
    return { value: { preview: { ...preview, version: after.version }, flag: changed.value, changed: true }, change };
  }

  /** Every flag (archived ones aside) compared between two environments, in key order. */
  async compare(from: string, to: string): Promise<{ from: Environment; to: Environment; items: FlagComparison[] }> {
    return this.w.read(async (tx) => {
      const { repos } = this.w;
      const environments = await repos.environments.list(tx);
      const [a, b] = [environmentIn(environments, from), environmentIn(environments, to)];
      if (from === to) throw AppError.invalid('query.to', `"${to}" is also the environment to compare with: choose two different environments`);
      const running = new Map((await repos.plans.list(tx, ['running'])).filter((p) => p.environment === to).map((p) => [p.flagKey, p]));
      const name = nameOf(environments);
      const flags = (await repos.flags.list(tx)).filter((f) => !f.value.archived).sort((x, y) => (x.value.key < y.value.key ? -1 : 1));
      const items = flags.map(({ value: flag, managedBy }): FlagComparison => {
        const plan = planPromotion(flag, from, to);
        const blockers = plan.upToDate ? [] : promotionBlockers(flag, plan, { managedBy, runningPlan: runningPlan(running.get(flag.key)), name });
        return {
          flag: { key: flag.key, name: flag.name, archived: flag.archived, version: flag.version },
          managedBy,
          differs: !plan.upToDate,
          summary: promotionSummary(plan),
          changes: plan.changes.map((c) => c.text),
          stage: { from: describeTargeting(configIn(flag, from)).summary, to: plan.stage.before },
          blockers,
        };
      });
      return { from: a, to: b, items };
    });
  }

  private async previewIn(tx: Tx, found: Managed<Flag>, from: string, to: string): Promise<PromotionPreview> {
    const { repos } = this.w;
    const environments = await repos.environments.list(tx);
    const plan = planPromotion(found.value, from, to);
    const active = await repos.plans.get(tx, found.value.key, to);
    const name = nameOf(environments);
    const blockers = promotionBlockers(found.value, plan, { managedBy: found.managedBy, runningPlan: runningPlan(active), name });
    return {
      plan,
      version: found.value.version,
      managedBy: found.managedBy,
      from: environmentIn(environments, from),
      to: environmentIn(environments, to),
      blockers,
      summary: promotionSummary(plan),
    };
  }
}

function assertListedOnce(requests: readonly { flag: string }[]): void {
  const keys = requests.map((r) => r.flag);
  const twice = keys.find((key, i) => keys.indexOf(key) !== i);
  if (twice !== undefined) throw AppError.invalid('body.flags', `flag "${twice}" is listed twice`);
}

/**
 * The promoted fields of the planned configuration, as a targeting patch: applying it at the planned
 * version gives exactly the plan's `after` (the target keeps its salt, kill state and guard marker).
 */
function promotedFields(plan: PromotionPlan): TargetingPatch {
  const config: Record<string, unknown> = {};
  for (const field of PROMOTED_FIELDS) config[field] = structuredClone(plan.after[field]);
  // A patch cannot leave a field out to clear it: none is written as an empty list (stored as none).
  config.prerequisites ??= [];
  return config as TargetingPatch;
}

function runningPlan(plan: ReleasePlan | undefined): Parameters<typeof promotionBlockers>[2]['runningPlan'] {
  if (plan?.status !== 'running') return null;
  return { currentStep: plan.currentStep, steps: plan.spec.steps.length, percentage: plan.spec.steps[plan.currentStep]?.percentage };
}

function environmentIn(environments: readonly Environment[], key: string): Environment {
  const found = environments.find((e) => e.key === key);
  if (!found) throw AppError.notFound('environment', key);
  return found;
}

const nameOf = (environments: readonly Environment[]) => (key: string) => environments.find((e) => e.key === key)?.name || key;

function blockerError(blocker: PromotionBlocker, key: string, managedBy: string | null): AppError {
  if (blocker.code === 'managed_by_git' && managedBy !== null) return lockedByGit('flag', key, managedBy);
  return new AppError('conflict', blocker.message, { reason: blocker.code });
}

/**
 * A targeting change that is a promotion — made directly, or held by a change request and applied
 * with it — as one: audited as `flag.promoted`, the entry's `after` also saying where the targeting
 * came from (the audit sentence and API readers use it), and `flag.stage_changed` webhooks when the
 * target's stage moved. `before`: the target's configuration before the change.
 */
export function asPromotion(changed: { value: { value: Flag }; change: Change }, before: FlagEnvironment | undefined, from: string, to: string): Change {
  const after = changed.value.value;
  const audit = changed.change.audit.map((entry) => ({ ...entry, action: PROMOTED_ACTION, after: { ...after, promotion: { from, to } } }));
  const config = after.environments[to];
  const stageMoved = before === undefined || config === undefined || deriveStage(before) !== deriveStage(config);
  return { ...changed.change, audit, webhooks: stageMoved ? (entries) => stageChangedWebhooks(entries, after, to, PROMOTED) : undefined };
}

