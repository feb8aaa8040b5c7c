import type { AuditContext, AuditWrite } from '../../domain/audit.js';
import type { Role } from '../../domain/credentials.js';
import { AppError } from '../../domain/errors.js';
import { changedConfigs, segmentReferences } from '../../domain/flag-defaults.js';
import type { Flag } from '../../domain/flags.js';
import type { NewSegment } from '../../domain/segments.js';
import { refusedChanges } from '../../domain/gitops/access.js';
import type { DesiredState } from '../../domain/gitops/desired.js';
import { exportDocument, type CurrentState } from '../../domain/gitops/export.js';
import { MAX_CHANGES, type ApprovalPolicy, type Person, type RequestedChangeInput } from '../../domain/change-requests.js';
import { defaultFlagEnvironment } from '../../domain/flag-defaults.js';
import { governedChanges, governingEnvironments, gitopsApprovalMessage, policyOver, describeGoverned, type GovernedChange } from '../../domain/gitops/governance.js';
import type { IncidentDecision, IncidentOverride } from '../../domain/gitops/incidents.js';
import { DOCUMENT_LIMITS } from '../../domain/gitops/limits.js';
import { formatProblem, type FileProblem, type SourceFile } from '../../domain/gitops/locate.js';
import { resourceId, summarize, type BatchOp, type Plan, type PlanOptions, type PlannedChange } from '../../domain/gitops/plan.js';
import { sameJson } from '../../domain/audit-revert.js';
import { ownEntry, type NewFlag } from '../../domain/flags.js';
import { flagPatches, mergePatches, segmentPatches } from '../../domain/ruleset.js';
import { assertSegmentUnused, type Segment } from '../../domain/segments.js';
import { DOGFOOD_SEGMENT } from '../../domain/stages.js';
import { stampNew, stampNext } from '../../domain/versions.js';
import type { Tx } from '../../store/ports.js';
import type { ChangeRequestsService } from '../change-requests/change-requests.service.js';
import type { EnvironmentsService } from '../environments.service.js';
import { combine, type Change, type Writes } from '../write.js';
import { DocumentWorker, INLINE_BYTES } from './documents.js';
import { unsafePatternProblems } from './patterns.js';
import { prerequisiteFileProblems } from './prerequisites.js';
import { assertPrerequisites as assertWrittenPrerequisites, prerequisiteCheck, type PrerequisiteCheck } from '../prerequisites.js';

export interface ApplyOptions extends PlanOptions {
  /**
   * The caller's role: every change must be one it may make through the REST API (access.ts),
   * else nothing is applied (403). The sync, run by the server from the operator's file, is admin.
   */
  role: Role;
  dryRun?: boolean;
  /** Versions from an earlier plan (`diff`): a resource changed since then fails with 409. */
  expectedVersions?: Record<string, number>;
  audit: AuditContext;
  /** Sync mode: afterwards this source manages exactly the file's flags and segments (read-only elsewhere). */
  manage?: { source: string; flags: Iterable<string>; segments: Iterable<string> };
  /** Sync mode: incident overrides a new commit ends (the file wins), each audited with its message. */
  endIncidents?: readonly { incident: IncidentOverride; message: string }[];
  /**
   * What to do where the plan changes what an approval policy governs (domain/gitops/governance.ts);
   * without it such a plan is refused with 409 `approval_required`:
   * - `bypass`: apply anyway, the reason recorded in every audit entry — an admin's (`by: 'admin'`,
   *   where every policy involved allows admin bypass), or the operator's for the sync (`by: 'sync'`);
   * - `request`: apply the rest of the plan, and propose the governed parts as change requests
   *   (one per environment) by `person`;
   * - `sync`: refuse as the sync does (the message says to protect the branch).
   */
  approval?: { bypass: string; by: 'admin' | 'sync' } | { request: { title: string; description?: string }; person: Person } | { sync: true };
}

/** A change request a GitOps apply proposed instead of writing to an environment with an approval policy. */
export interface ProposedRequest {
  id: number;
  environment: string;
  title: string;
  changes: number;
}

export interface ApplyResult {
  applied: boolean;
  dryRun: boolean;
  changes: PlannedChange[];
  summary: ReturnType<typeof summarize>;
  versions: Record<string, number>;
  auditIds: number[];
  /** Change requests proposed for the parts that need approval (`approval.request`). */
  changeRequests: ProposedRequest[];
  /** The environments whose approval policies this apply bypassed (with a reason, audited). */
  approvalBypassed: string[];
}

/** What the approval check decided for a plan: the ops to apply now, and what else to do. */
interface Governance {
  ops: BatchOp[];
  governed: GovernedChange[];
  /** Environments bypassed, and the note every audit entry gets. */
  bypass?: { environments: string[]; note: string };
  /** The governed parts as change requests, made after the rest is applied. */
  requests?: { title: string; description?: string; person: Person; flags: Map<string, NewFlag>; segments: Map<string, NewSegment> };
}

/** Problems in files → one 400 naming file:line:col and path for each. */
export function invalidFiles(problems: readonly FileProblem[]): AppError {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  const listed = problems.slice(0, DOCUMENT_LIMITS.problemsReported);
  return new AppError('validation_failed', `${formatProblem(problems[0]!)}${more}`, listed.map((p) => ({ ...p, location: `${p.file}:${p.line}:${p.column}` })));
}

/** Unknown or archived prerequisites, missing variations, cycles, dependents left broken → the same 400 as other problems in files. */
function assertPrerequisites(state: DesiredState, current: readonly Flag[], options: PlanOptions, sources: readonly SourceFile[]): void {
  const problems = prerequisiteFileProblems(state, current, options, sources, INLINE_BYTES);
  if (problems.length > 0) throw invalidFiles(problems);
}

/** `matches` patterns that could backtrack super-linearly (ReDoS) → the same 400 as other problems in files. */
async function assertSafePatterns(state: DesiredState, sources: readonly SourceFile[]): Promise<void> {
  const unsafe = await unsafePatternProblems(state, sources);
  if (unsafe.length > 0) throw invalidFiles(unsafe);
}

const raced = (resource: string, key: string, what: 'created' | 'deleted') => new AppError('conflict', `${resource} "${key}" was ${what} by someone else since the plan; run diff again`);

function checkPlanned(resource: string, current: { version: number; updatedBy?: string; updatedAt?: number }, expected: number): void {
  if (current.version !== expected) {
    throw AppError.versionConflict(resource, current.version, current.updatedBy, current.updatedAt === undefined ? undefined : new Date(current.updatedAt).toISOString());
  }
}

/** Flags as code: export the current state, plan a file against it, apply it in one transaction. */
export class GitOpsService {
  constructor(
    private readonly w: Writes,
    private readonly environments: EnvironmentsService,
    private readonly documents = new DocumentWorker(),
    private readonly changeRequests?: ChangeRequestsService,
  ) {}

  /** Stops the document worker thread. */
  close(): Promise<void> {
    return this.documents.close();
  }

  async current(): Promise<CurrentState & { managed: { flags: string[]; segments: string[] }; incidents: IncidentOverride[] }> {
    return this.w.read(async (tx) => {
      const { repos } = this.w;
      const [environments, segments, flags] = [await repos.environments.list(tx), await repos.segments.list(tx), await repos.flags.list(tx)];
      const managed = { flags: flags.filter((f) => f.managedBy !== null).map((f) => f.value.key), segments: segments.filter((s) => s.managedBy !== null).map((s) => s.value.key) };
      return { environments, segments: segments.map((s) => s.value), flags: flags.map((f) => f.value), managed, incidents: await repos.incidents.list(tx) };
    });
  }

  /**
   * Record what the file asks for where the kill's record was only a guess (see decideIncidents).
   * Bookkeeping the API never shows — only what a resume restores — so no audit entry or feed entry.
   */
  async rebaseIncidents(decisions: readonly Extract<IncidentDecision, { kind: 'rebase' }>[]): Promise<void> {
    if (decisions.length === 0) return;
    await this.w.db.transaction(async (tx) => {
      for (const { incident, fileConfig } of decisions) await this.w.repos.incidents.setFileConfig(tx, incident.flag, incident.environment, fileConfig);
    });
  }

  async export(environment?: string): Promise<Record<string, unknown>> {
    const state = await this.current();
    if (environment !== undefined && !state.environments.some((e) => e.key === environment)) throw AppError.notFound('environment', environment);
    return exportDocument(state, environment);
  }

  /** Validate `sources` against the current state; throws a 400 listing every problem. */
  async load(sources: readonly SourceFile[], options: PlanOptions = {}): Promise<{ desired: DesiredState; current: Awaited<ReturnType<GitOpsService['current']>> }> {
    const current = await this.current();
    const { load } = await this.documents.run({ sources: [...sources], existingSegments: existingSegments(current, options) });
    if (!load.ok) throw invalidFiles(load.problems);
    assertPrerequisites(load.state, current.flags, options, sources);
    await assertSafePatterns(load.state, sources);
    return { desired: load.state, current };
  }

  async plan(sources: readonly SourceFile[], options: PlanOptions = {}): Promise<Plan> {
    return JSON.parse(await this.planned(sources, options, 'plan')) as Plan;
  }

  /** The plan route's body (`changes`, `summary`, `versions`) as JSON text, built off the event loop. */
  planResponse(sources: readonly SourceFile[], options: PlanOptions = {}): Promise<string> {
    return this.planned(sources, options, 'response');
  }

  private async planned(sources: readonly SourceFile[], options: PlanOptions, as: 'plan' | 'response'): Promise<string> {
    const current = await this.current();
    const { environments, segments, flags } = current;
    const { load, planJson } = await this.documents.run({ sources: [...sources], existingSegments: existingSegments(current, options), plan: { current: { environments, segments, flags }, options, as } });
    // Prerequisites were checked by the job, against `flags`.
    if (!load.ok) throw invalidFiles(load.problems);
    await assertSafePatterns(load.state, sources);
    return planJson!;
  }

  async apply(sources: readonly SourceFile[], options: ApplyOptions): Promise<ApplyResult> {
    return this.applyPlan(await this.plan(sources, options), options);
  }

  async applyPlan(plan: Plan, options: ApplyOptions): Promise<ApplyResult> {
    // Checked even for a dry run, which thereby says whether the real apply would be allowed.
    const refused = refusedChanges(plan, options.role);
    if (refused.length > 0) {
      const needs = [...new Set(refused.map((r) => r.requiredRole))].join(' or ');
      throw new AppError('forbidden', `the ${options.role} role may not make ${refused.length === 1 ? 'this change' : `these ${refused.length} changes`} (${refused.length === 1 ? 'it needs' : 'they need'} the ${needs} role, as through the REST API): ${refused.map((r) => r.change).join('; ')}; nothing was applied`, { refused });
    }
    const result: ApplyResult = { applied: false, dryRun: options.dryRun === true, changes: plan.changes, summary: summarize(plan.changes), versions: plan.versions, auditIds: [], changeRequests: [], approvalBypassed: [] };
    if (options.expectedVersions) plan.ops.forEach((op) => checkExpected(op, options.expectedVersions!));
    if (plan.ops.length === 0 && !options.manage) return result;
    // A dry run says whether the real apply would be allowed, approvals included.
    if (options.dryRun) {
      const governance = await this.w.read((tx) => this.governance(tx, plan.ops, options));
      return { ...result, approvalBypassed: governance.bypass?.environments ?? [] };
    }
    const { manage } = options;
    const { audit, value: governance } = await this.w.writeAudited({ ...options.audit, source: 'gitops' }, async (tx, at) => {
      // Read in the write's own transaction, as direct writes do: a policy set meanwhile is never missed.
      const governance = await this.governance(tx, plan.ops, options);
      // Before the ops: a flag the file no longer names goes below, and its override with it.
      const ended = await this.endIncidents(tx, options.endIncidents ?? []);
      let change = combine(ended, await this.applyOps(tx, at, governance.ops, options.audit.actor));
      if (governance.bypass) {
        const note = governance.bypass.note;
        change = { ...change, audit: change.audit.map((a) => ({ ...a, message: a.message ?? (options.audit.message ? `${options.audit.message} (${note})` : note) })) };
      }
      if (manage) {
        await this.w.repos.flags.setManaged(tx, manage.source, [...manage.flags]);
        await this.w.repos.segments.setManaged(tx, manage.source, [...manage.segments]);
      }
      return { value: governance, change };
    });
    const done: ApplyResult = { ...result, applied: governance.ops.length > 0, auditIds: audit.map((a) => a.id), approvalBypassed: governance.bypass?.environments ?? [] };
    if (governance.requests) done.changeRequests = await this.propose(governance, options);
    return done;
  }

  /**
   * Whether `ops` may be applied as they are, given the approval policies: what to apply now, and
   * what to propose or note instead. Throws 409 `approval_required` (or 403 for a bypass not allowed).
   */
  private async governance(tx: Tx, ops: readonly BatchOp[], options: ApplyOptions): Promise<Governance> {
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
  private async propose(governance: Governance, options: ApplyOptions): Promise<ProposedRequest[]> {
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

  /** End incident overrides the file now wins over (those still there: a resume may have ended one meanwhile). */
  private async endIncidents(tx: Tx, ends: readonly { incident: IncidentOverride; message: string }[]): Promise<Change> {
    const change: Change = { audit: [] };
    for (const { incident, message } of ends) {
      if (!(await this.w.repos.incidents.delete(tx, incident.flag, incident.environment))) continue;
      // Not a `flag.` action: it records no flag state (the file's change is its own entry), so nothing to revert.
      change.audit.push({ action: 'incident.ended', resourceType: 'flag', resourceKey: incident.flag, environment: incident.environment, before: incidentRecord(incident), after: null, message });
    }
    return change;
  }

  /**
   * Every op of a batch inside one transaction: each checked against the version the plan saw and
   * audited; SDKs get one patch per environment for the whole batch, not one per resource.
   */
  private async applyOps(tx: Tx, at: number, ops: readonly BatchOp[], actor: string): Promise<Change> {
    const { repos } = this.w;
    let change: Change = { audit: [] };
    const audit = (action: string, resourceType: AuditWrite['resourceType'], resourceKey: string, before: unknown, after: unknown) =>
      change.audit.push({ action, resourceType, resourceKey, environment: null, before, after });

    // Environments first: flags written below get a configuration in new environments too.
    for (const op of ops) {
      if (op.kind === 'environment.create') {
        const created = await this.environments.createIn(tx, at, { key: op.key, name: op.name, critical: op.critical });
        change = combine(change, { ...created.change, audit: created.change.audit.map((a) => ({ ...a, environment: null, after: { key: op.key, name: op.name, critical: op.critical } })) });
      } else if (op.kind === 'environment.update') {
        await repos.feed.lock(tx);
        const before = await repos.environments.get(tx, op.key);
        if (!before) throw AppError.notFound('environment', op.key);
        await repos.environments.update(tx, op.key, { name: op.name, critical: op.critical });
        audit('environment.updated', 'environment', op.key, { key: op.key, name: before.name, critical: before.critical }, { key: op.key, name: op.name, critical: op.critical });
      }
    }
    const environmentKeys = (await repos.environments.list(tx)).map((e) => e.key);
    let sdk = change.sdk ?? {};
    const prerequisiteChecks: PrerequisiteCheck[] = [];

    for (const op of ops) {
      if (op.kind === 'segment.create' || op.kind === 'segment.update') {
        const found = await repos.segments.get(tx, op.segment.key);
        if (op.kind === 'segment.create' && found) throw raced('segment', op.segment.key, 'created');
        if (op.kind === 'segment.update' && !found) throw raced('segment', op.segment.key, 'deleted');
        let after: Segment;
        if (found && op.kind === 'segment.update') {
          checkPlanned(`segment "${op.segment.key}"`, found.value, op.expectedVersion);
          after = stampNext(op.segment, found.value, actor, at);
          if (!(await repos.segments.update(tx, after, found.value.version))) throw raced('segment', op.segment.key, 'created');
        } else {
          after = stampNew(op.segment, actor, at);
          await repos.segments.insert(tx, after);
        }
        sdk = mergePatches(sdk, segmentPatches(after.key, after, environmentKeys));
        audit(found ? 'segment.updated' : 'segment.created', 'segment', after.key, found?.value ?? null, after);
      } else if (op.kind === 'flag.create' || op.kind === 'flag.update') {
        const found = await repos.flags.get(tx, op.flag.key);
        if (op.kind === 'flag.create' && found) throw raced('flag', op.flag.key, 'created');
        if (op.kind === 'flag.update' && !found) throw raced('flag', op.flag.key, 'deleted');
        const before = found?.value ?? null;
        const known = new Set(environmentKeys);
        const environments = Object.fromEntries(Object.entries({ ...before?.environments, ...op.flag.environments }).filter(([env]) => known.has(env)));
        const wanted = { ...op.flag, environments };
        // Segments it refers to exist now (or were created above) and cannot be deleted before this commits.
        const referenced = [...segmentReferences(wanted)];
        const existing = await repos.segments.existing(tx, referenced);
        const gone = referenced.find((key) => !existing.has(key));
        if (gone !== undefined) throw new AppError('conflict', `segment "${gone}" used by flag "${op.flag.key}" was deleted by someone else since the plan; run diff again`);
        let after: Flag;
        if (before && op.kind === 'flag.update') {
          checkPlanned(`flag "${before.key}"`, before, op.expectedVersion);
          after = stampNext(wanted, before, actor, at);
          if (!(await repos.flags.update(tx, after, before.version, changedConfigs(before, after)))) throw raced('flag', before.key, 'created');
        } else {
          after = stampNew(wanted, actor, at);
          await repos.flags.insert(tx, after);
        }
        sdk = mergePatches(sdk, flagPatches(before, after));
        prerequisiteChecks.push(prerequisiteCheck(before, after, (env) => `flags.${after.key}.environments.${env}`));
        audit(before ? 'flag.updated' : 'flag.created', 'flag', after.key, before, after);
      } else if (op.kind === 'flag.delete') {
        const found = await repos.flags.get(tx, op.key);
        if (!found) throw raced('flag', op.key, 'deleted');
        checkPlanned(`flag "${op.key}"`, found.value, op.expectedVersion);
        if (!(await repos.flags.delete(tx, op.key, found.value.version))) throw raced('flag', op.key, 'deleted');
        sdk = mergePatches(sdk, flagPatches(found.value, null));
        prerequisiteChecks.push(prerequisiteCheck(found.value, null));
        audit('flag.deleted', 'flag', op.key, found.value, null);
      }
    }
    // The state the whole batch leaves: a file may add a flag and require it, or drop both ends at once.
    await assertWrittenPrerequisites(repos, tx, {
      checked: prerequisiteChecks.flatMap((c) => c.checked ?? []),
      affected: prerequisiteChecks.flatMap((c) => c.affected ?? []),
    });

    // Segments go last: a flag deleted above may have been their last user.
    const deletes = ops.filter((op): op is Extract<BatchOp, { kind: 'segment.delete' }> => op.kind === 'segment.delete');
    if (deletes.length > 0) {
      for (const op of deletes) await repos.segments.lock(tx, op.key);
      const flags = (await repos.flags.list(tx)).map((f) => f.value);
      for (const op of deletes) {
        const found = await repos.segments.get(tx, op.key);
        if (!found) throw raced('segment', op.key, 'deleted');
        checkPlanned(`segment "${op.key}"`, found.value, op.expectedVersion);
        assertSegmentUnused(op.key, flags);
        if (!(await repos.segments.delete(tx, op.key, found.value.version))) throw raced('segment', op.key, 'deleted');
        sdk = mergePatches(sdk, segmentPatches(op.key, null, environmentKeys));
        audit('segment.deleted', 'segment', op.key, found.value, null);
      }
    }
    return { ...change, sdk };
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

/** An override as the audit log keeps it: who killed the flag, when, why, against which commit. */
export function incidentRecord(incident: IncidentOverride): Record<string, unknown> {
  return { killedAt: new Date(incident.killedAt).toISOString(), killedBy: incident.killedBy, message: incident.message, sinceCommit: incident.sinceCommit };
}

/** With prune, segments the files do not name are about to go: flags cannot lean on them. */
function existingSegments(current: CurrentState, options: PlanOptions): string[] {
  return current.segments.map((s) => s.key).filter((k) => !options.prune || k === DOGFOOD_SEGMENT);
}

/** Hold each op to the version the earlier plan saw (0: it did not exist then). */
function checkExpected(op: BatchOp, expected: Record<string, number>): void {
  if (op.kind.startsWith('environment.')) return;
  const resource = op.kind.startsWith('flag.') ? 'flag' : 'segment';
  const key = 'flag' in op ? op.flag.key : 'segment' in op ? op.segment.key : (op as { key: string }).key;
  const seen = expected[resourceId(resource, key)];
  if (seen === undefined) return;
  const created = op.kind.endsWith('.create');
  if (created && seen !== 0) throw new AppError('version_conflict', `${resource} "${key}" was deleted by someone else since the plan; run diff again`, { resource, key });
  if (!created && seen === 0) throw new AppError('version_conflict', `${resource} "${key}" was created by someone else since the plan; run diff again`, { resource, key });
  if (!created) (op as { expectedVersion: number }).expectedVersion = seen;
}
