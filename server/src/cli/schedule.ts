import type { z } from 'zod';
import { parseInstant } from '../domain/schedules.js';
import type { scheduleResponse } from '../http/schedules.routes.js';
import { booleanOption, oneOf, positiveInteger, stringOption, type ParsedArgs } from './args.js';
import { path, printJson, type Command } from './command.js';
import { UsageError } from './errors.js';
import { checkStage } from './flags.js';
import { formatTable, formatTime } from './output.js';

/** Inferred from the server's own schema, so it cannot drift. */
export type ScheduleView = z.infer<typeof scheduleResponse>;

/** As the server spells them (domain/schedules.ts); checked here to fail before any request. */
const STATUSES = ['pending', 'executed', 'skipped', 'failed', 'cancelled'] as const;
const LATE = ['run', 'skip'] as const;
const IF_CHANGED = ['fail', 'apply'] as const;

const ID = { name: 'ID', description: 'The schedule id, from "switchyard schedule list"' } as const;
const MESSAGE = { type: 'string', value: 'TEXT', description: 'Why: recorded in the audit log (with who scheduled it)' } as const;
const AT = { type: 'string', value: 'TIME', description: 'When, ISO-8601 with a zone: 2026-12-08T09:00Z or 2026-12-08T10:00+01:00' } as const;
const STAGE = { type: 'string', value: 'STAGE', description: 'Move to this stage: off, dogfood, N% (e.g. 50%) or 100%' } as const;
const KILL = { type: 'boolean', description: 'Kill switch instead of a stage (allowed on Git-managed flags, as the kill switch is)' } as const;
const POLICIES = {
  'on-late': { type: 'string', value: 'POLICY', description: 'If the server was down at that time and finds it late: run (default) or skip' },
  'if-changed': { type: 'string', value: 'POLICY', description: 'If someone changed the stage meanwhile: fail (default, nothing is overwritten) or apply' },
  grace: { type: 'string', value: 'SECONDS', description: 'How late still counts as on time (default 300)' },
} as const;

/** `--at`, checked before any request (the server checks it again, and that it is in the future). */
function checkTime(text: string): string {
  const parsed = parseInstant(text);
  if (typeof parsed === 'string') throw new UsageError(`invalid --at: ${parsed}`, 'Give the zone: Z for UTC (2026-12-08T09:00Z) or an offset (2026-12-08T10:00+01:00).');
  return text;
}

/** `--stage S` or `--kill`, exactly one (when `required`). */
function actionOf(values: ParsedArgs['values'], required: boolean): { type: 'stage'; stage: string; variation?: string } | { type: 'kill' } | undefined {
  const stage = stringOption(values, 'stage');
  const kill = booleanOption(values, 'kill');
  const variation = stringOption(values, 'variation');
  if (stage !== undefined && kill) throw new UsageError('give --stage or --kill, not both');
  if (kill || (stage !== undefined && stage.trim() === 'kill')) return { type: 'kill' };
  if (stage !== undefined) return { type: 'stage', stage: checkStage(stage), ...(variation !== undefined ? { variation } : {}) };
  if (required) throw new UsageError('missing --stage or --kill', 'Say what to do then, e.g. --stage 50% or --kill');
  return undefined;
}

function policies(values: ParsedArgs['values']) {
  const onLate = stringOption(values, 'on-late');
  const ifChanged = stringOption(values, 'if-changed');
  const grace = stringOption(values, 'grace');
  return {
    ...(onLate !== undefined ? { onLate: oneOf(onLate, LATE, '--on-late') } : {}),
    ...(ifChanged !== undefined ? { ifChanged: oneOf(ifChanged, IF_CHANGED, '--if-changed') } : {}),
    ...(grace !== undefined ? { graceSeconds: grace === '0' ? 0 : positiveInteger(grace, '--grace', 7 * 24 * 3600) } : {}),
  };
}

export function describeScheduled(s: Pick<ScheduleView, 'action'>): string {
  if (s.action.type === 'kill') return 'kill';
  if (s.action.type === 'change_request') return `apply request #${s.action.requestId}`;
  return `→ ${s.action.stage}${s.action.variation ? ` (${s.action.variation})` : ''}`;
}

const add: Command = {
  name: 'schedule add',
  summary: 'Schedule a stage move or a kill of a flag in one environment',
  description:
    'Runs once at that time (within a few seconds), on one server replica, audited as "scheduler" with\n' +
    'who scheduled it. Times are stored in UTC. If the stage was changed by someone in between, the run\n' +
    'fails with the reason recorded instead of overwriting it (--if-changed apply overrides that).\n' +
    'A flag managed by Git can be scheduled to be killed, not moved.',
  arguments: [
    { name: 'KEY', description: 'The flag key, e.g. new-checkout' },
    { name: 'ENV', description: 'The environment key, e.g. production' },
  ],
  options: { at: AT, stage: STAGE, kill: KILL, variation: { type: 'string', value: 'KEY', description: 'Variation to release (non-boolean flags)' }, message: MESSAGE, ...POLICIES },
  examples: [
    'switchyard schedule add new-checkout production --at 2026-12-08T09:00Z --stage 50%',
    'switchyard schedule add new-checkout production --at 2026-12-08T18:00+01:00 --kill --message "promo ends"',
    'switchyard schedule add new-checkout production --at 2026-12-08T09:00Z --stage 100% --on-late skip',
  ],
  async run(context) {
    const [key, env] = context.positionals as [string, string];
    const at = stringOption(context.values, 'at');
    if (at === undefined) throw new UsageError('missing --at', 'Say when, e.g. --at 2026-12-08T09:00Z (UTC)');
    const body = { at: checkTime(at), action: actionOf(context.values, true), message: stringOption(context.values, 'message'), ...policies(context.values) };
    const response = await context.api.request<ScheduleView>('POST', `${path.flagEnvironment(key, env)}/schedules`, { body });
    if (context.json) return printJson(context.io, response);
    const s = response.data;
    context.io.out(`Scheduled ${s.flag} ${describeScheduled(s)} in ${s.environment} at ${formatTime(s.at)} (schedule ${s.id})\n`);
    context.io.err(`Cancel it with: switchyard schedule cancel ${s.id}\n`);
  },
};

const request: Command = {
  name: 'schedule request',
  summary: 'Schedule the apply of an approved change request',
  description:
    'Runs once at that time, on one server replica, as "scheduler" with who scheduled it. Only an\n' +
    'approved request can be scheduled. If by then it is no longer approved (rejected, withdrawn,\n' +
    'rebased) or anything it changes was changed since, the run fails with the reason and changes nothing.',
  arguments: [{ name: 'ID', description: 'The change request id, from "switchyard requests list"' }],
  options: { at: AT, message: MESSAGE, 'on-late': POLICIES['on-late'], grace: POLICIES.grace },
  examples: ['switchyard schedule request 12 --at 2026-12-08T09:00Z', 'switchyard schedule request 12 --at 2026-12-08T09:00+01:00 --message "launch" --on-late skip'],
  async run(context) {
    const id = positiveInteger(context.positionals[0]!, 'ID', 2_147_483_647);
    const at = stringOption(context.values, 'at');
    if (at === undefined) throw new UsageError('missing --at', 'Say when, e.g. --at 2026-12-08T09:00Z (UTC)');
    const body = { at: checkTime(at), message: stringOption(context.values, 'message'), ...policies(context.values) };
    const response = await context.api.request<ScheduleView>('POST', `/api/change-requests/${id}/schedule`, { body });
    if (context.json) return printJson(context.io, response);
    const s = response.data;
    context.io.out(`Scheduled the apply of change request #${id} in ${s.environment} at ${formatTime(s.at)} (schedule ${s.id})\n`);
    context.io.err(`Cancel it with: switchyard schedule cancel ${s.id}\n`);
  },
};

const list: Command = {
  name: 'schedule list',
  summary: 'List scheduled changes, soonest first (upcoming ones unless --status or --all)',
  arguments: [],
  options: {
    flag: { type: 'string', value: 'KEY', description: 'Only this flag' },
    env: { type: 'string', value: 'ENV', description: 'Only this environment' },
    status: { type: 'string', value: 'STATUS', description: `${STATUSES.join(', ')} (default: pending)` },
    all: { type: 'boolean', description: 'Every status, including what ran, failed or was cancelled' },
  },
  examples: ['switchyard schedule list', 'switchyard schedule list --flag new-checkout --all', 'switchyard schedule list --env production --status failed --json'],
  async run(context) {
    const status = stringOption(context.values, 'status');
    const all = booleanOption(context.values, 'all');
    if (status !== undefined && all) throw new UsageError('give --status or --all, not both');
    const query: Record<string, string> = {};
    const flag = stringOption(context.values, 'flag');
    const env = stringOption(context.values, 'env');
    if (flag !== undefined) query.flag = flag;
    if (env !== undefined) query.environment = env;
    if (!all) query.status = status === undefined ? 'pending' : oneOf(status, STATUSES, '--status');
    const response = await context.api.request<{ items: ScheduleView[] }>('GET', '/api/schedules', { query });
    if (context.json) return printJson(context.io, response);
    const items = response.data.items;
    if (items.length === 0) return context.io.out(all || status ? 'No scheduled changes.\n' : 'No upcoming scheduled changes. Add one with: switchyard schedule add KEY ENV --at TIME --stage 50%\n');
    const rows = items.map((s) => [String(s.id), s.flag, s.environment, describeScheduled(s), formatTime(s.at), s.status, s.createdBy, s.outcome ?? s.message ?? '']);
    context.io.out(formatTable(['ID', { header: 'FLAG', maxWidth: 40 }, 'ENV', 'ACTION', 'AT (UTC)', 'STATUS', 'BY', { header: 'NOTE', maxWidth: 60 }], rows));
  },
};

const edit: Command = {
  name: 'schedule edit',
  summary: 'Change the time, action, message or policies of a pending scheduled change',
  arguments: [ID],
  options: { at: AT, stage: STAGE, kill: KILL, variation: { type: 'string', value: 'KEY', description: 'Variation to release (with --stage)' }, message: MESSAGE, ...POLICIES },
  examples: ['switchyard schedule edit 3 --at 2026-12-09T09:00Z', 'switchyard schedule edit 3 --stage 25%'],
  async run(context) {
    const id = positiveInteger(context.positionals[0]!, 'ID', 2_147_483_647);
    const at = stringOption(context.values, 'at');
    const action = actionOf(context.values, false);
    const message = stringOption(context.values, 'message');
    const body = { ...(at !== undefined ? { at: checkTime(at) } : {}), ...(action ? { action } : {}), ...(message !== undefined ? { message } : {}), ...policies(context.values) };
    if (Object.keys(body).length === 0) throw new UsageError('nothing to change', 'Give --at, --stage, --kill, --message, --on-late, --if-changed or --grace.');
    const response = await context.api.request<ScheduleView>('PATCH', `/api/schedules/${id}`, { body });
    if (context.json) return printJson(context.io, response);
    const s = response.data;
    context.io.out(`Schedule ${s.id}: ${s.flag} ${describeScheduled(s)} in ${s.environment} at ${formatTime(s.at)}\n`);
  },
};

const cancel: Command = {
  name: 'schedule cancel',
  summary: 'Cancel a pending scheduled change',
  arguments: [ID],
  options: { message: MESSAGE },
  examples: ['switchyard schedule cancel 3', 'switchyard schedule cancel 3 --message "launch moved"'],
  async run(context) {
    const id = positiveInteger(context.positionals[0]!, 'ID', 2_147_483_647);
    const message = stringOption(context.values, 'message');
    const response = await context.api.request<ScheduleView>('DELETE', `/api/schedules/${id}`, { body: message !== undefined ? { message } : {} });
    if (context.json) return printJson(context.io, response);
    const s = response.data;
    context.io.out(`Cancelled schedule ${s.id} (${s.flag} ${describeScheduled(s)} in ${s.environment} at ${formatTime(s.at)})\n`);
  },
};

export const scheduleCommands: readonly Command[] = [add, request, list, edit, cancel];
