import type { AuditContext, AuditWrite } from '../../domain/audit.js';
import type { Person } from '../../domain/change-requests.js';
import { AppError } from '../../domain/errors.js';
import type { FlagEnvironment } from '../../domain/flags.js';
import { baselineOf, changedFields, describeAction, formatDuration, lateness, type Schedule, type ScheduleStatus, type StageAction } from '../../domain/schedules.js';
import { rampStage } from '../../domain/stages.js';
import type { Tx } from '../../store/ports.js';
import type { ChangeRequestsService } from '../change-requests/change-requests.service.js';
import { configIn } from '../flags.service.js';
import { NO_CHANGE, RowMoved, combine, type Change, type Writes } from '../write.js';
import type { ActionHandler } from './action-handlers.js';

/** Who every scheduled change is audited as; who scheduled it is in the entry's message. */
export const SCHEDULER_ACTOR = 'scheduler';

/** Who applies a scheduled change request (recorded as the request's `resolvedBy`); the audit message says who scheduled it. */
const SCHEDULER_PERSON: Person = { actor: 'scheduler', tokenId: 0, role: 'editor' };

/** What one look at a due schedule did. `gone`: another replica (or an edit, or a cancel) got there first. */
export type RunOutcome =
  | { kind: 'executed'; schedule: Schedule; late: boolean }
  | { kind: 'skipped'; schedule: Schedule }
  | { kind: 'failed'; schedule: Schedule }
  | { kind: 'gone'; id: number };

/**
 * Running due schedules. A run is one transaction: claim (pending → running, conditional, so
 * exactly one replica gets it), check the late policy and for conflicting edits, make the change
 * through the action's handler (so webhooks, SDK updates, incident holds and release-plan pausing
 * behave as for a manual change), record the outcome and audit it — all committed together. A run
 * that fails leaves the transaction rolled back, and the failure is then recorded (audited) with
 * its reason in a transaction of its own.
 */
export class ScheduleRuns {
  constructor(
    private readonly w: Writes,
    private readonly handlers: Record<StageAction['type'], ActionHandler>,
    private readonly requests?: ChangeRequestsService,
  ) {}

  /** Pending schedules due now (read without locks: each run claims its row). */
  async due(limit: number): Promise<Schedule[]> {
    const now = this.w.now();
    return this.w.read((tx) => this.w.repos.schedules.due(tx, now, limit));
  }

  /**
   * Run a due schedule, unless another replica (or an edit or a cancel) got there first. Failures
   * the run reports as AppErrors (a conflict, a flag now managed by Git, a deleted flag…) are
   * recorded on the schedule; anything else (the database is unreachable) is thrown, and the
   * schedule stays pending for the next look.
   */
  async run(due: Schedule): Promise<RunOutcome> {
    try {
      return await this.execute(due);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return this.fail(due, error.message);
    }
  }

  private async execute(due: Schedule): Promise<RunOutcome> {
    const written = await this.w.writeAudited<RunOutcome>(executionContext(due), async (tx, at) => {
      const claimed = await this.w.repos.schedules.claim(tx, due.id, due.version, at);
      if (!claimed) return { value: { kind: 'gone' as const, id: due.id }, change: NO_CHANGE };
      const { lateByMs, late } = lateness(claimed, at);
      if (late && claimed.onLate === 'skip') {
        const outcome = `skipped: due at ${iso(claimed.at)}, found ${formatDuration(lateByMs)} late (the server was not running); its late policy is "skip"`;
        const done = await this.finish(tx, claimed, { status: 'skipped', executedAt: at, lateByMs, outcome });
        return { value: { kind: 'skipped' as const, schedule: done }, change: { audit: [scheduleEntry('schedule.skipped', claimed, done, outcome)] } };
      }
      if (claimed.action.type === 'change_request') return this.applyRequest(tx, at, claimed, claimed.action.requestId, late ? lateByMs : 0);
      // Locked first: nothing changes the flag between this check and the change.
      const found = await this.w.repos.flags.get(tx, claimed.flagKey, { forUpdate: true });
      if (!found) throw new AppError('conflict', `flag "${claimed.flagKey}" no longer exists`);
      const config = configIn(found.value, claimed.environment);
      const changed = changedFields(claimed.action, claimed.baseline, config);
      if (changed.length > 0 && claimed.ifChanged === 'fail') {
        const by = found.value.updatedBy ? ` (last by ${found.value.updatedBy} at ${iso(found.value.updatedAt)})` : '';
        throw new AppError(
          'conflict',
          `conflict: flag "${claimed.flagKey}" changed in ${claimed.environment} since this was scheduled at version ${claimed.baseVersion}${by} — ${changed.join(', ')} differ (now ${rampStage(config)}); not overwritten. Edit or re-create the schedule, or set ifChanged: "apply"`,
        );
      }
      const applied = await this.handlers[(claimed.action as StageAction).type].apply(tx, at, executionContext(claimed, late ? lateByMs : 0), claimed);
      const notes = [
        late ? `ran ${formatDuration(lateByMs)} late (due at ${iso(claimed.at)}; the server was not running)` : '',
        changed.length > 0 ? `applied over changes since version ${claimed.baseVersion} (${changed.join(', ')}): ifChanged is "apply"` : '',
      ].filter(Boolean);
      const outcome = [`${describeAction(claimed.action)}: flag version ${applied.flagVersion}`, ...notes].join('; ');
      const done = await this.finish(tx, claimed, { status: 'executed', executedAt: at, lateByMs: late ? lateByMs : null, outcome, resultVersion: applied.flagVersion });
      await this.followOn(tx, claimed, config, applied.flagVersion, applied.config);
      const change = combine(applied.change, { audit: [scheduleEntry('schedule.executed', claimed, done, outcome)] });
      return { value: { kind: 'executed' as const, schedule: done, late }, change };
    });
    const result = written.value;
    if (result.kind !== 'executed') return result;
    // Link the flag change's audit entry (its id exists only once the transaction recorded it); a
    // request's schedule links its first flag's (or, touching only segments, the request's own).
    const flagEntry = written.audit.find((a) => a.resourceType === 'flag') ?? written.audit.find((a) => a.resourceType === 'change_request');
    if (!flagEntry) return result;
    const linked = { ...result.schedule, auditId: flagEntry.id };
    await this.w.db.transaction((tx) => this.w.repos.schedules.update(tx, linked, 'executed', linked.version));
    return { ...result, schedule: linked };
  }

  /** The run of a change request's schedule, in the claiming transaction. */
  private async applyRequest(tx: Tx, at: number, claimed: Schedule, requestId: number, lateByMs: number): Promise<{ value: RunOutcome; change: Change }> {
    if (!this.requests) throw new Error('SchedulesService: change requests are not wired');
    let applied: Awaited<ReturnType<ChangeRequestsService['applyIn']>>;
    try {
      applied = await this.requests.applyIn(tx, at, executionContext(claimed, lateByMs), requestId, undefined, SCHEDULER_PERSON);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      throw new AppError(error.code, `change request ${requestId}: ${error.message}`, error.details);
    }
    const { request } = applied.value;
    const flag = claimed.flagKey ? await this.w.repos.flags.get(tx, claimed.flagKey) : undefined;
    const late = lateByMs > 0 ? `; ran ${formatDuration(lateByMs)} late (due at ${iso(claimed.at)}; the server was not running)` : '';
    const outcome = `applied change request #${requestId} "${request.title}": ${request.changes.length} change${request.changes.length === 1 ? '' : 's'}${flag ? `, flag "${claimed.flagKey}" now at version ${flag.value.version}` : ''}${late}`;
    const done = await this.finish(tx, claimed, { status: 'executed', executedAt: at, lateByMs: lateByMs > 0 ? lateByMs : null, outcome, resultVersion: flag?.value.version ?? null });
    const change = combine(applied.change, { audit: [scheduleEntry('schedule.executed', claimed, done, outcome)] });
    return { value: { kind: 'executed', schedule: done, late: lateByMs > 0 }, change };
  }

  /**
   * Later schedules of the same flag and environment that were made against the state this run
   * started from (a ramp scheduled step by step: 10% on Monday, 50% on Tuesday) follow on from
   * its result: the scheduler's own change is not a conflict for them. One made against another
   * state still conflicts.
   */
  private async followOn(tx: Tx, ran: Schedule, before: FlagEnvironment, flagVersion: number, after: FlagEnvironment): Promise<void> {
    const pending = await this.w.repos.schedules.list(tx, { flagKey: ran.flagKey, environment: ran.environment, statuses: ['pending'], limit: 1000 });
    for (const next of pending) {
      if (next.id === ran.id || changedFields(next.action, next.baseline, before).length > 0) continue;
      const rebased: Schedule = { ...next, baseVersion: flagVersion, baseline: baselineOf(next.action, after) };
      // Edited or claimed meanwhile: that edit re-read the flag, or that run checks it itself.
      await this.w.repos.schedules.update(tx, rebased, 'pending', next.version);
    }
  }

  /** Record why a run failed, unless the schedule moved on meanwhile (edited, cancelled, run elsewhere). */
  private async fail(due: Schedule, reason: string): Promise<RunOutcome> {
    return this.w.write<RunOutcome>(executionContext(due), async (tx, at) => {
      const claimed = await this.w.repos.schedules.claim(tx, due.id, due.version, at);
      if (!claimed) return { value: { kind: 'gone' as const, id: due.id }, change: NO_CHANGE };
      const { lateByMs, late } = lateness(claimed, at);
      const outcome = `failed: ${reason}`;
      const done = await this.finish(tx, claimed, { status: 'failed', executedAt: at, lateByMs: late ? lateByMs : null, outcome });
      return { value: { kind: 'failed' as const, schedule: done }, change: { audit: [scheduleEntry('schedule.failed', claimed, done, outcome)] } };
    });
  }

  private async finish(tx: Tx, claimed: Schedule, fields: Partial<Schedule> & { status: ScheduleStatus }): Promise<Schedule> {
    const done: Schedule = { ...claimed, ...fields };
    if (!(await this.w.repos.schedules.update(tx, done, 'running', claimed.version))) throw new RowMoved(`schedule ${claimed.id}`);
    return done;
  }
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** The scheduler acts; the message says who scheduled it (and edited it), and why. */
function executionContext(schedule: Schedule, lateByMs = 0): AuditContext {
  const who = schedule.updatedBy !== schedule.createdBy ? `scheduled by ${schedule.createdBy}, last edited by ${schedule.updatedBy}` : `scheduled by ${schedule.createdBy}`;
  const late = lateByMs > 0 ? `, ran ${formatDuration(lateByMs)} late` : '';
  return { actor: SCHEDULER_ACTOR, source: 'scheduler', message: `${who} (schedule ${schedule.id}${late})${schedule.message ? `: ${schedule.message}` : ''}` };
}

export function scheduleEntry(action: string, before: Schedule | null, after: Schedule, message?: string): AuditWrite {
  return { action, resourceType: 'schedule', resourceKey: String(after.id), environment: after.environment, before, after, ...(message !== undefined ? { message } : {}) };
}
