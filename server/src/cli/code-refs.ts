import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CODE_REF_LIMITS } from '../domain/code-refs.js';
import { booleanOption, positiveInteger, stringOption } from './args.js';
import type { Command, CommandContext, EnvironmentView, FlagView } from './command.js';
import { DEFAULT_MAX_FILE_BYTES, gitFacts, scanDirectory, type FoundReference, type GitFacts } from './code-scan.js';
import { CommandError, UsageError } from './errors.js';
import { plural } from './output.js';

/**
 * `switchyard code-refs [dir]`: where the code uses each flag key, printed as `path:line` with the
 * line, and optionally uploaded (`--upload`) so the dashboard shows it and the lifecycle knows when
 * a flag's last reference is gone. Exits 1 when the code references an archived flag (the next
 * step is deleting it: its code must go first), unless `--allow-archived`.
 */

/** A flag as the scan needs it. */
interface KnownFlag {
  key: string;
  archived: boolean;
}

/** `--flags FILE`: keys one per line (`#` comments), or JSON — a list of keys, or `{ items: [{ key, archived? }] }` as `flags list --json` prints. */
export function parseFlagsFile(text: string, file: string): KnownFlag[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let data: unknown;
    try {
      data = JSON.parse(trimmed);
    } catch (error) {
      throw new CommandError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
    const items = Array.isArray(data) ? data : (data as { items?: unknown }).items;
    if (!Array.isArray(items)) throw new CommandError(`${file}: expected a list of flag keys or { "items": [{ "key": … }] }`);
    return items.map((item, i) => {
      if (typeof item === 'string' && item !== '') return { key: item, archived: false };
      if (item && typeof item === 'object' && typeof (item as { key?: unknown }).key === 'string') return { key: (item as KnownFlag).key, archived: (item as { archived?: unknown }).archived === true };
      throw new CommandError(`${file}: item ${i} is neither a flag key nor an object with a "key"`);
    });
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '')
    .map((key) => ({ key, archived: false }));
}

async function flagsFrom(context: CommandContext): Promise<KnownFlag[]> {
  const file = stringOption(context.values, 'flags');
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new CommandError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`);
    }
    return parseFlagsFile(text, file);
  }
  const env = stringOption(context.values, 'env');
  const [flags, environments] = await Promise.all([
    context.api.request<{ items: FlagView[] }>('GET', '/api/flags', { query: { archived: 'all' } }),
    env === undefined ? undefined : context.api.request<{ items: EnvironmentView[] }>('GET', '/api/environments'),
  ]);
  if (env !== undefined && !environments!.data.items.some((e) => e.key === env)) {
    throw new CommandError(`environment "${env}" not found; environments: ${environments!.data.items.map((e) => e.key).join(', ')}`);
  }
  const items = env === undefined ? flags.data.items : flags.data.items.filter((f) => Object.hasOwn(f.environments, env));
  return items.map((f) => ({ key: f.key, archived: f.archived }));
}

async function directoryOf(positionals: readonly string[]): Promise<string> {
  const dir = resolve(positionals[0] ?? '.');
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`${positionals[0] ?? '.'} is not a directory`, 'Usage: switchyard code-refs [dir]');
  return dir;
}

/** Where the upload goes: the options, else what Git says; a missing one is a usage error naming its option. */
function uploadTarget(context: CommandContext, facts: GitFacts): Required<GitFacts> {
  const target = {
    repository: stringOption(context.values, 'repository') ?? facts.repository,
    branch: stringOption(context.values, 'branch') ?? facts.branch,
    commit: stringOption(context.values, 'commit') ?? facts.commit,
  };
  for (const [name, value] of Object.entries(target)) {
    if (value === undefined || value.trim() === '') throw new UsageError(`--upload needs the ${name}: Git could not tell it here; pass --${name}`);
  }
  return target as Required<GitFacts>;
}

function formatReferences(references: readonly FoundReference[]): string {
  return references.map((r) => `${r.path}:${r.line}: ${r.flag}: ${r.snippet}\n`).join('');
}

export const codeRefsCommand: Command = {
  name: 'code-refs',
  summary: 'Find where the code references flag keys; print them, optionally upload them',
  description: [
    'Scans the files Git knows in DIR (tracked and untracked, not those .gitignore excludes; outside Git, a walk that honours .gitignore files), in any language. A key counts as a whole word: "checkout" is not found inside "new-checkout". Binary files and files over --max-file-size are skipped.',
    'The keys come from the server (every flag, archived ones included; with --env, those of one environment), or from --flags FILE (one key per line, or the JSON of `switchyard flags list --json`) — then no server is needed unless you --upload.',
    'With --upload, the references replace what the server knows for this repository and branch (from Git: origin\'s URL, the branch, HEAD; or --repository, --branch, --commit). The dashboard then shows where each flag is used, and when its last reference disappeared.',
    'Exit codes: 0 when done; 1 when the code references an archived flag (unless --allow-archived) or the server refused the upload; 2 for usage errors; 3 when the server cannot be reached.',
  ].join('\n\n'),
  arguments: [{ name: 'dir', description: 'The directory to scan (default: the current one)', optional: true }],
  options: {
    flags: { type: 'string', value: 'FILE', description: 'Flag keys from this file instead of the server' },
    env: { type: 'string', value: 'ENV', description: 'Only the flags of this environment' },
    upload: { type: 'boolean', description: 'Upload the references to the server (editor role)' },
    repository: { type: 'string', value: 'NAME', description: "Repository name for --upload (default: origin's URL, e.g. github.com/acme/shop)" },
    branch: { type: 'string', value: 'NAME', description: 'Branch for --upload (default: the checked-out branch, or the CI\'s)' },
    commit: { type: 'string', value: 'SHA', description: 'Commit for --upload (default: HEAD)' },
    'allow-archived': { type: 'boolean', description: 'Exit 0 even when the code references archived flags' },
    'max-file-size': { type: 'string', value: 'BYTES', description: `Skip files larger than this (default ${DEFAULT_MAX_FILE_BYTES})` },
  },
  examples: ['switchyard code-refs', 'switchyard code-refs ./services/web --upload', 'switchyard code-refs --flags flags.txt --json', 'switchyard code-refs --upload --allow-archived   # in CI, on the main branch'],
  async run(context: CommandContext) {
    const dir = await directoryOf(context.positionals);
    const maxText = stringOption(context.values, 'max-file-size');
    const maxFileBytes = maxText === undefined ? DEFAULT_MAX_FILE_BYTES : positiveInteger(maxText, '--max-file-size');
    const upload = booleanOption(context.values, 'upload');
    const facts = await gitFacts(dir, process.env);
    const target = upload ? uploadTarget(context, facts) : undefined;
    const flags = await flagsFrom(context);
    const scan = await scanDirectory(dir, flags.map((f) => f.key), maxFileBytes);
    const counts = new Map<string, number>();
    for (const r of scan.references) counts.set(r.flag, (counts.get(r.flag) ?? 0) + 1);
    const archived = flags.filter((f) => f.archived && counts.has(f.key)).map((f) => ({ flag: f.key, references: counts.get(f.key)! }));
    const unreferenced = flags.filter((f) => !counts.has(f.key)).map((f) => f.key);

    let uploaded: { repository: string; branch: string; commit: string; references: number; uploadedAt: number } | undefined;
    if (target) {
      if (scan.references.length > CODE_REF_LIMITS.references) {
        throw new CommandError(`found ${scan.references.length} references; the server accepts at most ${CODE_REF_LIMITS.references} per upload: scan a smaller directory, or check for a key that matches too much`);
      }
      const references = scan.references.map(({ flag, path, line, snippet }) => ({ flag, path, line, snippet }));
      uploaded = (await context.api.request<NonNullable<typeof uploaded>>('PUT', '/api/code-refs', { body: { ...target, references } })).data;
    }

    if (context.json) {
      context.io.out(`${JSON.stringify({ repository: target?.repository ?? facts.repository ?? null, branch: target?.branch ?? facts.branch ?? null, commit: target?.commit ?? facts.commit ?? null, files: scan.files, skipped: scan.skipped, references: scan.references, archived, unreferenced, uploaded: uploaded ?? null })}\n`);
    } else {
      context.io.out(formatReferences(scan.references));
      const flagsFound = counts.size;
      context.io.out(`${plural(scan.references.length, 'reference')} to ${plural(flagsFound, 'flag')} in ${plural(scan.files, 'file')} scanned${scan.skipped.binary + scan.skipped.large > 0 ? ` (skipped ${scan.skipped.binary} binary, ${scan.skipped.large} over ${maxFileBytes} bytes)` : ''}; ${plural(unreferenced.length, 'flag')} not referenced\n`);
      if (uploaded) context.io.out(`uploaded to ${uploaded.repository} ${uploaded.branch} @ ${uploaded.commit.slice(0, 12)}\n`);
    }
    if (archived.length > 0 && !booleanOption(context.values, 'allow-archived')) {
      const listed = archived.map((a) => `${a.flag} (${plural(a.references, 'reference')})`).join(', ');
      throw new CommandError(`the code references ${plural(archived.length, 'archived flag')}: ${listed}; remove those references or unarchive the flags (--allow-archived does not fail)`);
    }
  },
};
