import type { AuditContext } from '../../domain/audit.js';
import { isApproved } from '../../domain/change-requests.js';
import { AppError } from '../../domain/errors.js';
import type { Flag, FlagEnvironment, Managed } from '../../domain/flags.js';
import { DEFAULT_GRACE_MS, baselineOf, isOpen, parseInstant, timeProblem, type IfChangedPolicy, type LatePolicy, type Schedule, type ScheduleQuery, type StageAction } from '../../domain/schedules.js';
import { parseStage } from '../../domain/stages.js';
import { checkVersion } from '../../domain/versions.js';
import type { Tx } from '../../store/ports.js';
import type { ChangeRequestsService } from '../change-requests/change-requests.service.js';
import { assertDirectWriteAllowed } from '../change-requests/policy-guard.js';
import { configIn, type FlagsService } from '../flags.service.js';
import { RowMoved, type Writes } from '../write.js';
import { actionHandlers, type ActionHandler } from './action-handlers.js';
import { ScheduleRuns, iso, scheduleEntry, type RunOutcome } from './schedule-runs.js';

export { SCHEDULER_ACTOR, type RunOutcome } from './schedule-runs.js';

/** An action as a client sends it: a stage as text (`50%`, `kill`…). A change request is scheduled with `scheduleRequest`. */
export type ScheduleActionInput = { type: 'stage'; stage: string; variation?: string } | { type: 'kill' };

/** Applying an approved change request at a time: everything a schedule has but its action and `ifChanged`. */
export type RequestScheduleInput = Omit<ScheduleInput, 'action' | 'ifChanged'>;

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

const DEFAULT_LIST_LIMIT = 100;

/**
 * Scheduled changes: create, edit and cancel them while pending; running them when due is
 * ScheduleRuns' (schedule-runs.ts).
 */
export class SchedulesService {
  private readonly handlers: Record<StageAction['type'], ActionHandler>;
  private readonly runs: ScheduleRuns;

  constructor(
    private readonly w: Writes,
    flags: FlagsService,
    private readonly requests?: ChangeRequestsService,
  ) {
    this.handlers = actionHandlers(w, flags);
    this.runs = new ScheduleRuns(w, this.handlers, requests);
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
  due(limit: number): Promise<Schedule[]> {
    return this.runs.due(limit);
  }

  /** Run a due schedule (see ScheduleRuns.run). */
  run(due: Schedule): Promise<RunOutcome> {
    return this.runs.run(due);
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

