import type { LatePolicy, Schedule, ScheduleAction, ScheduleRequest } from '../api/schedules.js';
import { describeStage, nextStep, parsePercentage, STEPS } from './stages.js';
import { formatOffset, toWallInput, zonedToUtc } from './timezone.js';

/**
 * The schedule form and how schedules read, as pure functions: what the form holds, the request
 * it makes (the time typed in the viewer's zone, sent as UTC), and the words the lists use.
 */

/** The ramp's stages, a custom percentage, or the kill switch. */
export type ScheduleChoice = string;
export const CUSTOM = 'custom';
export const KILL = 'kill';
export const SCHEDULE_CHOICES: readonly { value: ScheduleChoice; label: string }[] = [
  ...STEPS.map((s) => ({ value: s.stage, label: `Move to ${s.label}` })),
  { value: CUSTOM, label: 'Move to a custom percentage…' },
  { value: KILL, label: 'Kill (off for everyone)' },
];

export interface ScheduleFormState {
  choice: ScheduleChoice;
  /** With `custom`: `25`, `0.5`. */
  percent: string;
  /** A variation to release (non-boolean flags); '' for the current one. */
  variation: string;
  /** Wall time in the viewer's zone, as `<input type="datetime-local">` gives it. */
  when: string;
  onLate: LatePolicy;
  message: string;
  /** An action the form does not choose (a change request's apply): kept as it is, only time and policies change. */
  fixed?: ScheduleAction;
}

/** Field names match the API's error paths (`body.at`, `body.action.stage`…) relative to `body`. */
export type ScheduleField = 'at' | 'action.stage' | 'action.variation' | 'message' | 'onLate';

const HOUR = 3_600_000;

/** A new form: the next stage up the ramp, at the first full hour at least 10 minutes away. */
export function newScheduleForm(now: number, timeZone: string, currentStage: string): ScheduleFormState {
  const choice = nextStep(currentStage)?.stage ?? 'off';
  return { choice, percent: '', variation: '', when: toWallInput(Math.ceil((now + 10 * 60_000) / HOUR) * HOUR, timeZone).slice(0, 16), onLate: 'run', message: '' };
}

/** The form for editing a pending schedule: its time in the viewer's zone. */
export function scheduleToForm(schedule: Schedule, timeZone: string): ScheduleFormState {
  const at = new Date(schedule.at).getTime();
  const wall = toWallInput(at, timeZone);
  const when = wall.endsWith(':00') ? wall.slice(0, 16) : wall;
  const base = { when, onLate: schedule.onLate, message: schedule.message ?? '', percent: '', variation: '' };
  if (schedule.action.type === 'kill') return { ...base, choice: KILL };
  if (schedule.action.type === 'change_request') return { ...base, choice: KILL, fixed: schedule.action };
  const { stage, variation = '' } = schedule.action;
  const onRamp = STEPS.some((s) => s.stage === stage);
  return { ...base, choice: onRamp ? stage : CUSTOM, percent: onRamp ? '' : stage.replace(/%$/, ''), variation };
}

export type ScheduleFormResult = { ok: true; request: ScheduleRequest; note?: string } | { ok: false; errors: Map<ScheduleField, string> };

/**
 * The request body for the form's values, or what is wrong with them (a time that does not exist
 * in the viewer's zone, a malformed percentage). The server checks the rest (a time in the past,
 * approval policies, Git-managed flags) and answers in its own words.
 */
export function scheduleRequest(form: ScheduleFormState, timeZone: string): ScheduleFormResult {
  const errors = new Map<ScheduleField, string>();
  let action: ScheduleAction | undefined;
  if (form.fixed) action = form.fixed;
  else if (form.choice === KILL) action = { type: 'kill' };
  else {
    let stage = form.choice;
    if (form.choice === CUSTOM) {
      const parsed = parsePercentage(form.percent);
      if ('error' in parsed) errors.set('action.stage', parsed.error);
      else stage = parsed.stage;
    }
    action = { type: 'stage', stage, ...(form.variation && stage !== 'off' ? { variation: form.variation } : {}) };
  }
  const when = zonedToUtc(form.when, timeZone);
  if (!when.ok) errors.set('at', when.error);
  if (errors.size > 0 || !when.ok) return { ok: false, errors };
  const message = form.message.trim();
  const note = when.ambiguous
    ? `${form.when.replace('T', ' ')} happens twice in ${timeZone} (the clocks go back): this is the first, at ${formatOffset(when.offsetMinutes)}, not the second at ${formatOffset(when.ambiguous.laterOffsetMinutes)}.`
    : undefined;
  return { ok: true, request: { at: new Date(when.utcMs).toISOString(), action, onLate: form.onLate, ...(message ? { message } : {}) }, ...(note ? { note } : {}) };
}

function sameAction(a: ScheduleAction, b: ScheduleAction): boolean {
  if (a.type === 'stage') return b.type === 'stage' && a.stage === b.stage && (a.variation ?? '') === (b.variation ?? '');
  if (a.type === 'change_request') return b.type === 'change_request' && a.requestId === b.requestId;
  return a.type === b.type;
}

/**
 * What an edit sends: only what changed. An unchanged action is left out on purpose: the server
 * re-records a new action against the flag as it is now, which would hide a conflicting change made
 * since the schedule was created.
 */
export function schedulePatch(original: Schedule, request: ScheduleRequest): Partial<ScheduleRequest> & { version: number } {
  const patch: Partial<ScheduleRequest> & { version: number } = { version: original.version };
  if (new Date(request.at).getTime() !== new Date(original.at).getTime()) patch.at = request.at;
  if (!sameAction(original.action, request.action)) patch.action = request.action;
  if ((request.message ?? null) !== original.message) patch.message = request.message ?? null;
  if (request.onLate !== undefined && request.onLate !== original.onLate) patch.onLate = request.onLate;
  return patch;
}

/** "Move to 50%", "Move to 10% (variation blue)", "Kill", "Apply change request #7". */
export function actionLabel(action: ScheduleAction): string {
  if (action.type === 'kill') return 'Kill';
  if (action.type === 'change_request') return `Apply change request #${action.requestId}`;
  return `Move to ${describeStage(action.stage).label}${action.variation ? ` (variation ${action.variation})` : ''}`;
}

/** The late policy in words: what happens when the server was down at the time. */
export function latePolicyLabel(schedule: Pick<Schedule, 'onLate' | 'graceSeconds'>): string {
  const grace = schedule.graceSeconds % 60 === 0 ? `${schedule.graceSeconds / 60} min` : `${schedule.graceSeconds} s`;
  return schedule.onLate === 'skip' ? `If over ${grace} late: skip` : `If over ${grace} late: run anyway`;
}

export const STATUS_LABELS: Record<Schedule['status'], string> = {
  pending: 'Pending',
  running: 'Running',
  executed: 'Executed',
  skipped: 'Skipped',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** "scheduled by alice", "scheduled by alice, edited by bob". */
export function whoLabel(schedule: Pick<Schedule, 'createdBy' | 'updatedBy'>): string {
  return schedule.updatedBy !== schedule.createdBy ? `scheduled by ${schedule.createdBy}, edited by ${schedule.updatedBy}` : `scheduled by ${schedule.createdBy}`;
}

const millis = (iso: string | null) => (iso === null ? 0 : new Date(iso).getTime());

/** Soonest first (ties: the one scheduled first). */
export function soonestFirst(items: readonly Schedule[]): Schedule[] {
  return [...items].sort((a, b) => millis(a.at) - millis(b.at) || a.id - b.id);
}

/** Finished ones, the latest run (or due time) first, at most `limit`. */
export function latestFirst(items: readonly Schedule[], limit: number): Schedule[] {
  return [...items].sort((a, b) => millis(b.executedAt ?? b.at) - millis(a.executedAt ?? a.at) || b.id - a.id).slice(0, limit);
}

const OVERDUE_MS = 30_000;
const OVERDUE_POLL_MS = 15_000;

/**
 * When to look again: shortly after the soonest pending schedule is due (the server's scheduler
 * looks every 2 s), at least `min` from now and at most `max` (a timer set days ahead is useless).
 */
export function nextCheckDelay(pending: readonly Pick<Schedule, 'at'>[], now: number, { min = 1000, max = 5 * 60_000, after = 2500 } = {}): number | undefined {
  if (pending.length === 0) return undefined;
  const soonest = Math.min(...pending.map((s) => millis(s.at)));
  // Long overdue and still pending: the server is not running it (down, or no leader); look less often.
  if (now - soonest > OVERDUE_MS) return Math.min(max, OVERDUE_POLL_MS);
  return Math.min(max, Math.max(min, soonest - now + after));
}

const FORM_FIELDS: readonly ScheduleField[] = ['at', 'action.stage', 'action.variation', 'message', 'onLate'];

/**
 * A refusal from the server, in its own words: each message naming a field of the form (`body.at`:
 * "… is in the past") goes next to that field; the rest (an approval policy, a Git-managed flag,
 * a conflict) is shown as the error of the whole form.
 */
export function splitServerErrors(message: string, details: readonly { path: string; message: string }[]): { fields: Map<ScheduleField, string[]>; general: string[] } {
  const fields = new Map<ScheduleField, string[]>();
  const general: string[] = [];
  for (const detail of details) {
    const path = detail.path.replace(/^body\.?/, '');
    const field = FORM_FIELDS.find((f) => path === f || path.startsWith(`${f}.`)) ?? (path === 'action' || path === 'action.type' ? 'action.stage' : undefined);
    if (field) fields.set(field, [...(fields.get(field) ?? []), detail.message]);
    else general.push(path ? `${path}: ${detail.message}` : detail.message);
  }
  if (fields.size === 0 && general.length === 0) general.push(message);
  return { fields, general };
}
