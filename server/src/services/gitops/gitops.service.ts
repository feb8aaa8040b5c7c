import { AppError } from '../../domain/errors.js';
import type { Flag } from '../../domain/flags.js';
import { refusedChanges } from '../../domain/gitops/access.js';
import type { DesiredState } from '../../domain/gitops/desired.js';
import { exportDocument, type CurrentState } from '../../domain/gitops/export.js';
import type { IncidentDecision, IncidentOverride } from '../../domain/gitops/incidents.js';
import { DOCUMENT_LIMITS } from '../../domain/gitops/limits.js';
import { formatProblem, type FileProblem, type SourceFile } from '../../domain/gitops/locate.js';
import { summarize, type Plan, type PlanOptions } from '../../domain/gitops/plan.js';
import { DOGFOOD_SEGMENT } from '../../domain/stages.js';
import type { ChangeRequestsService } from '../change-requests/change-requests.service.js';
import type { EnvironmentsService } from '../environments.service.js';
import { combine, type Writes } from '../write.js';
import type { ApplyOptions, ApplyResult } from './apply-options.js';
import { GitOpsApprovals } from './approvals.js';
import { BatchWriter, checkExpected } from './batch-writer.js';
import { DocumentWorker, INLINE_BYTES } from './documents.js';
import { unsafePatternProblems } from './patterns.js';
import { prerequisiteFileProblems } from './prerequisites.js';

export type { ApplyOptions, ApplyResult, ProposedRequest } from './apply-options.js';
export { incidentRecord } from './batch-writer.js';

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

/** Flags as code: export the current state, plan a file against it, apply it in one transaction. */
export class GitOpsService {
  private readonly batches: BatchWriter;
  private readonly approvals: GitOpsApprovals;

  constructor(
    private readonly w: Writes,
    environments: EnvironmentsService,
    private readonly documents = new DocumentWorker(),
    changeRequests?: ChangeRequestsService,
  ) {
    this.batches = new BatchWriter(w, environments);
    this.approvals = new GitOpsApprovals(w, changeRequests);
  }

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
      const governance = await this.w.read((tx) => this.approvals.governance(tx, plan.ops, options));
      return { ...result, approvalBypassed: governance.bypass?.environments ?? [] };
    }
    const { manage } = options;
    const { audit, value: governance } = await this.w.writeAudited({ ...options.audit, source: 'gitops' }, async (tx, at) => {
      // Read in the write's own transaction, as direct writes do: a policy set meanwhile is never missed.
      const governance = await this.approvals.governance(tx, plan.ops, options);
      // Before the ops: a flag the file no longer names goes below, and its override with it.
      const ended = await this.batches.endIncidents(tx, options.endIncidents ?? []);
      let change = combine(ended, await this.batches.applyOps(tx, at, governance.ops, options.audit.actor));
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
    if (governance.requests) done.changeRequests = await this.approvals.propose(governance, options);
    return done;
  }
}

/** With prune, segments the files do not name are about to go: flags cannot lean on them. */
function existingSegments(current: CurrentState, options: PlanOptions): string[] {
  return current.segments.map((s) => s.key).filter((k) => !options.prune || k === DOGFOOD_SEGMENT);
}
