import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import type { changeRequestResponse, policyResponse } from '../http/change-requests.routes.js';
import { booleanOption, oneOf, positiveInteger, stringOption } from './args.js';
import { printJson, type Command, type CommandContext } from './command.js';
import { CommandError, UsageError } from './errors.js';
import { formatFields, formatTable, formatTime } from './output.js';

/** Inferred from the server's own schemas, so they cannot drift. */
export type ChangeRequestView = z.infer<typeof changeRequestResponse>;
export type PolicyView = z.infer<typeof policyResponse>;

/** As the server spells them (domain/change-requests.ts); checked here to fail before any request. */
const STATUSES = ['open', 'approved', 'applied', 'rejected', 'withdrawn'] as const;
const ROLES = ['editor', 'admin'] as const;
const MAX_ID = 2_147_483_647;

const ID = { name: 'ID', description: 'The change request id, from "switchyard requests list"' } as const;
const idOf = (context: CommandContext) => positiveInteger(context.positionals[0]!, 'ID', MAX_ID);
const requestPath = (id: number, action = '') => `/api/change-requests/${id}${action ? `/${action}` : ''}`;

/** `new-checkout → 10%`, `new-checkout targeting`, `segment internal`, `new-checkout release plan start`. */
function describeChange(c: ChangeRequestView['changes'][number]): string {
  if (c.type === 'segment') return `segment ${c.segment}`;
  if (c.type === 'release') return `${c.flag} release plan ${c.action ?? 'start'} (plan version ${c.planVersion ?? '?'})`;
  return c.type === 'stage' ? `${c.flag} → ${c.stage}` : `${c.flag} targeting`;
}

const approvalsText = (r: ChangeRequestView) => (r.approvalsNeeded === 0 ? 'no policy' : `${r.approvalsCounted}/${r.approvalsNeeded}`);

/** One line saying what happened, then what can be done next. */
function printOutcome(context: CommandContext, r: ChangeRequestView, verb: string): void {
  context.io.out(`${verb} change request ${r.id} "${r.title}" (${r.environment}): ${r.status}, approvals ${approvalsText(r)}\n`);
}

/** The whole request: fields, every change with its diff, approvals and comments. */
export function formatRequest(r: ChangeRequestView): string {
  const fields = formatFields([
    ['Request', `${r.id} ${r.title}`],
    ['Environment', r.environment],
    ['Status', `${r.status}${r.bypassed ? ' (approvals bypassed)' : ''}`],
    ['Author', r.author],
    ['Created', formatTime(r.createdAt)],
    ['Approvals', `${approvalsText(r)}${r.approvals.length > 0 ? ` (${r.approvals.map((a) => a.actor).join(', ')})` : ''}`],
    ...(r.resolvedBy ? ([['Resolved', `${r.resolvedBy} at ${formatTime(r.resolvedAt)}${r.reason ? `: ${r.reason}` : ''}`]] as const) : []),
  ]);
  const description = r.description ? `\n${r.description}\n` : '';
  const changes = r.changes
    .map((c, i) => `${i + 1}. ${describeChange(c)}${c.type === 'segment' ? '' : ` in ${c.environment}`} (against version ${c.baseVersion})\n${c.diff.map((d) => `     ${d.text}\n`).join('') || '     (no difference)\n'}`)
    .join('');
  const comments = r.comments.length === 0 ? '' : `\nComments:\n${r.comments.map((c) => `  ${formatTime(c.at)} ${c.actor}: ${c.body}\n`).join('')}`;
  return `${fields}${description}\nChanges:\n${changes}${comments}`;
}

const list: Command = {
  name: 'requests list',
  summary: 'List change requests, newest first (open and approved ones unless --status or --all)',
  arguments: [],
  options: {
    status: { type: 'string', value: 'STATUS', description: `${STATUSES.join(', ')} (default: open and approved)` },
    all: { type: 'boolean', description: 'Every status, including applied, rejected and withdrawn' },
    env: { type: 'string', value: 'ENV', description: 'Only this environment' },
    flag: { type: 'string', value: 'KEY', description: 'Only requests that change this flag' },
  },
  examples: ['switchyard requests list', 'switchyard requests list --env production --all', 'switchyard requests list --flag new-checkout --json'],
  async run(context) {
    const status = stringOption(context.values, 'status');
    const all = booleanOption(context.values, 'all');
    if (status !== undefined && all) throw new UsageError('give --status or --all, not both');
    const query: Record<string, string> = {};
    if (!all) query.status = status === undefined ? 'open,approved' : oneOf(status, STATUSES, '--status');
    const env = stringOption(context.values, 'env');
    const flag = stringOption(context.values, 'flag');
    if (env !== undefined) query.environment = env;
    if (flag !== undefined) query.flag = flag;
    const response = await context.api.request<{ items: ChangeRequestView[] }>('GET', '/api/change-requests', { query });
    if (context.json) return printJson(context.io, response);
    const items = response.data.items;
    if (items.length === 0) return context.io.out(all || status ? 'No change requests.\n' : 'No open change requests. Create one with: switchyard requests create --file req.json\n');
    const rows = items.map((r) => [String(r.id), r.title, r.environment, r.status, approvalsText(r), r.author, r.changes.map(describeChange).join(', ')]);
    context.io.out(formatTable(['ID', { header: 'TITLE', maxWidth: 40 }, 'ENV', 'STATUS', 'APPROVALS', 'AUTHOR', { header: 'CHANGES', maxWidth: 60 }], rows));
  },
};

const show: Command = {
  name: 'requests show',
  summary: 'Show a change request: its changes with their diffs, approvals and comments',
  arguments: [ID],
  options: {},
  examples: ['switchyard requests show 3', 'switchyard requests show 3 --json'],
  async run(context) {
    const response = await context.api.request<ChangeRequestView>('GET', requestPath(idOf(context)));
    if (context.json) return printJson(context.io, response);
    context.io.out(formatRequest(response.data));
  },
};

const create: Command = {
  name: 'requests create',
  summary: 'Propose changes from a JSON file (as POST /api/change-requests takes it)',
  description:
    'The file holds {"title", "description"?, "environment", "changes": [...]}; each change is\n' +
    '{"type": "stage", "flag", "stage", "baseVersion"}, {"type": "targeting", "flag", "config": {...},\n' +
    '"baseVersion"} or {"type": "segment", "segment", "patch": {...}, "baseVersion"}, where baseVersion\n' +
    'is the version of the flag or segment you read (switchyard flags get KEY --json | jq .version).',
  arguments: [],
  options: { file: { type: 'string', value: 'FILE', description: 'The request, as JSON ("-" reads standard input)' } },
  examples: ['switchyard requests create --file req.json'],
  async run(context) {
    const file = stringOption(context.values, 'file');
    if (file === undefined) throw new UsageError('missing --file', 'Write the request as JSON, e.g. {"title": "Launch", "environment": "production", "changes": [...]}');
    let text: string;
    try {
      text = await readFile(file === '-' ? '/dev/stdin' : file, 'utf8');
    } catch (error) {
      throw new CommandError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new CommandError(`${file} is not JSON: ${(error as Error).message}`);
    }
    const response = await context.api.request<ChangeRequestView>('POST', '/api/change-requests', { body });
    if (context.json) return printJson(context.io, response);
    printOutcome(context, response.data, 'Created');
    if (response.data.approvalsNeeded > 0) context.io.err(`Ask someone else to approve it: switchyard requests approve ${response.data.id}\n`);
    else context.io.err(`No policy requires approval here: apply it with switchyard requests apply ${response.data.id}\n`);
  },
};

/** A command posting to `/api/change-requests/{id}/{action}`. */
function action(name: string, summary: string, verb: string, options: Command['options'], examples: string[], body: (context: CommandContext) => Record<string, unknown>): Command {
  return {
    name: `requests ${name}`,
    summary,
    arguments: [ID],
    options,
    examples,
    async run(context) {
      const id = idOf(context);
      const response = await context.api.request<ChangeRequestView>('POST', requestPath(id, name), { body: body(context) });
      if (context.json) return printJson(context.io, response);
      printOutcome(context, response.data, verb);
      if (name === 'rebase') context.io.err('Its approvals start over: the new diff needs approving again.\n');
    },
  };
}

const REASON = { type: 'string', value: 'TEXT', description: 'Why' } as const;

const approve = action('approve', 'Approve a change request (not your own)', 'Approved', { message: { type: 'string', value: 'TEXT', description: 'A note for the audit log' } }, ['switchyard requests approve 3'], (c) => {
  const message = stringOption(c.values, 'message');
  return message !== undefined ? { message } : {};
});

const reject = action('reject', 'Reject a change request, with a reason', 'Rejected', { reason: REASON }, ['switchyard requests reject 3 --reason "not during the freeze"'], (c) => {
  const reason = stringOption(c.values, 'reason');
  if (reason === undefined || reason.trim() === '') throw new UsageError('missing --reason', 'Say why, e.g. --reason "not during the freeze"');
  return { reason };
});

const withdraw = action('withdraw', 'Withdraw your change request', 'Withdrew', { reason: REASON }, ['switchyard requests withdraw 3'], (c) => {
  const reason = stringOption(c.values, 'reason');
  return reason !== undefined ? { reason } : {};
});

const apply = action(
  'apply',
  'Apply an approved change request: every change at once, or none',
  'Applied',
  { bypass: { type: 'string', value: 'REASON', description: 'Admins, where the policy allows it: apply without the approvals, saying why (audited)' } },
  ['switchyard requests apply 3', 'switchyard requests apply 3 --bypass "payments are down"'],
  (c) => {
    const bypass = stringOption(c.values, 'bypass');
    if (bypass !== undefined && bypass.trim() === '') throw new UsageError('--bypass needs a reason');
    return bypass !== undefined ? { bypassReason: bypass } : {};
  },
);

const rebase = action('rebase', 'Re-base a change request onto the current versions (after a conflict); its approvals start over', 'Rebased', {}, ['switchyard requests rebase 3'], () => ({}));

const comment: Command = {
  name: 'requests comment',
  summary: 'Comment on a change request',
  arguments: [ID, { name: 'TEXT', description: 'The comment' }],
  options: {},
  examples: ['switchyard requests comment 3 "looks good after the load test"'],
  async run(context) {
    const response = await context.api.request<ChangeRequestView>('POST', requestPath(idOf(context), 'comments'), { body: { body: context.positionals[1]! } });
    if (context.json) return printJson(context.io, response);
    printOutcome(context, response.data, 'Commented on');
  },
};

const policy: Command = {
  name: 'envs policy',
  summary: "Show or set an environment's approval policy (setting it needs the admin role)",
  description:
    'With --approvals N, changes in ENV (stage moves, targeting; and segment edits, which reach every\n' +
    'environment) need a change request approved by N people other than its author. --off removes the\n' +
    'requirement. The kill switch never needs approval.',
  arguments: [{ name: 'ENV', description: 'The environment key, e.g. production' }],
  options: {
    approvals: { type: 'string', value: 'N', description: 'Approvals needed (1..5); turns the policy on' },
    roles: { type: 'string', value: 'ROLES', description: 'Who may approve: editor,admin (default) or admin' },
    'admin-bypass': { type: 'boolean', description: 'Let admins apply without approvals, giving a reason' },
    off: { type: 'boolean', description: 'Changes here no longer need approval' },
  },
  examples: ['switchyard envs policy production', 'switchyard envs policy production --approvals 1', 'switchyard envs policy production --approvals 2 --roles admin --admin-bypass', 'switchyard envs policy production --off'],
  async run(context) {
    const [env] = context.positionals as [string];
    const url = `/api/environments/${encodeURIComponent(env)}/approval-policy`;
    const approvals = stringOption(context.values, 'approvals');
    const roles = stringOption(context.values, 'roles');
    const bypass = booleanOption(context.values, 'admin-bypass');
    const off = booleanOption(context.values, 'off');
    if (off && (approvals !== undefined || roles !== undefined || bypass)) throw new UsageError('give --off alone');
    let response;
    if (!off && approvals === undefined) {
      if (roles !== undefined || bypass) throw new UsageError('missing --approvals', 'Say how many approvals changes need, e.g. --approvals 1');
      response = await context.api.request<PolicyView>('GET', url);
    } else {
      const body = off
        ? { required: false }
        : {
            required: true,
            approvals: positiveInteger(approvals!, '--approvals', 5),
            ...(roles !== undefined ? { approverRoles: roles.split(',').map((r) => oneOf(r.trim(), ROLES, '--roles')) } : {}),
            adminBypass: bypass,
          };
      response = await context.api.request<PolicyView>('PUT', url, { body });
    }
    if (context.json) return printJson(context.io, response);
    const p = response.data;
    if (!p.required) return context.io.out(`${p.environment}: no approval needed (changes are written directly)\n`);
    const who = p.approverRoles.join(' or ');
    context.io.out(`${p.environment}: ${p.approvals} approval${p.approvals === 1 ? '' : 's'} from ${who} (not the author)${p.adminBypass ? '; admins may bypass with a reason' : ''}\n`);
  },
};

export const requestCommands: readonly Command[] = [list, show, create, comment, approve, reject, withdraw, rebase, apply, policy];
