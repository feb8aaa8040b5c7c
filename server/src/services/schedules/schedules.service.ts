import type { AuditContext, AuditWrite } from '../../domain/audit.js';
import { AppError } from '../../domain/errors.js';
import type { Flag, FlagEnvironment, Managed } from '../../domain/flags.js';
import {
  DEFAULT_GRACE_MS,
  baselineOf,
  changedFields,
  describeAction,
  formatDuration,
  isOpen,
  lateness,
  parseInstant,
  timeProblem,
  type IfChangedPolicy,
  type LatePolicy,
  type Schedule,
  type ScheduleQuery,
  type ScheduleStatus,
  type StageAction,
} from '../../domain/schedules.js';
import { isApproved, type Person } from '../../domain/change-requests.js';
import { parseStage, rampStage, releaseVariation } from '../../domain/stages.js';
import { checkVersion } from '../../domain/versions.js';
import type { Tx } from '../../store/ports.js';
import { configIn, lockedByGit, type FlagsService } from '../flags.service.js';
import { assertDirectWriteAllowed } from '../change-requests/policy-guard.js';
import type { ChangeRequestsService } from '../change-requests/change-requests.service.js';
import { NO_CHANGE, RowMoved, combine, type Change, type Writes } from '../write.js';

/** Who every scheduled change is audited as; who scheduled it is in the entry's message. */
export const SCHEDULER_ACTOR = 'scheduler';

/** An action as a client sends it: a stage as text (`50%`, `kill`…). A change request is scheduled with `scheduleRequest`. */
export type ScheduleActionInput = { type: 'stage'; stage: string; variation?: string } | { type: 'kill' };

/** Applying an approved change request at a time: everything a schedule has but its action and `ifChanged`. */
export type RequestScheduleInput = Omit<ScheduleInput, 'action' | 'ifChanged'>;

/** Who applies a scheduled change request (recorded as the request's `resolvedBy`); the audit message says who scheduled it. */
const SCHEDULER_PERSON: Person = { actor: 'scheduler', tokenId: 0, role: 'editor' };

export interface ScheduleInput {
  /** ISO-8601 with a zone (`Z` or an offset). */
  at: string;
  action: ScheduleActionInput;
  message?: string;
  onLate?: LatePolicy;
  graceSeconds?: number;
  ifChanged?: IfChangedPolicy;
}

export interface SchedulePatch {
  at?: string;
  action?: ScheduleActionInput;
  /** null clears it. */
  message?: string | null;
  onLate?: LatePolicy;
  graceSeconds?: number;
  ifChanged?: IfChangedPolicy;
}

/** What one look at a due schedule did. `gone`: another replica (or an edit, or a cancel) got there first. */
export type RunOutcome =
  | { kind: 'executed'; schedule: Schedule; late: boolean }
  | { kind: 'skipped'; schedule: Schedule }
  | { kind: 'failed'; schedule: Schedule }
  | { kind: 'gone'; id: number };

/**
 * How a kind of action is checked when it is scheduled and applied when it runs. Applying an
 * approved change request at a time is a new member of `ScheduleAction` and a new handler here:
 * claiming, the late policy, conflicts, auditing and failures stay as they are.
 */
interface ActionHandler {
  /** When scheduling or editing: throws what a manual change would (404, 423 for Git-managed flags, 400). */
  check(flag: Managed<Flag>, config: FlagEnvironment, action: StageAction): void;
  /** In the claiming transaction: make the change, through the same service the manual change uses. */
  apply(tx: Tx, at: number, ctx: AuditContext, schedule: Schedule): Promise<{ flagVersion: number; config: FlagEnvironment; change: Change }>;
}

const DEFAULT_LIST_LIMIT = 100;

/**
 * Scheduled changes: create, edit and cancel them while pending, and run them when due. A run is
 * one transaction: claim (pending → running, conditional, so exactly one replica gets it), check
 * the late policy and for conflicting edits, make the change through FlagsService (so webhooks, SDK
 * updates, incident holds and release-plan pausing behave as for a manual change), record the
 * outcome and audit it — all committed together. A run that fails leaves the transaction rolled
 * back, and the failure is then recorded (audited) with its reason in a transaction of its own.
 */
export class SchedulesService {
  private readonly handlers: Record<StageAction['type'], ActionHandler>;

  constructor(
    private readonly w: Writes,
    flags: FlagsService,
    private readonly requests?: ChangeRequestsService,
  ) {
    const stageHandler: ActionHandler = {
      check(flag, config, action) {
        // The kill switch works on Git-managed flags (an incident must not wait for a merge); nothing else does.
        if (flag.managedBy !== null && action.type !== 'kill') throw lockedByGit('flag', flag.value.key, flag.managedBy);
        if (action.type !== 'stage' || action.stage === 'off') return;
        const release = releaseVariation(flag.value, config, action.variation);
        if (release === undefined || !flag.value.variations.some((v) => v.key === release)) {
          throw AppError.invalid('body.action.variation', release === undefined ? 'this flag has no variation to release; name one in "variation"' : `unknown variation "${release}"`);
        }
      },
      async apply(tx, at, ctx, schedule) {
        const action = schedule.action as StageAction;
        const stage = action.type === 'kill' ? 'kill' : action.stage;
        const variation = action.type === 'stage' ? action.variation : undefined;
        // A policy set after scheduling wins: the run fails with the reason instead of skipping approval.
        if (stage !== 'kill') await assertDirectWriteAllowed(w.repos, tx, `moving flag "${schedule.flagKey}" to ${stage} as scheduled`, schedule.environment);
        const { value, change } = await flags.stageIn(tx, at, ctx, schedule.flagKey, schedule.environment, stage, variation, undefined);
        return { flagVersion: value.value.version, config: configIn(value.value, schedule.environment), change };
      },
    };
    this.handlers = { stage: stageHandler, kill: stageHandler };
  }

  now(): number {
    return this.w.now();
  }

  async list(query: Partial<ScheduleQuery>): Promise<Schedule[]> {
    return this.w.read((tx) => this.w.repos.schedules.list(tx, { ...query, limit: query.limit ?? DEFAULT_LIST_LIMIT }));
  }

  async get(id: number): Promise<Schedule> {
    const found = await this.w.read((tx) => this.w.repos.schedules.get(tx, id));
    if (!found) throw AppError.notFound('schedule', id);
    return found;
  }

  async create(flagKey: string, environment: string, input: ScheduleInput, ctx: AuditContext): Promise<Schedule> {
    const action = toAction(input.action);
    const due = instant(input.at);
    return this.w.write(ctx, async (tx, now) => {
      const problem = timeProblem(due, now);
      if (problem) throw AppError.invalid('body.at', problem);
      // Where changes need approval, a scheduled stage move would bypass it (a kill never waits).
      if (action.type !== 'kill') await assertDirectWriteAllowed(this.w.repos, tx, `scheduling flag "${flagKey}" to move to ${action.stage}`, environment);
      const { flag, config } = await this.target(tx, flagKey, environment, action);
      const message = input.message?.trim() ? input.message : null;
      const schedule = await this.w.repos.schedules.insert(tx, {
        flagKey,
        environment,
        at: due,
        action,
        message,
        onLate: input.onLate ?? 'run',
        graceMs: input.graceSeconds === undefined ? DEFAULT_GRACE_MS : input.graceSeconds * 1000,
        ifChanged: input.ifChanged ?? 'fail',
        baseVersion: flag.value.version,
        baseline: baselineOf(action, config),
        status: 'pending',
        createdAt: now,
        createdBy: ctx.actor,
        updatedAt: now,
        updatedBy: ctx.actor,
        version: 1,
        executedAt: null,
        lateByMs: null,
        outcome: null,
        resultVersion: null,
        auditId: null,
      });
      return { value: schedule, change: { audit: [scheduleEntry('schedule.created', null, schedule)] } };
    });
  }

  /**
   * Apply an approved change request at a time. Only an approved request can be scheduled (and once:
   * a second pending schedule of it is a 409). When due, it is applied as `requests apply` would be,
   * in the transaction that claims the schedule: if it is no longer approved (rejected, withdrawn,
   * rebased and its approvals started over, applied by hand) or anything it touches changed since it
   * was made, the run fails with the reason (audited) and changes nothing. Listed under the request's
   * environment and its first flag.
   */
  async scheduleRequest(requestId: number, input: RequestScheduleInput, ctx: AuditContext): Promise<Schedule> {
    const due = instant(input.at);
    if (!this.requests) throw new Error('SchedulesService: change requests are not wired');
    const { request, policy, counted } = await this.requests.get(requestId);
    return this.w.write(ctx, async (tx, now) => {
      const problem = timeProblem(due, now);
      if (problem) throw AppError.invalid('body.at', problem);
      // Read again in this transaction: approved now, not only when the view above was read.
      const current = await this.w.repos.changeRequests.get(tx, requestId);
      if (!current) throw AppError.notFound('change request', requestId);
      // Approved, or open where no policy asks for approvals (as `requests apply` would take it).
      if (current.status !== 'approved' && !(current.status === 'open' && isApproved(policy, current))) {
        const needs = current.status === 'open' ? ` (it has ${counted} of the ${policy.approvals} approval${policy.approvals === 1 ? '' : 's'} it needs)` : '';
        throw new AppError('conflict', `change request ${requestId} is ${current.status}${needs}: only an approved request can be scheduled`);
      }
      const pending = await this.w.repos.schedules.list(tx, { environment: current.environment, statuses: ['pending'], limit: 1000 });
      const twin = pending.find((p) => p.action.type === 'change_request' && p.action.requestId === requestId);
      if (twin) throw new AppError('conflict', `change request ${requestId} is already scheduled (schedule ${twin.id}, at ${iso(twin.at)}): edit or cancel that one`);
      const firstFlag = request.changes.flatMap((c) => (c.type === 'segment' ? [] : [c.flag]))[0];
      const message = input.message?.trim() ? input.message : null;
      const schedule = await this.w.repos.schedules.insert(tx, {
        flagKey: firstFlag ?? '',
        environment: current.environment,
        at: due,
        action: { type: 'change_request', requestId },
        message,
        onLate: input.onLate ?? 'run',
        graceMs: input.graceSeconds === undefined ? DEFAULT_GRACE_MS : input.graceSeconds * 1000,
        // A request never overwrites changes made since: applying it refuses them (and it can be rebased).
        ifChanged: 'fail',
        baseVersion: current.version,
        baseline: {},
        status: 'pending',
        createdAt: now,
        createdBy: ctx.actor,
        updatedAt: now,
        updatedBy: ctx.actor,
        version: 1,
        executedAt: null,
        lateByMs: null,
        outcome: null,
        resultVersion: null,
        auditId: null,
      });
      return { value: schedule, change: { audit: [scheduleEntry('schedule.created', null, schedule)] } };
    });
  }

  /**
   * Edit a pending schedule. A new action is checked and re-baselined against the flag as it is
   * now (the editor has seen it); other edits keep the baseline, so a conflict stays a conflict.
   */
  async update(id: number, patch: SchedulePatch, expected: number | undefined, ctx: AuditContext): Promise<Schedule> {
    const action = patch.action === undefined ? undefined : toAction(patch.action);
    const due = patch.at === undefined ? undefined : instant(patch.at);
    return this.w.write(ctx, async (tx, now) => {
      const before = await this.open(tx, id, expected, 'edit');
      if (before.action.type === 'change_request') {
        if (action !== undefined) throw AppError.invalid('body.action', `schedule ${id} applies change request ${before.action.requestId}; to do something else, cancel it and schedule that`);
        if (patch.ifChanged === 'apply') throw AppError.invalid('body.ifChanged', 'a change request is never applied over changes made since it was made: rebase it instead');
      }
      const after: Schedule = { ...before, updatedAt: now, updatedBy: ctx.actor, version: before.version + 1 };
      if (due !== undefined) {
        const problem = timeProblem(due, now);
        if (problem) throw AppError.invalid('body.at', problem);
        after.at = due;
      }
      if (action !== undefined) {
        if (action.type !== 'kill') await assertDirectWriteAllowed(this.w.repos, tx, `scheduling flag "${before.flagKey}" to move to ${action.stage}`, before.environment);
        const { flag, config } = await this.target(tx, before.flagKey, before.environment, action);
        Object.assign(after, { action, baseVersion: flag.value.version, baseline: baselineOf(action, config) });
      }
      if (patch.message !== undefined) after.message = patch.message?.trim() ? patch.message : null;
      if (patch.onLate !== undefined) after.onLate = patch.onLate;
      if (patch.graceSeconds !== undefined) after.graceMs = patch.graceSeconds * 1000;
      if (patch.ifChanged !== undefined) after.ifChanged = patch.ifChanged;
      if (!(await this.w.repos.schedules.update(tx, after, 'pending', before.version))) throw new RowMoved(`schedule ${id}`);
      return { value: after, change: { audit: [scheduleEntry('schedule.updated', before, after)] } };
    });
  }

  async cancel(id: number, expected: number | undefined, ctx: AuditContext): Promise<Schedule> {
    return this.w.write(ctx, async (tx, now) => {
      const before = await this.open(tx, id, expected, 'cancel');
      const after: Schedule = { ...before, status: 'cancelled', updatedAt: now, updatedBy: ctx.actor, version: before.version + 1 };
      if (!(await this.w.repos.schedules.update(tx, after, 'pending', before.version))) throw new RowMoved(`schedule ${id}`);
      return { value: after, change: { audit: [scheduleEntry('schedule.cancelled', before, after)] } };
    });
  }

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

  /** A pending schedule (at the expected version, when given), or the error saying why not. */
  private async open(tx: Tx, id: number, expected: number | undefined, verb: 'edit' | 'cancel'): Promise<Schedule> {
    const found = await this.w.repos.schedules.get(tx, id);
    if (!found) throw AppError.notFound('schedule', id);
    if (!isOpen(found)) {
      const when = found.executedAt !== null ? ` at ${iso(found.executedAt)}` : '';
      throw new AppError('conflict', `schedule ${id} is ${found.status}${when}: only a pending schedule can be ${verb === 'edit' ? 'edited' : 'cancelled'}`);
    }
    checkVersion(`schedule ${id}`, found, expected);
    return found;
  }

  /** The flag and its configuration an action would change, checked as a manual change would be. */
  private async target(tx: Tx, flagKey: string, environment: string, action: StageAction): Promise<{ flag: Managed<Flag>; config: FlagEnvironment }> {
    const flag = await this.w.repos.flags.get(tx, flagKey);
    if (!flag) throw AppError.notFound('flag', flagKey);
    const config = configIn(flag.value, environment);
    this.handlers[action.type].check(flag, config, action);
    return { flag, config };
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function instant(text: string): number {
  const parsed = parseInstant(text);
  if (typeof parsed === 'string') throw AppError.invalid('body.at', parsed);
  return parsed;
}

/** A stage given as text, checked; `kill` as a stage is the kill action. */
function toAction(input: ScheduleActionInput): StageAction {
  if (input.type === 'kill') return { type: 'kill' };
  const stage = parseStage(input.stage);
  if (!stage) throw AppError.invalid('body.action.stage', `unknown stage "${input.stage}": use off, dogfood, kill, or a percentage such as 10% or 0.5% (at most 3 decimals)`);
  if (stage === 'kill') return { type: 'kill' };
  return { type: 'stage', stage, ...(input.variation !== undefined ? { variation: input.variation } : {}) };
}

/** The scheduler acts; the message says who scheduled it (and edited it), and why. */
function executionContext(schedule: Schedule, lateByMs = 0): AuditContext {
  const who = schedule.updatedBy !== schedule.createdBy ? `scheduled by ${schedule.createdBy}, last edited by ${schedule.updatedBy}` : `scheduled by ${schedule.createdBy}`;
  const late = lateByMs > 0 ? `, ran ${formatDuration(lateByMs)} late` : '';
  return { actor: SCHEDULER_ACTOR, source: 'scheduler', message: `${who} (schedule ${schedule.id}${late})${schedule.message ? `: ${schedule.message}` : ''}` };
}

function scheduleEntry(action: string, before: Schedule | null, after: Schedule, message?: string): AuditWrite {
  return { action, resourceType: 'schedule', resourceKey: String(after.id), environment: after.environment, before, after, ...(message !== undefined ? { message } : {}) };
}
