import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { serializeDocument, type ExportFormat } from '../domain/gitops/export.js';
import { DOCUMENT_LIMITS, formatBytes } from '../domain/gitops/limits.js';
import type { ApplyResult } from '../services/gitops/gitops.service.js';
import type { FieldChange, Plan, PlannedChange } from '../domain/gitops/plan.js';
import { gitHead, readSources } from '../services/gitops/sync.js';
import { booleanOption, stringOption } from './args.js';
import { printJson, type Command, type CommandContext } from './command.js';
import { ApiError, CommandError, UsageError } from './errors.js';
import type { ApiResponse } from './http.js';
import { plural } from './output.js';

/** `diff` exits 2 when the file would change something (like `git diff --exit-code` / `terraform plan -detailed-exitcode`). */
export const CHANGES_PENDING_EXIT = 2;

/** Not a failure: `diff` found changes. The CLI exits with CHANGES_PENDING_EXIT and prints nothing more. */
export class ChangesPending extends Error {
  constructor() {
    super('changes pending');
    this.name = 'ChangesPending';
  }
}

type PlanView = Pick<Plan, 'changes' | 'versions'> & { summary: ApplyResult['summary'] };
const MAX_VALUE_WIDTH = 160;
const SIGN = { create: '+', update: '~', delete: '-' } as const;

function formatValue(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
  return text.length > MAX_VALUE_WIDTH ? `${text.slice(0, MAX_VALUE_WIDTH - 1)}…` : text;
}

function formatField(action: PlannedChange['action'], field: FieldChange): string {
  if (action === 'create' || field.before === undefined) return `    ${field.path}: ${formatValue(field.after)}\n`;
  return `    ${field.path}: ${formatValue(field.before)} → ${formatValue(field.after)}\n`;
}

/** The readable plan: `+ create`, `~ change` with before → after per field, `- delete`. */
export function formatPlan(plan: PlanView): string {
  if (plan.changes.length === 0) return 'No changes: the server already matches the file.\n';
  const lines = plan.changes.map((c) => `${SIGN[c.action]} ${c.resource} ${c.key}\n${c.fields.map((f) => formatField(c.action, f)).join('')}`);
  const { create, update, delete: remove } = plan.summary;
  return `${lines.join('')}\nPlan: ${create} to create, ${update} to change, ${remove} to delete.\n`;
}

async function sourcesFor(file: string) {
  let sources: Awaited<ReturnType<typeof readSources>>;
  try {
    sources = await readSources(file);
  } catch (error) {
    throw new CommandError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`);
  }
  // Said here, naming the files, rather than as the server's bare 413 after uploading them.
  const bytes = sources.reduce((sum, s) => sum + Buffer.byteLength(s.text) + Buffer.byteLength(s.name), 0);
  if (bytes > DOCUMENT_LIMITS.bytes) {
    throw new CommandError(`${file} holds ${bytes.toLocaleString('en')} bytes of flags files; the server accepts at most ${formatBytes(DOCUMENT_LIMITS.bytes)} (${DOCUMENT_LIMITS.bytes.toLocaleString('en')} bytes) at once: split them into smaller applies`);
  }
  return sources.map((s) => ({ name: s.name, content: s.text }));
}

/** A bad file: every problem on its own line as `file:line:col: path: message`. */
function rethrowProblems(error: unknown): never {
  if (error instanceof ApiError && error.code === 'validation_failed') {
    try {
      const details = (JSON.parse(error.body) as { error: { details?: { location?: string; path?: string; message: string }[] } }).error.details ?? [];
      if (details.length > 0 && details.every((d) => d.location)) {
        throw new CommandError(`the file is invalid; nothing was applied:\n${details.map((d) => `  ${d.location}: ${d.path ? `${d.path}: ` : ''}${d.message}`).join('\n')}`);
      }
    } catch (inner) {
      if (inner instanceof CommandError) throw inner;
    }
  }
  throw error;
}

async function requestPlan(context: CommandContext, documents: { name: string; content: string }[]): Promise<ApiResponse<PlanView>> {
  return context.api.request<PlanView>('POST', '/api/gitops/plan', { body: { documents, prune: booleanOption(context.values, 'prune') } }).catch(rethrowProblems);
}

const FILE_ARGUMENT = [{ name: 'FILE', description: 'A flags file (.yaml, .yml or .json), or a directory of them (merged)' }] as const;
const PRUNE = { type: 'boolean', description: 'Also delete flags and segments the file does not name (never "internal")' } as const;

const exportCommand: Command = {
  name: 'export',
  summary: 'Write the current flags, segments and environments as a flags file',
  description: 'Stages are written as `stage: 10%` wherever the targeting is exactly a stage. The output is stable: `export`, `apply`, `export` gives the same bytes.',
  arguments: [],
  options: {
    env: { type: 'string', value: 'ENV', description: 'Only this environment' },
    out: { type: 'string', short: 'o', value: 'FILE', description: 'Write to FILE instead of standard output' },
    format: { type: 'string', value: 'yaml|json', description: 'Output format (default: from --out, else yaml)' },
  },
  examples: ['switchyard export > flags.yaml', 'switchyard export --env production --out prod.yaml', 'switchyard export --format json'],
  async run(context) {
    const out = stringOption(context.values, 'out');
    const requested = stringOption(context.values, 'format') ?? (out && extname(out).toLowerCase() === '.json' ? 'json' : 'yaml');
    if (requested !== 'yaml' && requested !== 'json') throw new UsageError(`--format must be yaml or json, got ${JSON.stringify(requested)}`);
    const response = await context.api.request<Record<string, unknown>>('GET', '/api/gitops/export', { query: { format: 'json', environment: stringOption(context.values, 'env') } });
    const text = serializeDocument(response.data, requested as ExportFormat);
    if (!out) return context.io.out(text);
    await writeFile(out, text);
    context.io.err(`Wrote ${out}\n`);
  },
};

const diffCommand: Command = {
  name: 'diff',
  summary: 'Show what applying a flags file would change (exit 2 if anything)',
  description: `Exit codes: 0 when the server already matches the file, ${CHANGES_PENDING_EXIT} when applying it would change something (use it in CI), 1 when the file is invalid or the server refuses. Note that 2 is also the usage-error code of every command.`,
  arguments: FILE_ARGUMENT,
  options: { prune: PRUNE },
  examples: ['switchyard diff flags.yaml', 'switchyard diff flags/ --prune', 'switchyard diff flags.yaml || echo "flags differ"'],
  async run(context) {
    const response = await requestPlan(context, await sourcesFor(context.positionals[0]!));
    if (context.json) printJson(context.io, response);
    else context.io.out(formatPlan(response.data));
    if (response.data.changes.length > 0) throw new ChangesPending();
  },
};

const applyCommand: Command = {
  name: 'apply',
  summary: 'Apply a flags file: all or nothing, in one transaction',
  description:
    'Plans first, then applies exactly that plan: if anything it touches changed on the server in between (a dashboard edit), nothing is applied and the command fails with the conflict. Applying the same file twice changes nothing the second time. Audit entries carry source "gitops", the message and the commit (default: git rev-parse HEAD of the file\'s repository).',
  arguments: FILE_ARGUMENT,
  options: {
    'dry-run': { type: 'boolean', description: 'Show the plan, change nothing' },
    prune: PRUNE,
    message: { type: 'string', short: 'm', value: 'TEXT', description: 'Why: recorded in the audit log' },
    commit: { type: 'string', value: 'SHA', description: 'Git commit recorded in the audit log (default: the file\'s repository HEAD)' },
    request: { type: 'string', value: 'TITLE', description: 'Where an approval policy applies: propose those changes as change requests with this title (one per environment) and apply the rest' },
    description: { type: 'string', value: 'TEXT', description: 'With --request: the change request\'s description' },
    'bypass-approval': { type: 'string', value: 'REASON', description: 'Admins, where the policy allows it: apply changes that need approval anyway; the reason is audited' },
  },
  examples: [
    'switchyard apply flags.yaml --message "Ramp checkout to 50%"',
    'switchyard apply flags.yaml --dry-run',
    'switchyard apply flags/ --prune --commit "$GITHUB_SHA"',
    'switchyard apply flags.yaml --request "Ramp checkout to 50% in production"',
    'switchyard apply flags.yaml --bypass-approval "incident 42: rollback"',
  ],
  async run(context) {
    const file = context.positionals[0]!;
    const title = stringOption(context.values, 'request');
    const description = stringOption(context.values, 'description');
    const bypass = stringOption(context.values, 'bypass-approval');
    if (title !== undefined && bypass !== undefined) throw new UsageError('give either --request or --bypass-approval, not both');
    if (description !== undefined && title === undefined) throw new UsageError('--description goes with --request');
    if (title !== undefined && title.trim() === '') throw new UsageError('--request needs a title');
    if (bypass !== undefined && bypass.trim() === '') throw new UsageError('--bypass-approval needs the reason (it is recorded in the audit log)');
    const documents = await sourcesFor(file);
    const plan = await requestPlan(context, documents);
    const dryRun = booleanOption(context.values, 'dry-run');
    if (!context.json) context.io.out(formatPlan(plan.data));
    if (dryRun || plan.data.changes.length === 0) {
      if (context.json) printJson(context.io, plan);
      else if (dryRun && plan.data.changes.length > 0) context.io.out('Dry run: nothing was applied.\n');
      return;
    }
    const commit = stringOption(context.values, 'commit') ?? (await gitHead(file));
    const body = {
      documents,
      prune: booleanOption(context.values, 'prune'),
      message: stringOption(context.values, 'message'),
      commit,
      expectedVersions: plan.data.versions,
      ...(title !== undefined ? { changeRequest: { title, ...(description !== undefined ? { description } : {}) } } : {}),
      ...(bypass !== undefined ? { bypassApproval: bypass } : {}),
    };
    const result = await context.api.request<ApplyResult>('POST', '/api/gitops/apply', { body }).catch(rethrowProblems);
    if (context.json) return printJson(context.io, result);
    const { changeRequests = [], approvalBypassed = [] } = result.data;
    const at = commit ? ` (commit ${commit.slice(0, 12)})` : '';
    if (changeRequests.length === 0) context.io.out(`Applied ${plural(result.data.changes.length, 'change')}${at}.\n`);
    else context.io.out(result.data.applied ? `Applied the changes that need no approval${at}.\n` : 'Nothing else to apply: every change needs approval.\n');
    for (const r of changeRequests) {
      context.io.out(`Proposed change request #${r.id} in ${r.environment}: ${r.title} (${plural(r.changes, 'change')}); once approved: switchyard requests apply ${r.id}\n`);
    }
    if (approvalBypassed.length > 0) context.io.out(`Approvals bypassed in ${approvalBypassed.join(', ')} (recorded in the audit log).\n`);
  },
};

export const gitopsCommands: readonly Command[] = [exportCommand, diffCommand, applyCommand];
