import type { z } from 'zod';
import type { promotionResponse } from '../http/promotions.routes.js';
import { booleanOption, stringOption } from './args.js';
import { printJson, type Command, type CommandContext } from './command.js';
import { CommandError, UsageError } from './errors.js';
import { formatTable, plural } from './output.js';

/** The server's promotion preview, inferred from its own schema. */
type PromotionView = z.infer<typeof promotionResponse>;
interface ResultView {
  changed: boolean;
  promotion: PromotionView;
  flag?: { version: number };
}
/** The change request a governed promotion opened (the fields this command prints). */
interface RequestView {
  id: number;
  title: string;
  environment: string;
  changes: unknown[];
  approvalsNeeded: number;
}
interface ComparisonView {
  from: PromotionView['from'];
  to: PromotionView['to'];
  differing: number;
  items: { key: string; name: string; version: number; managedBy: string | null; differs: boolean; summary: string; changes: string[]; stage: { from: string; to: string }; blockers: PromotionView['blockers'] }[];
}

const flagPath = (key: string) => `/api/flags/${encodeURIComponent(key)}/promote`;
const bulkPath = (from: string, to: string) => `/api/environments/${encodeURIComponent(from)}/promote/${encodeURIComponent(to)}`;

/** The readable diff of one flag: what changes in the target, what stays, and what would refuse it. */
export function formatPromotion(p: PromotionView): string {
  const target = `${p.to.key}${p.to.critical ? ' (critical)' : ''}`;
  if (p.upToDate) return `Nothing to promote: ${p.flag} in ${p.to.key} already has ${p.from.key}'s targeting.\n${p.kept.map((k) => `  ${k.text}\n`).join('')}`;
  const lines = [
    `Promote ${p.flag} from ${p.from.key} to ${target}:`,
    ...p.changes.map((c) => `  ${c.text}`),
    `  Stage in ${p.to.key}: ${p.stage.before} → ${p.stage.after}`,
    ...(p.kept.length > 0 ? [`Stays as it is in ${p.to.key}:`, ...p.kept.map((k) => `  ${k.text}`)] : []),
    ...(p.blockers.length > 0 ? ['Refused now:', ...p.blockers.map((b) => `  ${b.message}`)] : []),
  ];
  return `${lines.join('\n')}\n`;
}

/** Every flag compared: those that differ first, with what would change. */
export function formatComparison(c: ComparisonView): string {
  const rows = c.items
    .filter((i) => i.differs)
    .map((i) => [i.key, i.stage.from, i.stage.to, i.summary, i.blockers.length > 0 ? i.blockers.map((b) => b.code.replace(/_/g, ' ')).join(', ') : '']);
  const head = `${plural(c.differing, 'flag')} of ${c.items.length} ${c.differing === 1 ? 'differs' : 'differ'} between ${c.from.key} and ${c.to.key}${c.differing === 0 ? '.' : ':'}\n`;
  if (rows.length === 0) return head;
  return head + formatTable(['FLAG', `IN ${c.from.key.toUpperCase()}`, `IN ${c.to.key.toUpperCase()}`, { header: 'DIFFERENCE', maxWidth: 60 }, 'REFUSED'], rows);
}

function environments(context: CommandContext): { from: string; to: string } {
  const from = stringOption(context.values, 'from');
  const to = stringOption(context.values, 'to');
  const hint = 'Usage: switchyard promote FLAG --from ENV --to ENV (or --all instead of FLAG).';
  if (from === undefined || to === undefined) throw new UsageError(`missing ${[from === undefined ? '--from' : '', to === undefined ? '--to' : ''].filter(Boolean).join(' and ')}`, hint);
  if (from === to) throw new UsageError(`--from and --to are both "${from}": choose two different environments`, hint);
  return { from, to };
}

/** A critical target (production) needs `--yes`: the CLI's counterpart of the dashboard's confirmation. */
function confirmCritical(context: CommandContext, to: PromotionView['to']): void {
  if (to.critical && !booleanOption(context.values, 'yes')) {
    throw new UsageError(`${to.key} is a critical environment: nothing was promoted`, 'Check the changes above, then run the same command with --yes (or --dry-run to only look).');
  }
}

/**
 * How the write goes where the target's approval policy requires review: `--request TITLE` opens one
 * change request holding the promotion; `--bypass-approval REASON` (admins, where the policy allows)
 * writes it anyway, audited. The options go in the body or query of either promote route.
 */
interface Governance {
  query: Record<string, string>;
  body: Record<string, string>;
  proposing: boolean;
}

function governance(context: CommandContext): Governance {
  const title = stringOption(context.values, 'request');
  const description = stringOption(context.values, 'description');
  const bypass = stringOption(context.values, 'bypass-approval');
  if (title !== undefined && bypass !== undefined) throw new UsageError('give either --request or --bypass-approval, not both');
  if (description !== undefined && title === undefined) throw new UsageError('--description goes with --request');
  if (title !== undefined && title.trim() === '') throw new UsageError('--request needs a title');
  if (title !== undefined && stringOption(context.values, 'message') !== undefined) throw new UsageError('--message is for a direct promotion\'s audit entry; with --request, give the title (and --description)');
  if (bypass !== undefined && bypass.trim() === '') throw new UsageError('--bypass-approval needs the reason (it is recorded in the audit log)');
  if (title !== undefined) return { query: { changeRequest: 'true' }, body: { message: title, ...(description !== undefined ? { description } : {}) }, proposing: true };
  const message = stringOption(context.values, 'message');
  return { query: {}, body: { ...(message !== undefined ? { message } : {}), ...(bypass !== undefined ? { bypassApproval: bypass } : {}) }, proposing: false };
}

function proposed(context: CommandContext, r: RequestView): void {
  context.io.out(`Opened change request #${r.id} in ${r.environment}: ${r.title} (${plural(r.changes.length, 'change')}). Nothing was promoted yet.\n`);
  if (r.approvalsNeeded > 0) context.io.out(`Once approved (switchyard requests approve ${r.id}, by someone else): switchyard requests apply ${r.id}\n`);
  else context.io.out(`No policy requires approval in ${r.environment}: apply it with switchyard requests apply ${r.id}\n`);
}

async function promoteOne(context: CommandContext, key: string, from: string, to: string, governed: Governance): Promise<void> {
  const { io, values } = context;
  const dryRun = booleanOption(values, 'dry-run');
  const preview = await context.api.request<PromotionView>('GET', flagPath(key), { query: { from, to } });
  const p = preview.data;
  if (context.json && (dryRun || p.upToDate)) return printJson(io, preview);
  if (!context.json) io.out(formatPromotion(p));
  if (p.upToDate) return;
  if (dryRun) return io.out('Dry run: nothing was promoted.\n');
  if (p.blockers.length > 0) throw new CommandError(p.blockers.map((b) => b.message).join('\n'));
  // Opening a request writes nothing to the target: its review is the confirmation.
  if (!governed.proposing) confirmCritical(context, p.to);
  // The version previewed: a change in between is refused (409) rather than promoted (or proposed) unseen.
  const body = { from, to, version: p.version, ...governed.body };
  const result = await context.api.request<ResultView | RequestView>('POST', flagPath(key), { body, query: governed.query });
  if (context.json) return printJson(io, result);
  if (result.status === 202) return proposed(context, result.data as RequestView);
  if (!('promotion' in result.data)) throw new CommandError('unexpected answer from the server');
  io.out(`Promoted ${key} from ${from} to ${to} (version ${result.data.flag?.version ?? result.data.promotion.version})${governed.body.bypassApproval !== undefined ? ', approvals bypassed (recorded in the audit log)' : ''}.\n`);
}

async function promoteAll(context: CommandContext, from: string, to: string, governed: Governance): Promise<void> {
  const { io, values } = context;
  const dryRun = booleanOption(values, 'dry-run');
  const comparison = await context.api.request<ComparisonView>('GET', '/api/compare', { query: { from, to } });
  const c = comparison.data;
  if (context.json && (dryRun || c.differing === 0)) return printJson(io, comparison);
  if (!context.json) io.out(formatComparison(c));
  if (c.differing === 0) return;
  if (dryRun) return io.out(`Dry run: nothing was promoted. Details: switchyard promote FLAG --from ${from} --to ${to} --dry-run\n`);
  const blocked = c.items.filter((i) => i.differs && i.blockers.length > 0);
  if (blocked.length > 0) {
    throw new CommandError(`nothing was promoted: all flags move together, and ${plural(blocked.length, 'flag')} cannot move now:\n${blocked.map((i) => `  ${i.blockers.map((b) => b.message).join('; ')}`).join('\n')}`);
  }
  if (!governed.proposing) confirmCritical(context, c.to);
  const flags = c.items.filter((i) => i.differs).map((i) => ({ key: i.key, version: i.version }));
  const result = await context.api.request<{ items: ResultView[] } | RequestView>('POST', bulkPath(from, to), { body: { flags, ...governed.body }, query: governed.query });
  if (context.json) return printJson(io, result);
  if (result.status === 202) return proposed(context, result.data as RequestView);
  if (!('items' in result.data)) throw new CommandError('unexpected answer from the server');
  io.out(`Promoted ${plural(result.data.items.filter((i) => i.changed).length, 'flag')} from ${from} to ${to} in one change.\n`);
}

const promote: Command = {
  name: 'promote',
  summary: "Promote a flag's targeting (or every flag's) from one environment to another",
  description:
    "Makes the target's targeting — on/off, rules in order (dogfood included), the default rule or\n" +
    'rollout, the off variation, individual targets, bucket-by — what the source has, as one audited\n' +
    "change SDKs receive at once. The target keeps its salt (its users keep their rollout buckets),\n" +
    'its kill switch and its release plan; a killed flag or a running release plan is refused.\n' +
    'Segments are shared by all environments, so only flag configuration moves.\n\n' +
    'Prints the changes first and sends the version it showed, so a change made in between is refused,\n' +
    'not promoted unseen. A critical target (production) needs --yes. With --all, every differing\n' +
    'flag moves together in one transaction, or none does.\n\n' +
    "Where the target's approval policy requires review, a direct promotion is refused: --request TITLE\n" +
    'opens ONE change request holding the promotion (every flag, with --all), pinned to the versions\n' +
    'shown, to approve and apply with switchyard requests; an admin may --bypass-approval REASON where\n' +
    'the policy allows it (audited).',
  arguments: [{ name: 'FLAG', description: 'The flag key, e.g. new-checkout (or --all)', optional: true }],
  options: {
    from: { type: 'string', value: 'ENV', description: 'The environment whose targeting moves, e.g. staging' },
    to: { type: 'string', value: 'ENV', description: 'The environment that gets it, e.g. production' },
    all: { type: 'boolean', description: 'Every active flag that differs, instead of FLAG' },
    'dry-run': { type: 'boolean', description: 'Show the changes, promote nothing' },
    yes: { type: 'boolean', short: 'y', description: 'Promote into a critical environment without stopping' },
    message: { type: 'string', short: 'm', value: 'TEXT', description: 'Why: recorded in the audit log' },
    request: { type: 'string', value: 'TITLE', description: 'Where an approval policy applies: open one change request with this title holding the promotion, instead of promoting' },
    description: { type: 'string', value: 'TEXT', description: "With --request: the change request's description" },
    'bypass-approval': { type: 'string', value: 'REASON', description: 'Admins, where the policy allows it: promote anyway; the reason is audited' },
  },
  examples: [
    'switchyard promote new-checkout --from staging --to production --dry-run',
    'switchyard promote new-checkout --from staging --to production --yes --message "QA signed off"',
    'switchyard promote --all --from staging --to production --dry-run',
    'switchyard promote --all --from staging --to production --request "Release 42 to production"',
    'switchyard promote new-checkout --from staging --to production --yes --bypass-approval "incident 42: rollback"',
  ],
  async run(context) {
    const key = context.positionals[0];
    const all = booleanOption(context.values, 'all');
    if (key !== undefined && all) throw new UsageError('give either FLAG or --all, not both');
    if (key === undefined && !all) throw new UsageError('missing argument FLAG (or --all for every flag)', 'Usage: switchyard promote FLAG --from ENV --to ENV [--dry-run] [--yes].');
    const { from, to } = environments(context);
    const governed = governance(context);
    return all ? promoteAll(context, from, to, governed) : promoteOne(context, key!, from, to, governed);
  },
};

export const promoteCommands: readonly Command[] = [promote];
