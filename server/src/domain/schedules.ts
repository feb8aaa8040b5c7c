import type { FlagEnvironment } from './flags.js';
import { DOGFOOD_RULE_ID, type ReleaseStage } from './stages.js';

/**
 * Scheduled changes: "at 09:00 UTC on Tuesday move `new-checkout` to 50% in production", or a kill at
 * a time. Times are epoch milliseconds (UTC) everywhere; only the API's edges speak ISO-8601.
 *
 * A schedule records the flag's version and the fields its action will touch, as they were when it
 * was made (its baseline). When it runs, a change to those fields since then is a conflict: the run
 * fails with the reason recorded rather than overwriting someone's newer change, unless the schedule
 * says `ifChanged: "apply"`. Changes elsewhere (other environments, other rules, the flag's
 * metadata) are not conflicts.
 */

/**
 * What a schedule does. A new kind (applying an approved change request) is a new member of this
 * union plus a handler in services/schedules (see `ScheduledActionHandler` there): the claiming,
 * late policy, auditing and failure recording stay as they are.
 */
export type ScheduleAction = { type: 'stage'; stage: ReleaseStage; variation?: string } | { type: 'kill' } | { type: 'change_request'; requestId: number };
export type ScheduleActionType = ScheduleAction['type'];
export const SCHEDULE_ACTION_TYPES = ['stage', 'kill', 'change_request'] as const satisfies readonly ScheduleActionType[];
/** The actions that change one flag's stage (a change request's schedule applies the request instead). */
export type StageAction = Exclude<ScheduleAction, { type: 'change_request' }>;

/**
 * pending → executed | skipped | failed, or pending → cancelled. `running` exists only inside the
 * transaction that claims and applies a schedule: nothing outside it ever sees that status.
 */
export const SCHEDULE_STATUSES = ['pending', 'running', 'executed', 'skipped', 'failed', 'cancelled'] as const;
export type ScheduleStatus = (typeof SCHEDULE_STATUSES)[number];

/** What to do with a schedule found due more than its grace period late (the server was down). */
export const LATE_POLICIES = ['run', 'skip'] as const;
export type LatePolicy = (typeof LATE_POLICIES)[number];

/** What to do when the fields the action touches changed since the schedule was made. */
export const IF_CHANGED_POLICIES = ['fail', 'apply'] as const;
export type IfChangedPolicy = (typeof IF_CHANGED_POLICIES)[number];

/** Runs up to this late are on time (the scheduler looks every few seconds). */
export const DEFAULT_GRACE_MS = 5 * 60_000;
export const MAX_GRACE_MS = 7 * 24 * 60 * 60_000;
/** Further ahead than this is more likely a typo (a year off) than a plan. */
export const MAX_AHEAD_MS = 5 * 366 * 24 * 60 * 60_000;

/** The fields of a flag's environment an action touches, as they were (or are). */
export type Baseline = Record<string, unknown>;

export interface Schedule {
  id: number;
  flagKey: string;
  environment: string;
  at: number;
  action: ScheduleAction;
  message: string | null;
  onLate: LatePolicy;
  graceMs: number;
  ifChanged: IfChangedPolicy;
  /** The flag's version when the schedule was made (or its action last edited). */
  baseVersion: number;
  baseline: Baseline;
  status: ScheduleStatus;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  updatedBy: string;
  /** Bumped by every edit: a run claims the version it read, never an edited one it did not. */
  version: number;
  /** When it ran, was skipped or failed. */
  executedAt: number | null;
  /** How late it ran (or was skipped), when that was more than its grace period. */
  lateByMs: number | null;
  /** Why it failed or was skipped; what it did when it ran. */
  outcome: string | null;
  /** The flag's version after the run. */
  resultVersion: number | null;
  /** The audit entry of the flag change it made. */
  auditId: number | null;
}

export type NewSchedule = Omit<Schedule, 'id'>;

export interface ScheduleQuery {
  flagKey?: string;
  environment?: string;
  statuses?: readonly ScheduleStatus[];
  limit: number;
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * An ISO-8601 instant with an explicit zone (`Z` or an offset): `2026-12-08T09:00Z`,
 * `2026-12-08T10:00:00+01:00`. A time without a zone is refused rather than guessed: the server's
 * zone is nobody's intent. Returns epoch ms, or a sentence saying what is wrong.
 */
export function parseInstant(text: string): number | string {
  const m = ISO_TIME.exec(text.trim());
  if (!m) return `"${text}" is not an ISO-8601 time with a zone, such as 2026-12-08T09:00Z or 2026-12-08T10:00:00+01:00`;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return `"${text}" is not a valid date and time`;
  const local = Date.UTC(year, month - 1, day, hour, minute, second, fraction);
  // Date.UTC rolls Feb 30 over into March: a date that does not exist is refused.
  if (new Date(local).getUTCDate() !== day || year < 1970) return `"${text}" is not a valid date and time`;
  const zone = m[8]!;
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const hours = Number(digits.slice(0, 2));
    const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (hours > 23 || minutes > 59) return `"${text}" has an invalid UTC offset`;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
  }
  return local - offsetMinutes * 60_000;
}

/** Why `at` cannot be scheduled now, or undefined. */
export function timeProblem(at: number, now: number): string | undefined {
  if (at <= now) return `${new Date(at).toISOString()} is in the past (the server's time is ${new Date(now).toISOString()}); schedule a time in the future`;
  if (at - now > MAX_AHEAD_MS) return `${new Date(at).toISOString()} is more than 5 years ahead`;
  return undefined;
}

/** The dogfood rule, which a stage change rewrites (other rules it keeps). */
function dogfoodRuleOf(config: FlagEnvironment): unknown {
  return config.rules.find((r) => r.id === DOGFOOD_RULE_ID) ?? null;
}

/**
 * The fields `action` touches in a flag's environment: a change to any of them since is a conflict.
 * A change request's schedule has none of its own: the request records the versions its changes were
 * made against, and applying it refuses when anything it touches moved.
 */
export function baselineOf(action: ScheduleAction, config: FlagEnvironment): Baseline {
  if (action.type === 'change_request') return {};
  if (action.type === 'kill') return { on: config.on, killed: config.killed };
  return { on: config.on, killed: config.killed, offVariation: config.offVariation, defaultServe: config.defaultServe, dogfoodRule: dogfoodRuleOf(config) };
}

/** Which baseline fields differ now (empty: no conflict). Key order never matters. */
export function changedFields(action: ScheduleAction, baseline: Baseline, config: FlagEnvironment): string[] {
  const now = baselineOf(action, config);
  return Object.keys(now).filter((field) => canonical(now[field]) !== canonical(baseline[field]));
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v)) ?? 'undefined';
}

/** "move to 50%", "kill": for messages and the CLI. */
export function describeAction(action: ScheduleAction): string {
  if (action.type === 'kill') return 'kill';
  if (action.type === 'change_request') return `apply change request #${action.requestId}`;
  return `move to ${action.stage}${action.variation !== undefined ? ` (variation ${action.variation})` : ''}`;
}

/** How late a run at `now` is, and whether that is past the schedule's grace period. */
export function lateness(schedule: Pick<Schedule, 'at' | 'graceMs'>, now: number): { lateByMs: number; late: boolean } {
  const lateByMs = Math.max(0, now - schedule.at);
  return { lateByMs, late: lateByMs > schedule.graceMs };
}

/** "2 h 5 min", "40 s": how late, for people. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  return `${Math.floor(hours / 24)} days${hours % 24 ? ` ${hours % 24} h` : ''}`;
}

/** Only a pending schedule can be edited or cancelled. */
export function isOpen(schedule: Pick<Schedule, 'status'>): boolean {
  return schedule.status === 'pending';
}
