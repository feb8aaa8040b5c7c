import type { AuditContext } from '../../domain/audit.js';
import {
  FINAL_STATUSES,
  MAX_COMMENTS,
  applyRefusal,
  approvalRefusal,
  isApproved,
  rebaseRefusal,
  rejectionRefusal,
  withdrawalRefusal,
  type ChangeRequest,
  type ChangeRequestQuery,
  type ChangeSpec,
  type Person,
  type PolicySettings,
  type Refusal,
} from '../../domain/change-requests.js';
import { AppError } from '../../domain/errors.js';
import type { WebhookEvent } from '../../domain/releases/webhooks.js';
import type { Tx } from '../../store/ports.js';
import type { FlagsService } from '../flags.service.js';
import type { ReleasesService } from '../releases/releases.service.js';
import type { SegmentsService } from '../segments.service.js';
import { RowMoved, combine, NO_CHANGE, type Change, type Writes } from '../write.js';
import { ChangeApplier } from './change-applier.js';
import { checkPatterns, normalize, type NewRequestInput } from './request-input.js';
import { policyOf, policyView, recorded, view, type ChangeRequestView, type PolicyContext, type PolicyView } from './request-records.js';

export type { NewRequestInput } from './request-input.js';
export type { ChangeRequestView, PolicyView } from './request-records.js';

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
  private readonly applier: ChangeApplier;

  constructor(
    private readonly w: Writes,
    flags: FlagsService,
    segments: SegmentsService,
    releases: ReleasesService,
  ) {
    this.applier = new ChangeApplier(w, flags, segments, releases);
  }

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
    const changes = await this.applier.dryRun(specs, 'base');
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
    const changes = await this.applier.dryRun(specs, 'current');
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
    const moved = await this.applier.movedSince(tx, request);
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
    await this.applier.applyAll(tx, at, { ...ctx, message }, request.changes, 'base', (_c, applied) => {
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
}
