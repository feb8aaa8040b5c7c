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

async function promoteOne(context: CommandContext, key: string, from: string, to: string): Promise<void> {
  const { io, values } = context;
  const dryRun = booleanOption(values, 'dry-run');
  const preview = await context.api.request<PromotionView>('GET', flagPath(key), { query: { from, to } });
  const p = preview.data;
  if (context.json && (dryRun || p.upToDate)) return printJson(io, preview);
  if (!context.json) io.out(formatPromotion(p));
  if (p.upToDate) return;
  if (dryRun) return io.out('Dry run: nothing was promoted.\n');
  if (p.blockers.length > 0) throw new CommandError(p.blockers.map((b) => b.message).join('\n'));
  confirmCritical(context, p.to);
  // The version previewed: a change in between is refused (409) rather than promoted unseen.
  const body = { from, to, version: p.version, message: stringOption(values, 'message') };
  const result = await context.api.request<ResultView>('POST', flagPath(key), { body });
  if (context.json) return printJson(io, result);
  io.out(`Promoted ${key} from ${from} to ${to} (version ${result.data.flag?.version ?? result.data.promotion.version}).\n`);
}

async function promoteAll(context: CommandContext, from: string, to: string): Promise<void> {
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
  confirmCritical(context, c.to);
  const flags = c.items.filter((i) => i.differs).map((i) => ({ key: i.key, version: i.version }));
  const result = await context.api.request<{ items: ResultView[] }>('POST', bulkPath(from, to), { body: { flags, message: stringOption(values, 'message') } });
  if (context.json) return printJson(io, result);
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
    'flag moves together in one transaction, or none does.',
  arguments: [{ name: 'FLAG', description: 'The flag key, e.g. new-checkout (or --all)', optional: true }],
  options: {
    from: { type: 'string', value: 'ENV', description: 'The environment whose targeting moves, e.g. staging' },
    to: { type: 'string', value: 'ENV', description: 'The environment that gets it, e.g. production' },
    all: { type: 'boolean', description: 'Every active flag that differs, instead of FLAG' },
    'dry-run': { type: 'boolean', description: 'Show the changes, promote nothing' },
    yes: { type: 'boolean', short: 'y', description: 'Promote into a critical environment without stopping' },
    message: { type: 'string', short: 'm', value: 'TEXT', description: 'Why: recorded in the audit log' },
  },
  examples: [
    'switchyard promote new-checkout --from staging --to production --dry-run',
    'switchyard promote new-checkout --from staging --to production --yes --message "QA signed off"',
    'switchyard promote --all --from staging --to production --dry-run',
  ],
  async run(context) {
    const key = context.positionals[0];
    const all = booleanOption(context.values, 'all');
    if (key !== undefined && all) throw new UsageError('give either FLAG or --all, not both');
    if (key === undefined && !all) throw new UsageError('missing argument FLAG (or --all for every flag)', 'Usage: switchyard promote FLAG --from ENV --to ENV [--dry-run] [--yes].');
    const { from, to } = environments(context);
    return all ? promoteAll(context, from, to) : promoteOne(context, key!, from, to);
  },
};

export const promoteCommands: readonly Command[] = [promote];
