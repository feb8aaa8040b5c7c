import { flagEnvironmentSchema } from '../domain/flags.js';
import { deriveStage } from '../domain/stages.js';
import { positiveInteger, stringOption } from './args.js';
import { printJson, type AuditEntryView, type Command } from './command.js';
import { formatTable, formatTime } from './output.js';

const MAX_LIMIT = 200;
const DEFAULT_LIMIT = 20;
const FLAG_FIELDS = ['name', 'description', 'tags', 'owner', 'type', 'variations', 'archived', 'clientVisible'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stageIn(flag: unknown, env: string): string | undefined {
  if (!isRecord(flag) || !isRecord(flag.environments)) return undefined;
  const parsed = flagEnvironmentSchema.safeParse(flag.environments[env]);
  return parsed.success ? deriveStage(parsed.data) : undefined;
}

/** A short "what changed" from an entry's before/after: `off → 10%`, `changed archived, tags`. */
export function describeChange(entry: Pick<AuditEntryView, 'resourceType' | 'environment' | 'before' | 'after'>): string {
  const { before, after, environment } = entry;
  if (entry.resourceType !== 'flag' || !isRecord(before) || !isRecord(after)) return '';
  if (environment) {
    const from = stageIn(before, environment);
    const to = stageIn(after, environment);
    if (from === undefined || to === undefined) return '';
    return from === to ? `targeting (${to})` : `${from} → ${to}`;
  }
  const changed = FLAG_FIELDS.filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]));
  return changed.length > 0 ? `changed ${changed.join(', ')}` : '';
}

/**
 * The CHANGE column: a stage move in the short form (`off → 10%`; ENV says where), anything else as
 * the server's readable sentence (`renamed "A" → "B"`, `added 3 members to internal`).
 */
export function changeText(entry: Pick<AuditEntryView, 'resourceType' | 'environment' | 'before' | 'after'> & { summary?: string }): string {
  const short = describeChange(entry);
  if (entry.resourceType === 'flag' && entry.environment && short.includes(' → ')) return short;
  // A server from before readable sentences sends no summary.
  return entry.summary ?? short;
}

export function formatAudit(entries: readonly AuditEntryView[]): string {
  const rows = entries.map((e) => [
    String(e.id),
    formatTime(e.at),
    e.actor,
    e.source,
    e.action,
    e.resourceKey,
    e.environment ?? '-',
    changeText(e),
    e.message ?? '',
  ]);
  return formatTable(
    ['ID', 'TIME', { header: 'ACTOR', maxWidth: 24 }, 'SOURCE', 'ACTION', { header: 'RESOURCE', maxWidth: 40 }, 'ENV', { header: 'CHANGE', maxWidth: 40 }, { header: 'MESSAGE', maxWidth: 50 }],
    rows,
  );
}

const audit: Command = {
  name: 'audit',
  summary: 'Show the audit log, newest first',
  arguments: [],
  options: {
    flag: { type: 'string', value: 'KEY', description: "Only this flag's history" },
    env: { type: 'string', value: 'ENV', description: 'Only changes in this environment' },
    actor: { type: 'string', value: 'NAME', description: 'Only changes by this token name' },
    since: { type: 'string', value: 'TIME', description: 'Only changes at or after this time: 2026-12-01 (UTC) or 2026-12-01T09:00:00Z' },
    until: { type: 'string', value: 'TIME', description: 'Only changes before this time (a day: up to its end, UTC)' },
    limit: { type: 'string', value: 'N', description: `How many entries, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})` },
    before: { type: 'string', value: 'ID', description: 'Entries older than this id (the next page)' },
  },
  examples: ['switchyard audit', 'switchyard audit --flag new-checkout --limit 5', 'switchyard audit --env production --since 2026-12-01 --json'],
  async run(context) {
    const { values } = context;
    const limitText = stringOption(values, 'limit');
    const beforeText = stringOption(values, 'before');
    const flag = stringOption(values, 'flag');
    const query = {
      limit: limitText === undefined ? DEFAULT_LIMIT : positiveInteger(limitText, '--limit', MAX_LIMIT),
      before: beforeText === undefined ? undefined : positiveInteger(beforeText, '--before'),
      resourceType: flag === undefined ? undefined : 'flag',
      resourceKey: flag,
      environment: stringOption(values, 'env'),
      actor: stringOption(values, 'actor'),
      since: stringOption(values, 'since'),
      until: stringOption(values, 'until'),
    };
    const response = await context.api.request<{ items: AuditEntryView[]; nextCursor: number | null }>('GET', '/api/audit', { query });
    if (context.json) return printJson(context.io, response);
    const { items, nextCursor } = response.data;
    if (items.length === 0) return context.io.out('No audit entries match.\n');
    context.io.out(formatAudit(items));
    if (nextCursor !== null) context.io.err(`More entries: repeat with --before ${nextCursor}\n`);
  },
};

export const auditCommands: readonly Command[] = [audit];
