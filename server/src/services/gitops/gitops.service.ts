import type { AuditContext, AuditWrite } from '../../domain/audit.js';
import type { Role } from '../../domain/credentials.js';
import { AppError } from '../../domain/errors.js';
import { changedConfigs, segmentReferences } from '../../domain/flag-defaults.js';
import type { Flag } from '../../domain/flags.js';
import { refusedChanges } from '../../domain/gitops/access.js';
import type { DesiredState } from '../../domain/gitops/desired.js';
import { exportDocument, type CurrentState } from '../../domain/gitops/export.js';
import type { IncidentDecision, IncidentOverride } from '../../domain/gitops/incidents.js';
import { DOCUMENT_LIMITS } from '../../domain/gitops/limits.js';
import { formatProblem, type FileProblem, type SourceFile } from '../../domain/gitops/locate.js';
import { resourceId, summarize, type BatchOp, type Plan, type PlanOptions, type PlannedChange } from '../../domain/gitops/plan.js';
import { flagPatches, mergePatches, segmentPatches } from '../../domain/ruleset.js';
import { assertSegmentUnused, type Segment } from '../../domain/segments.js';
import { DOGFOOD_SEGMENT } from '../../domain/stages.js';
import { stampNew, stampNext } from '../../domain/versions.js';
import type { Tx } from '../../store/ports.js';
import type { EnvironmentsService } from '../environments.service.js';
import { combine, type Change, type Writes } from '../write.js';
import { DocumentWorker } from './documents.js';
import { unsafePatternProblems } from './patterns.js';

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
  const listed = problems.slice(0, DOCUMENT_LIMITS.problemsReported);
  return new AppError('validation_failed', `${formatProblem(problems[0]!)}${more}`, listed.map((p) => ({ ...p, location: `${p.file}:${p.line}:${p.column}` })));
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
    const result: ApplyResult = { applied: false, dryRun: options.dryRun === true, changes: plan.changes, summary: summarize(plan.changes), versions: plan.versions, auditIds: [] };
    if (options.expectedVersions) plan.ops.forEach((op) => checkExpected(op, options.expectedVersions!));
    if (options.dryRun || (plan.ops.length === 0 && !options.manage)) return result;
    const { manage } = options;
    const { audit } = await this.w.writeAudited({ ...options.audit, source: 'gitops' }, async (tx, at) => {
      // Before the ops: a flag the file no longer names goes below, and its override with it.
      const ended = await this.endIncidents(tx, options.endIncidents ?? []);
      const change = combine(ended, await this.applyOps(tx, at, plan.ops, options.audit.actor));
      if (manage) {
        await this.w.repos.flags.setManaged(tx, manage.source, [...manage.flags]);
        await this.w.repos.segments.setManaged(tx, manage.source, [...manage.segments]);
      }
      return { value: undefined, change };
    });
    return { ...result, applied: plan.ops.length > 0, auditIds: audit.map((a) => a.id) };
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
        audit(before ? 'flag.updated' : 'flag.created', 'flag', after.key, before, after);
      } else if (op.kind === 'flag.delete') {
        const found = await repos.flags.get(tx, op.key);
        if (!found) throw raced('flag', op.key, 'deleted');
        checkPlanned(`flag "${op.key}"`, found.value, op.expectedVersion);
        if (!(await repos.flags.delete(tx, op.key, found.value.version))) throw raced('flag', op.key, 'deleted');
        sdk = mergePatches(sdk, flagPatches(found.value, null));
        audit('flag.deleted', 'flag', op.key, found.value, null);
      }
    }

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
