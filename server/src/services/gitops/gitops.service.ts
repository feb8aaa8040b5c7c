import { AppError } from '../../domain/errors.js';
import { DOGFOOD_SEGMENT } from '../../domain/stages.js';
import type { RuleSetCache } from '../rulesets.js';
import type { AuditContext, BatchOp, Store } from '../../store/ports.js';
import { loadDesired, type DesiredState } from '../../domain/gitops/desired.js';
import { exportDocument, type CurrentState } from '../../domain/gitops/export.js';
import { formatProblem, type FileProblem, type SourceFile } from '../../domain/gitops/locate.js';
import { planChanges, resourceId, summarize, type Plan, type PlanOptions, type PlannedChange } from '../../domain/gitops/plan.js';

export interface ApplyOptions extends PlanOptions {
  dryRun?: boolean;
  /** Versions from an earlier plan (`diff`): a resource changed since then fails with 409. */
  expectedVersions?: Record<string, number>;
  audit: AuditContext;
}

export interface ApplyResult {
  applied: boolean;
  dryRun: boolean;
  changes: PlannedChange[];
  summary: ReturnType<typeof summarize>;
  versions: Record<string, number>;
  auditIds: number[];
}

/** Problems in files → one 400 naming file:line:col and path for each. */
export function invalidFiles(problems: readonly FileProblem[]): AppError {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return new AppError('validation_failed', `${formatProblem(problems[0]!)}${more}`, problems.map((p) => ({ ...p, location: `${p.file}:${p.line}:${p.column}` })));
}

/** Flags as code: export the current state, plan a file against it, apply it in one transaction. */
export class GitOpsService {
  constructor(
    private readonly store: Store,
    private readonly ruleSets: RuleSetCache,
  ) {}

  /** What the Git sync (`actor`) wrote before this process started: see Store.writtenBy. */
  writtenBy(actor: string): Promise<{ flags: string[]; segments: string[] }> {
    return this.store.writtenBy(actor);
  }

  async current(): Promise<CurrentState> {
    const [environments, segments, flags] = await Promise.all([this.store.listEnvironments(), this.store.listSegments(), this.store.listFlags()]);
    return { environments, segments, flags };
  }

  async export(environment?: string): Promise<Record<string, unknown>> {
    const state = await this.current();
    if (environment !== undefined && !state.environments.some((e) => e.key === environment)) throw AppError.notFound('environment', environment);
    return exportDocument(state, environment);
  }

  /** Validate `sources` against the current state; throws a 400 listing every problem. */
  async load(sources: readonly SourceFile[], options: PlanOptions = {}): Promise<{ desired: DesiredState; current: CurrentState }> {
    const current = await this.current();
    // With prune, segments the files do not name are about to go: flags cannot lean on them.
    const existing = current.segments.map((s) => s.key).filter((k) => !options.prune || k === DOGFOOD_SEGMENT);
    const result = loadDesired(sources, new Set(existing));
    if (!result.ok) throw invalidFiles(result.problems);
    return { desired: result.state, current };
  }

  async plan(sources: readonly SourceFile[], options: PlanOptions = {}): Promise<Plan> {
    const { desired, current } = await this.load(sources, options);
    return planChanges(desired, current, options);
  }

  async apply(sources: readonly SourceFile[], options: ApplyOptions): Promise<ApplyResult> {
    const plan = await this.plan(sources, options);
    return this.applyPlan(plan, options);
  }

  async applyPlan(plan: Plan, options: ApplyOptions): Promise<ApplyResult> {
    const result: ApplyResult = { applied: false, dryRun: options.dryRun === true, changes: plan.changes, summary: summarize(plan.changes), versions: plan.versions, auditIds: [] };
    if (options.expectedVersions) plan.ops.forEach((op) => checkExpected(op, options.expectedVersions!));
    if (options.dryRun || plan.ops.length === 0) return result;
    const write = await this.store.applyBatch(plan.ops, { ...options.audit, source: 'gitops' });
    // Patches to SDKs, and one live event per audit entry for open dashboards.
    this.ruleSets.publish(write);
    return { ...result, applied: true, auditIds: write.audit.map((a) => a.id) };
  }
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
