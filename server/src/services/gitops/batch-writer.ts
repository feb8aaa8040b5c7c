import type { AuditWrite } from '../../domain/audit.js';
import { AppError } from '../../domain/errors.js';
import { changedConfigs, segmentReferences } from '../../domain/flag-defaults.js';
import type { Flag } from '../../domain/flags.js';
import type { IncidentOverride } from '../../domain/gitops/incidents.js';
import { resourceId, type BatchOp } from '../../domain/gitops/plan.js';
import { flagPatches, mergePatches, segmentPatches } from '../../domain/ruleset.js';
import { assertSegmentUnused, type Segment } from '../../domain/segments.js';
import { stampNew, stampNext } from '../../domain/versions.js';
import type { Tx } from '../../store/ports.js';
import type { EnvironmentsService } from '../environments.service.js';
import { assertPrerequisites as assertWrittenPrerequisites, prerequisiteCheck, type PrerequisiteCheck } from '../prerequisites.js';
import { combine, type Change, type Writes } from '../write.js';

/** A resource created or deleted by someone else between the plan and this apply. */
export const raced = (resource: string, key: string, what: 'created' | 'deleted') => new AppError('conflict', `${resource} "${key}" was ${what} by someone else since the plan; run diff again`);

function checkPlanned(resource: string, current: { version: number; updatedBy?: string; updatedAt?: number }, expected: number): void {
  if (current.version !== expected) {
    throw AppError.versionConflict(resource, current.version, current.updatedBy, current.updatedAt === undefined ? undefined : new Date(current.updatedAt).toISOString());
  }
}

/** The writes of a GitOps apply, inside the transaction the service opened. */
export class BatchWriter {
  constructor(
    private readonly w: Writes,
    private readonly environments: EnvironmentsService,
  ) {}

  /** End incident overrides the file now wins over (those still there: a resume may have ended one meanwhile). */
  async endIncidents(tx: Tx, ends: readonly { incident: IncidentOverride; message: string }[]): Promise<Change> {
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
  async applyOps(tx: Tx, at: number, ops: readonly BatchOp[], actor: string): Promise<Change> {
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

/** An override as the audit log keeps it: who killed the flag, when, why, against which commit. */
export function incidentRecord(incident: IncidentOverride): Record<string, unknown> {
  return { killedAt: new Date(incident.killedAt).toISOString(), killedBy: incident.killedBy, message: incident.message, sinceCommit: incident.sinceCommit };
}

/** Hold each op to the version the earlier plan saw (0: it did not exist then). */
export function checkExpected(op: BatchOp, expected: Record<string, number>): void {
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
