import type { AuditContext, AuditEntry } from '../../domain/audit.js';
import {
  FINAL_STATUSES,
  MAX_COMMENTS,
  NO_POLICY,
  applyRefusal,
  approvalRefusal,
  countedApprovals,
  describeResource,
  effectivePolicy,
  governedBy,
  isApproved,
  rebaseRefusal,
  rejectionRefusal,
  resourceOf,
  withdrawalRefusal,
  type ApprovalPolicy,
  type ChangeRequest,
  type ChangeRequestQuery,
  type ChangeSpec,
  type Person,
  type PlanSnapshot,
  type PolicySettings,
  type Refusal,
  type RequestedChange,
  type RequestedChangeInput,
} from '../../domain/change-requests.js';
import { AppError } from '../../domain/errors.js';
import { matchesPatterns } from '../../domain/flag-validation.js';
import { ownEntry, type Flag } from '../../domain/flags.js';
import { webhookMessage, type WebhookEvent } from '../../domain/releases/webhooks.js';
import type { ReleasePlan } from '../../domain/releases/plans.js';
import type { Segment } from '../../domain/segments.js';
import { parseStage } from '../../domain/stages.js';
import type { Tx } from '../../store/ports.js';
import type { FlagsService } from '../flags.service.js';
import type { ReleasesService } from '../releases/releases.service.js';
import { assertSafePatterns } from '../pattern-safety.js';
import type { SegmentsService } from '../segments.service.js';
import { RowMoved, combine, NO_CHANGE, type Change, type Writes } from '../write.js';

export interface NewRequestInput {
  title: string;
  description?: string;
  environment: string;
  changes: RequestedChangeInput[];
}

/** A request with the policy that governs it now (the strictest of the environments it touches). */
export interface ChangeRequestView {
  request: ChangeRequest;
  policy: PolicySettings;
  counted: number;
}

/** A stored policy, or the absence of one (version 0: changes are written directly). */
export type PolicyView = PolicySettings & { environment: string; version: number; updatedAt: number | null; updatedBy: string | null };

/** Thrown to roll back a dry run: the diff of a request is computed by the code that will apply it. */
class DryRun extends Error {}

const refuse = (refusal: Refusal | undefined): void => {
  if (refusal) throw new AppError(refusal.code, refusal.message);
};

/**
 * Change requests and approval policies (domain/change-requests.ts). A request's changes are
 * applied through the same service methods the direct routes use (`…In` variants that run inside
 * this transaction), with the versions they were made against: all of them commit, with the
 * request's new status, or none do.
 */
export class ChangeRequestsService {
  constructor(
    private readonly w: Writes,
    private readonly flags: FlagsService,
    private readonly segments: SegmentsService,
    private readonly releases: ReleasesService,
  ) {}

  // ----- policies ------------------------------------------------------------------------------

  async policies(): Promise<PolicyView[]> {
    return this.w.read(async (tx) => {
      const stored = new Map((await this.w.repos.approvalPolicies.list(tx)).map((p) => [p.environment, p]));
      return (await this.w.repos.environments.list(tx)).map((e) => policyView(e.key, stored.get(e.key)));
    });
  }

  async policy(environment: string): Promise<PolicyView> {
    return this.w.read(async (tx) => {
      if (!(await this.w.repos.environments.get(tx, environment))) throw AppError.notFound('environment', environment);
      return policyView(environment, await this.w.repos.approvalPolicies.get(tx, environment));
    });
  }

  async setPolicy(environment: string, settings: PolicySettings, expected: number | undefined, ctx: AuditContext): Promise<PolicyView> {
    const normalized: PolicySettings = { ...settings, approverRoles: [...new Set(settings.approverRoles)] };
    return this.w.write(ctx, async (tx, at) => {
      const { repos } = this.w;
      if (!(await repos.environments.get(tx, environment))) throw AppError.notFound('environment', environment);
      const before = await repos.approvalPolicies.get(tx, environment);
      if (expected !== undefined && (before?.version ?? 0) !== expected) {
        throw AppError.versionConflict(`the approval policy of ${environment}`, before?.version ?? 0, before?.updatedBy, before ? new Date(before.updatedAt).toISOString() : undefined);
      }
      // A first policy has no version to pin; a replacement pins the one read, so two admins never silently overwrite each other.
      const after = await repos.approvalPolicies.put(tx, environment, normalized, before?.version, at, ctx.actor);
      if (!after) throw new RowMoved(`the approval policy of ${environment}`);
      const change: Change = { audit: [{ action: 'environment.approval_policy_changed', resourceType: 'environment', resourceKey: environment, environment, before: before ?? null, after }] };
      return { value: policyView(environment, after), change };
    });
  }

  // ----- reading -------------------------------------------------------------------------------

  async list(query: ChangeRequestQuery): Promise<ChangeRequestView[]> {
    return this.w.read(async (tx) => {
      const requests = await this.w.repos.changeRequests.list(tx, query);
      const context = await this.policyContext(tx);
      return requests.map((request) => view(request, context));
    });
  }

  async get(id: number): Promise<ChangeRequestView> {
    return this.w.read(async (tx) => {
      const request = await this.w.repos.changeRequests.get(tx, id);
      if (!request) throw AppError.notFound('change request', id);
      return view(request, await this.policyContext(tx));
    });
  }

  // ----- writing -------------------------------------------------------------------------------

  async create(input: NewRequestInput, person: Person, ctx: AuditContext): Promise<ChangeRequestView> {
    const specs = normalize(input);
    await checkPatterns(specs);
    // The diff is what applying the changes now, at their base versions, would do (then rolled back):
    // it validates them with the very code that will apply them.
    const changes = await this.dryRun(specs, 'base');
    return this.w.write(ctx, async (tx, at) => {
      if (!(await this.w.repos.environments.get(tx, input.environment))) throw AppError.notFound('environment', input.environment);
      const request = await this.w.repos.changeRequests.insert(tx, {
        title: input.title,
        description: input.description ?? '',
        environment: input.environment,
        status: 'open',
        changes,
        approvals: [],
        comments: [],
        author: person.actor,
        authorTokenId: person.tokenId,
        createdAt: at,
        updatedAt: at,
        version: 1,
        resolvedBy: null,
        resolvedAt: null,
        reason: null,
        bypassed: false,
      });
      const context = await this.policyContext(tx);
      return { value: view(request, context), change: recorded('change_request.created', null, request, 'change_request.requested') };
    });
  }

  async comment(id: number, body: string, person: Person, ctx: AuditContext): Promise<ChangeRequestView> {
    return this.update(id, ctx, (request, at) => {
      if (request.comments.length >= MAX_COMMENTS) throw new AppError('conflict', `change request ${id} has ${MAX_COMMENTS} comments, the most it may have`);
      return { next: { ...request, comments: [...request.comments, { actor: person.actor, at, body }] }, action: 'change_request.commented' };
    });
  }

  async approve(id: number, person: Person, ctx: AuditContext): Promise<ChangeRequestView> {
    return this.update(id, ctx, (request, at, policy) => {
      refuse(approvalRefusal(policy, request, person));
      const approvals = [...request.approvals, { actor: person.actor, tokenId: person.tokenId, role: person.role, at }];
      const next: ChangeRequest = { ...request, approvals, status: isApproved(policy, { ...request, approvals }) ? 'approved' : 'open' };
      return { next, action: 'change_request.approved', webhook: 'change_request.approved' };
    });
  }

  async reject(id: number, reason: string, person: Person, ctx: AuditContext): Promise<ChangeRequestView> {
    return this.update(id, ctx, (request, at, policy) => {
      refuse(rejectionRefusal(policy, request, person));
      return { next: { ...request, status: 'rejected', resolvedBy: person.actor, resolvedAt: at, reason }, action: 'change_request.rejected', webhook: 'change_request.rejected' };
    });
  }

  async withdraw(id: number, reason: string | undefined, person: Person, ctx: AuditContext): Promise<ChangeRequestView> {
    return this.update(id, ctx, (request, at) => {
      refuse(withdrawalRefusal(request, person));
      return { next: { ...request, status: 'withdrawn', resolvedBy: person.actor, resolvedAt: at, reason: reason ?? null }, action: 'change_request.withdrawn' };
    });
  }

  /**
   * Re-base the request onto the current versions of what it touches: its diffs are recomputed and
   * its approvals start over (they approved the old diff, not this one).
   */
  async rebase(id: number, person: Person, ctx: AuditContext): Promise<ChangeRequestView> {
    const current = (await this.get(id)).request;
    refuse(rebaseRefusal(current, person));
    const specs: ChangeSpec[] = current.changes.map(({ before: _b, after: _a, plan: _p, ...spec }) => spec as ChangeSpec);
    await checkPatterns(specs);
    const changes = await this.dryRun(specs, 'current');
    return this.update(id, ctx, (request) => {
      refuse(rebaseRefusal(request, person));
      // Changed (approved, commented) between the dry run and now: its changes are the same, so the rebase stands.
      return { next: { ...request, changes, approvals: [], status: 'open' }, action: 'change_request.rebased' };
    });
  }

  /**
   * Apply every change, with the version it was made against, in one transaction with the request's
   * move to `applied`. Refused (409, naming them) when anything it touches changed since.
   */
  async apply(id: number, bypassReason: string | undefined, person: Person, ctx: AuditContext): Promise<ChangeRequestView> {
    const stored = (await this.get(id)).request;
    await checkPatterns(stored.changes);
    return this.w.write(ctx, (tx, at) => this.applyIn(tx, at, ctx, id, bypassReason, person));
  }

  /**
   * `apply` inside a transaction the caller opened (a scheduled apply claims its schedule in the
   * same transaction). The caller has checked the changes' patterns (they were when it was made).
   */
  async applyIn(tx: Tx, at: number, ctx: AuditContext, id: number, bypassReason: string | undefined, person: Person): Promise<{ value: ChangeRequestView; change: Change }> {
    const { repos } = this.w;
    // Locked first: of two applies at once, the second waits here, then finds it applied.
    const request = await repos.changeRequests.get(tx, id, { forUpdate: true });
    if (!request) throw AppError.notFound('change request', id);
    const context = await this.policyContext(tx);
    const policy = policyOf(request, context);
    refuse(applyRefusal(policy, request, person, bypassReason));
    const moved = await this.movedSince(tx, request);
    if (moved.length > 0) {
      const what = moved.map((m) => `${m.what} (version ${m.baseVersion} → ${m.currentVersion}${m.by ? `, last changed by ${m.by}` : ''})`).join(', ');
      throw new AppError(
        'conflict',
        `change request ${id} cannot be applied: ${what} changed since it was made; rebase it (POST /api/change-requests/${id}/rebase, or "switchyard requests rebase ${id}") to review the new diff — its approvals then start over`,
        { changed: moved },
      );
    }
    const bypassed = bypassReason !== undefined && !isApproved(policy, request);
    // A scheduled apply keeps who scheduled it (the scheduler's own message) in every entry.
    const scheduled = ctx.source === 'scheduler' && ctx.message ? ` — ${ctx.message}` : '';
    const message = `change request #${id}: ${request.title}${bypassed ? ` (approvals bypassed by ${person.actor}: ${bypassReason})` : ''}${scheduled}`;
    let change: Change = NO_CHANGE;
    await this.applyAll(tx, at, { ...ctx, message }, request.changes, 'base', (_c, applied) => {
      change = combine(change, applied);
    });
    const next: ChangeRequest = { ...request, status: 'applied', resolvedBy: person.actor, resolvedAt: at, bypassed, reason: bypassed ? bypassReason! : request.reason, updatedAt: at, version: request.version + 1 };
    if (!(await repos.changeRequests.update(tx, next, request.version))) throw new RowMoved(`change request ${id}`);
    const own = recorded('change_request.applied', request, next, 'change_request.applied', bypassed ? `approvals bypassed: ${bypassReason}` : undefined);
    return { value: view(next, context), change: combine(change, own) };
  }

  // ----- internals -----------------------------------------------------------------------------

  /** Read-modify-write of a request's own fields, conditional on its version (retried when it moved). */
  private update(
    id: number,
    ctx: AuditContext,
    fn: (request: ChangeRequest, at: number, policy: PolicySettings) => { next: ChangeRequest; action: string; webhook?: WebhookEvent },
  ): Promise<ChangeRequestView> {
    return this.w.write(ctx, async (tx, at) => {
      const request = await this.w.repos.changeRequests.get(tx, id);
      if (!request) throw AppError.notFound('change request', id);
      const context = await this.policyContext(tx);
      const { next, action, webhook } = fn(request, at, policyOf(request, context));
      const stored = { ...next, updatedAt: at, version: request.version + 1 };
      if (!(await this.w.repos.changeRequests.update(tx, stored, request.version))) throw new RowMoved(`change request ${id}`);
      return { value: view(stored, context), change: recorded(action, request, stored, webhook, FINAL_STATUSES.includes(stored.status) ? (stored.reason ?? undefined) : undefined) };
    });
  }

  private async policyContext(tx: Tx): Promise<PolicyContext> {
    const policies = new Map((await this.w.repos.approvalPolicies.list(tx)).map((p) => [p.environment, p]));
    return { policies, environments: (await this.w.repos.environments.list(tx)).map((e) => e.key) };
  }

  /** What the request touches that is no longer at the version it was made against. */
  private async movedSince(tx: Tx, request: ChangeRequest): Promise<{ type: 'flag' | 'segment' | 'release-plan'; key: string; what: string; baseVersion: number; currentVersion: number | null; by: string | null }[]> {
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
  private async applyAll(tx: Tx, at: number, ctx: AuditContext, specs: readonly ChangeSpec[], pin: 'base' | 'current', each: (change: RequestedChange, recorded: Change) => void): Promise<void> {
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
    const step = spec.action === 'start' ? await this.releases.startIn(tx, at, plan, ctx, expected) : await this.releases.resumeIn(tx, at, plan, ctx, expected);
    const now = (await repos.flags.get(tx, spec.flag))!.value;
    return { version: now.version, base: found.value.version, before, after: ownEntry(now.environments, spec.environment) ?? null, change: step.change, plan: snapshot };
  }

  /** The stored form of `specs` (with their diffs): applied in a transaction that is then rolled back. */
  private async dryRun(specs: readonly ChangeSpec[], pin: 'base' | 'current'): Promise<RequestedChange[]> {
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

interface PolicyContext {
  policies: Map<string, ApprovalPolicy>;
  environments: string[];
}

function policyView(environment: string, stored: ApprovalPolicy | undefined): PolicyView {
  if (!stored) return { environment, ...NO_POLICY, version: 0, updatedAt: null, updatedBy: null };
  return { ...stored };
}

function policyOf(request: ChangeRequest, context: PolicyContext): PolicySettings {
  return effectivePolicy(governedBy(request, context.environments).map((env) => context.policies.get(env) ?? NO_POLICY));
}

function view(request: ChangeRequest, context: PolicyContext): ChangeRequestView {
  const policy = policyOf(request, context);
  return { request, policy, counted: countedApprovals(policy, request).length };
}

/** The audit entry (and webhook) of a change to a request itself. */
function recorded(action: string, before: ChangeRequest | null, after: ChangeRequest, webhook?: WebhookEvent, message?: string): Change {
  return {
    audit: [{ action, resourceType: 'change_request', resourceKey: String(after.id), environment: after.environment, before, after, ...(message !== undefined ? { message } : {}) }],
    webhooks: webhook ? (audit) => requestWebhooks(webhook, audit, after) : undefined,
  };
}

function requestWebhooks(event: WebhookEvent, audit: readonly AuditEntry[], request: ChangeRequest) {
  const entry = audit.find((a) => a.resourceType === 'change_request' && a.resourceKey === String(request.id));
  if (!entry) return [];
  return [
    webhookMessage(event, entry.at, {
      id: request.id,
      title: request.title,
      environment: request.environment,
      status: request.status,
      author: request.author,
      actor: entry.actor,
      approvals: request.approvals.map((a) => a.actor),
      reason: request.reason,
      bypassed: request.bypassed,
      changes: request.changes.map((c) => (c.type === 'segment' ? { type: c.type, segment: c.segment } : { type: c.type, flag: c.flag, environment: c.environment })),
      auditId: entry.id,
    }),
  ];
}

/** The request's changes with their environments filled in and checked. */
function normalize(input: NewRequestInput): ChangeSpec[] {
  const bases = new Map<string, number>();
  return input.changes.map((change, i) => {
    const path = `body.changes.${i}`;
    if (change.type === 'stage' && change.stage.trim() === 'kill') {
      throw AppError.invalid(`${path}.stage`, 'the kill switch never needs a change request: use POST /api/flags/{key}/environments/{env}/kill');
    }
    if (change.type !== 'segment' && change.environment !== undefined && change.environment !== input.environment) {
      throw AppError.invalid(`${path}.environment`, `"${change.environment}" is not the request's environment (${input.environment}); one request changes one environment (make one request per environment)`);
    }
    const resource = resourceOf(change);
    const base = bases.get(resource);
    if (base !== undefined && base !== change.baseVersion) {
      throw AppError.invalid(`${path}.baseVersion`, `${resource.replace(':', ' "')}" appears twice with different base versions (${base} and ${change.baseVersion}); changes to one resource are made against the version you read`);
    }
    bases.set(resource, change.baseVersion);
    if (change.type === 'segment') return change;
    return { ...change, environment: input.environment };
  });
}

async function checkPatterns(specs: readonly ChangeSpec[]): Promise<void> {
  await assertSafePatterns(
    specs.flatMap((c, i) => {
      if (c.type === 'targeting' && c.config.rules) return matchesPatterns(c.config.rules, `body.changes.${i}.config.`);
      if (c.type === 'segment' && c.patch.rules) return matchesPatterns(c.patch.rules, `body.changes.${i}.patch.`);
      return [];
    }),
  );
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
