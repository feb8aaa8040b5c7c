import { AppError } from '../../domain/errors.js';
import { MAX_CHANGES, type ApprovalPolicy, type Person, type RequestedChangeInput } from '../../domain/change-requests.js';
import { defaultFlagEnvironment } from '../../domain/flag-defaults.js';
import { ownEntry, type Flag, type NewFlag } from '../../domain/flags.js';
import { governedChanges, governingEnvironments, gitopsApprovalMessage, policyOver, describeGoverned, type GovernedChange } from '../../domain/gitops/governance.js';
import type { BatchOp } from '../../domain/gitops/plan.js';
import { sameJson } from '../../domain/audit-revert.js';
import type { NewSegment, Segment } from '../../domain/segments.js';
import type { Tx } from '../../store/ports.js';
import type { ChangeRequestsService } from '../change-requests/change-requests.service.js';
import type { Writes } from '../write.js';
import type { ApplyOptions, ProposedRequest } from './apply-options.js';
import { raced } from './batch-writer.js';

/** What the approval check decided for a plan: the ops to apply now, and what else to do. */
export interface Governance {
  ops: BatchOp[];
  governed: GovernedChange[];
  /** Environments bypassed, and the note every audit entry gets. */
  bypass?: { environments: string[]; note: string };
  /** The governed parts as change requests, made after the rest is applied. */
  requests?: { title: string; description?: string; person: Person; flags: Map<string, NewFlag>; segments: Map<string, NewSegment> };
}

/** Approval policies over a GitOps apply: what may be written now, what is proposed as change requests instead. */
export class GitOpsApprovals {
  constructor(
    private readonly w: Writes,
    private readonly changeRequests?: ChangeRequestsService,
  ) {}

  /**
   * Whether `ops` may be applied as they are, given the approval policies: what to apply now, and
   * what to propose or note instead. Throws 409 `approval_required` (or 403 for a bypass not allowed).
   */
  async governance(tx: Tx, ops: readonly BatchOp[], options: ApplyOptions): Promise<Governance> {
    const { repos } = this.w;
    const policies = new Map<string, ApprovalPolicy>((await repos.approvalPolicies.list(tx)).filter((p) => p.required).map((p) => [p.environment, p]));
    if (policies.size === 0) return { ops: [...ops], governed: [] };
    const flags = new Map<string, Flag>();
    const segments = new Map<string, Segment>();
    for (const op of ops) {
      if (op.kind === 'flag.update') {
        const found = await repos.flags.get(tx, op.flag.key);
        if (found) flags.set(op.flag.key, found.value);
      } else if (op.kind === 'segment.update') {
        const found = await repos.segments.get(tx, op.segment.key);
        if (found) segments.set(op.segment.key, found.value);
      }
    }
    const required = new Set(policies.keys());
    const governed = governedChanges(ops, flags, segments, required);
    if (governed.length === 0) return { ops: [...ops], governed };
    const environments = governingEnvironments(governed, required);
    const policy = policyOver(environments, policies);
    const approval = options.approval;
    if (approval && 'bypass' in approval) {
      if (approval.by === 'admin') {
        if (options.role !== 'admin') throw new AppError('forbidden', `only an admin can bypass approvals; this ${options.role} token must propose the changes as change requests instead ("changeRequest" in the body, or switchyard apply FILE --request "title")`);
        if (!policy.adminBypass) {
          throw new AppError('forbidden', `the approval ${environments.length === 1 ? 'policy' : 'policies'} of ${environments.join(', ')} ${environments.length === 1 ? 'does' : 'do'} not allow admins to bypass approvals; propose the changes as change requests instead (switchyard apply FILE --request "title")`);
        }
      }
      const who = approval.by === 'sync' ? 'the Git sync (--sync-bypass-approvals)' : options.audit.actor;
      return { ops: [...ops], governed, bypass: { environments, note: `approvals in ${environments.join(', ')} bypassed by ${who}: ${approval.bypass}` } };
    }
    if (approval && 'request' in approval) {
      if (!this.changeRequests) throw new Error('GitOpsService: change requests are not wired');
      if (options.manage) throw new AppError('conflict', 'the Git sync cannot propose change requests');
      const byEnvironment = groupRequests(governed, environments);
      for (const [environment, changes] of byEnvironment) {
        if (changes.length > MAX_CHANGES) {
          throw AppError.invalid('body.changeRequest', `the file changes ${changes.length} flags and segments that need approval in ${environment}; a change request holds at most ${MAX_CHANGES}: split the file into smaller applies`);
        }
      }
      const desiredFlags = new Map<string, NewFlag>();
      const desiredSegments = new Map<string, NewSegment>();
      for (const op of ops) {
        if (op.kind === 'flag.update' || op.kind === 'flag.create') desiredFlags.set(op.flag.key, op.flag);
        else if (op.kind === 'segment.update') desiredSegments.set(op.segment.key, op.segment);
      }
      return { ops: withoutGoverned(ops, governed, flags), governed, requests: { ...approval.request, person: approval.person, flags: desiredFlags, segments: desiredSegments } };
    }
    if (approval && 'sync' in approval) {
      throw new AppError(
        'approval_required',
        `the sync file changes ${describeGoverned(governed)}, where changes need ${policy.approvals} approval${policy.approvals === 1 ? '' : 's'} (the approval policy of ${environments.join(', ')}); nothing was applied. With Git as the source of truth, review happens there: protect the branch (required reviews), then start the server with --sync-bypass-approvals "REASON" (recorded in the audit log), or remove the policy`,
        { environments, governed },
      );
    }
    throw new AppError('approval_required', gitopsApprovalMessage(governed, environments, policy), { environments, approvals: policy.approvals, governed });
  }

  /**
   * The governed parts of an apply as change requests, one per environment (segment changes go with
   * the first), made against the versions the apply left. Each request is validated by the code that
   * will apply it (ChangeRequestsService.create).
   */
  async propose(governance: Governance, options: ApplyOptions): Promise<ProposedRequest[]> {
    const { requests: proposal } = governance;
    if (!proposal || !this.changeRequests) return [];
    const required = new Set(governance.governed.flatMap((g) => (g.environment === null ? [] : [g.environment])));
    const environments = governingEnvironments(governance.governed, required.size > 0 ? required : new Set((await this.w.read((tx) => this.w.repos.approvalPolicies.list(tx))).filter((p) => p.required).map((p) => p.environment)));
    const groups = groupRequests(governance.governed, environments);
    const proposed: ProposedRequest[] = [];
    for (const [environment, governed] of groups) {
      const changes: RequestedChangeInput[] = [];
      for (const g of governed) {
        if (g.resource === 'segment') {
          const segment = proposal.segments.get(g.key)!;
          const current = await this.w.read((tx) => this.w.repos.segments.get(tx, g.key));
          if (!current) throw raced('segment', g.key, 'deleted');
          const patch = Object.fromEntries(g.fields.map((f) => [f, (segment as unknown as Record<string, unknown>)[f]]));
          changes.push({ type: 'segment', segment: g.key, patch, baseVersion: current.value.version } as RequestedChangeInput);
        } else {
          const flag = proposal.flags.get(g.key)!;
          const current = await this.w.read((tx) => this.w.repos.flags.get(tx, g.key));
          if (!current) throw raced('flag', g.key, 'deleted');
          const config = flag.environments[environment]!;
          const patch = Object.fromEntries(g.fields.map((f) => [f, (config as Record<string, unknown>)[f]]));
          changes.push({ type: 'targeting', flag: g.key, environment, config: patch, baseVersion: current.value.version } as RequestedChangeInput);
        }
      }
      const title = groups.size > 1 ? `${proposal.title} (${environment})` : proposal.title;
      const origin = `Proposed by a GitOps apply${options.audit.commit ? ` of commit ${options.audit.commit}` : ''}${options.audit.message ? `: ${options.audit.message}` : ''}.`;
      const description = proposal.description ? `${proposal.description}\n\n${origin}` : origin;
      try {
        const created = await this.changeRequests.create({ title, description, environment, changes }, proposal.person, { ...options.audit, source: 'gitops' });
        proposed.push({ id: created.request.id, environment, title, changes: changes.length });
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        const made = proposed.length > 0 ? `; change request${proposed.length === 1 ? '' : 's'} ${proposed.map((p) => `#${p.id}`).join(', ')} ${proposed.length === 1 ? 'was' : 'were'} made` : '';
        throw new AppError(error.code, `the parts of the file that need no approval were applied${made}, but proposing the changes in ${environment} failed: ${error.message}`, error.details);
      }
    }
    return proposed;
  }
}

/** Governed changes by the environment of the request that will hold them (segments: the first environment's). */
function groupRequests(governed: readonly GovernedChange[], environments: readonly string[]): Map<string, GovernedChange[]> {
  const groups = new Map<string, GovernedChange[]>();
  const flagEnvironments = [...new Set(governed.flatMap((g) => (g.environment === null ? [] : [g.environment])))].sort();
  const segmentHome = flagEnvironments[0] ?? environments[0]!;
  for (const g of governed) {
    const environment = g.environment ?? segmentHome;
    groups.set(environment, [...(groups.get(environment) ?? []), g]);
  }
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * `ops` without their governed parts: a flag keeps its current configuration where the change needs
 * approval (a new flag starts there as every new flag does), a governed segment change is left out.
 * A flag update left with nothing to change is dropped (it would only bump the version).
 */
function withoutGoverned(ops: readonly BatchOp[], governed: readonly GovernedChange[], current: ReadonlyMap<string, Flag>): BatchOp[] {
  const governedEnvs = (key: string) => new Set(governed.filter((g) => g.resource === 'flag' && g.key === key).map((g) => g.environment!));
  const governedSegments = new Set(governed.filter((g) => g.resource === 'segment').map((g) => g.key));
  const kept: BatchOp[] = [];
  for (const op of ops) {
    if (op.kind === 'segment.update' && governedSegments.has(op.segment.key)) continue;
    if (op.kind !== 'flag.update' && op.kind !== 'flag.create') {
      kept.push(op);
      continue;
    }
    const envs = governedEnvs(op.flag.key);
    if (envs.size === 0) {
      kept.push(op);
      continue;
    }
    const before = current.get(op.flag.key);
    const environments: NewFlag['environments'] = {};
    for (const [env, config] of Object.entries(op.flag.environments)) {
      if (!envs.has(env)) environments[env] = config;
      else if (op.kind === 'flag.create') environments[env] = defaultFlagEnvironment(op.flag.key, op.flag.variations, op.flag.type);
      else if (before) environments[env] = ownEntry(before.environments, env)!;
    }
    const flag: NewFlag = { ...op.flag, environments };
    if (op.kind === 'flag.update' && before && unchanged(flag, before)) continue;
    kept.push({ ...op, flag });
  }
  return kept;
}

/** Whether writing `flag` over `before` would change nothing (its environments merge into the current ones). */
function unchanged(flag: NewFlag, before: Flag): boolean {
  for (const [field, value] of Object.entries(flag)) {
    if (field === 'environments') continue;
    if (!sameJson(value, (before as unknown as Record<string, unknown>)[field])) return false;
  }
  return Object.entries(flag.environments).every(([env, config]) => sameJson(config, ownEntry(before.environments, env)));
}
