import { execFile } from 'node:child_process';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';

/**
 * Finding flag keys in a working tree, for `switchyard code-refs`: which files (Git's own list when
 * the directory is in a repository — tracked and untracked, minus what `.gitignore` excludes — else
 * a walk that honours `.gitignore` files), which lines, and the Git facts an upload records.
 */

/** A file bigger than this is skipped (minified bundles, lock files, data dumps). */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
/** Git's rule: a NUL byte in the first 8,000 bytes makes a file binary. */
const BINARY_SNIFF_BYTES = 8000;
export const SNIPPET_CHARS = 300;

export interface FoundReference {
  flag: string;
  /** From the repository root (or the scanned directory outside Git), with "/" separators. */
  path: string;
  line: number;
  snippet: string;
}

export interface ScanResult {
  references: FoundReference[];
  files: number;
  skipped: { binary: number; large: number };
}

export function git(args: readonly string[], cwd: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', [...args], { cwd, timeout: 30_000, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (error, stdout) => resolve(error ? undefined : stdout));
  });
}

/** Characters a flag key is made of: a key next to one of them is part of a longer word. */
const KEY_CHAR = 'A-Za-z0-9_\\-';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * One expression finding any of `keys` as a whole word: not inside a longer key (`checkout` is not
 * in `new-checkout` nor in `checkout-v2`, nor in `checkout.v2`), longest key first. A dot before a
 * key is a boundary (`flags.checkout`).
 */
export function keyPattern(keys: readonly string[]): RegExp | undefined {
  if (keys.length === 0) return undefined;
  const sorted = [...new Set(keys)].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  return new RegExp(`(?<![${KEY_CHAR}])(${sorted.map(escape).join('|')})(?![${KEY_CHAR}]|\\.[${KEY_CHAR}])`, 'g');
}

/** The line trimmed, cut to SNIPPET_CHARS around the match when longer. */
function snippetOf(line: string, index: number): string {
  const trimmed = line.trim();
  if (trimmed.length <= SNIPPET_CHARS) return trimmed;
  const offset = index - (line.length - line.trimStart().length);
  const start = Math.max(0, Math.min(offset - SNIPPET_CHARS / 3, trimmed.length - (SNIPPET_CHARS - 2)));
  const cut = trimmed.slice(Math.floor(start), Math.floor(start) + SNIPPET_CHARS - 2);
  return `${start > 0 ? '…' : ''}${cut}${start + SNIPPET_CHARS - 2 < trimmed.length ? '…' : ''}`.slice(0, SNIPPET_CHARS);
}

/** References in one file's text: one per flag and line. */
export function findReferences(text: string, path: string, pattern: RegExp): FoundReference[] {
  const found: FoundReference[] = [];
  const lines = text.split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const seen = new Set<string>();
    pattern.lastIndex = 0;
    for (let match = pattern.exec(line); match !== null; match = pattern.exec(line)) {
      const flag = match[1]!;
      if (seen.has(flag)) continue;
      seen.add(flag);
      found.push({ flag, path, line: i + 1, snippet: snippetOf(line, match.index) });
    }
  }
  return found;
}

/** A file listed for scanning: where to read it, and the path to report. */
export interface ListedFile {
  absolute: string;
  path: string;
}

/** Git's list of files under `dir` (tracked, and untracked but not ignored), or undefined outside a repository. */
async function gitFiles(dir: string): Promise<ListedFile[] | undefined> {
  const prefix = await git(['rev-parse', '--show-prefix'], dir);
  if (prefix === undefined) return undefined;
  const out = await git(['ls-files', '-z', '--cached', '--others', '--exclude-standard'], dir);
  if (out === undefined) return undefined;
  const paths = [...new Set(out.split('\0').filter((p) => p !== ''))];
  return paths.map((p) => ({ absolute: join(dir, p), path: posix.join(prefix.trim(), p) }));
}

interface IgnoreRule {
  /** The directory of the .gitignore, from the scanned root ('' for the root). */
  base: string;
  regex: RegExp;
  negated: boolean;
  dirOnly: boolean;
  /** No "/" but a trailing one: matches the name at any depth. */
  anyDepth: boolean;
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slashAfter = glob[i + 2] === '/';
      out += slashAfter ? '(?:.*/)?' : '.*';
      i += slashAfter ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) out += '\\[';
      else {
        out += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) out += escape(glob[++i]!);
    else out += escape(c);
  }
  return out;
}

/** The rules of one .gitignore file (a useful subset of Git's syntax: globs, `**`, `!`, anchors, dir-only). */
export function parseGitignore(text: string, base: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.replace(/(?<!\\)\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    if (negated) line = line.slice(1);
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.slice(0, -1);
    const anyDepth = !line.includes('/');
    line = line.replace(/^\//, '');
    if (line === '') continue;
    rules.push({ base, regex: new RegExp(`^${globToRegex(line)}$`), negated, dirOnly, anyDepth });
  }
  return rules;
}

/** Whether `path` (from the root; a directory when `isDir`) is ignored: the last matching rule decides. */
export function isIgnored(rules: readonly IgnoreRule[], path: string, isDir: boolean): boolean {
  let ignored = false;
  for (const rule of rules) {
    if (rule.dirOnly && !isDir) continue;
    if (rule.base !== '' && !path.startsWith(`${rule.base}/`)) continue;
    const relative = rule.base === '' ? path : path.slice(rule.base.length + 1);
    if (rule.regex.test(rule.anyDepth ? basename(relative) : relative)) ignored = !rule.negated;
  }
  return ignored;
}

/** Every file under `dir` outside Git, skipping `.git` and what `.gitignore` files exclude; symbolic links are not followed. */
async function walkFiles(dir: string): Promise<ListedFile[]> {
  const files: ListedFile[] = [];
  const visit = async (relative: string, inherited: readonly IgnoreRule[]): Promise<void> => {
    const absolute = relative === '' ? dir : join(dir, relative);
    const entries = await readdir(absolute, { withFileTypes: true });
    let rules = inherited;
    if (entries.some((e) => e.name === '.gitignore' && e.isFile())) {
      rules = [...inherited, ...parseGitignore(await readFile(join(absolute, '.gitignore'), 'utf8'), relative)];
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== '.git' && !isIgnored(rules, path, true)) await visit(path, rules);
      } else if (entry.isFile() && !isIgnored(rules, path, false)) {
        files.push({ absolute: join(dir, path), path });
      }
    }
  };
  await visit('', []);
  return files;
}

export async function listFiles(dir: string): Promise<ListedFile[]> {
  return (await gitFiles(dir)) ?? (await walkFiles(dir));
}

/** Scan `dir` for `keys`: files in path order, binary and oversized files skipped. */
export async function scanDirectory(dir: string, keys: readonly string[], maxFileBytes = DEFAULT_MAX_FILE_BYTES): Promise<ScanResult> {
  const pattern = keyPattern(keys);
  const files = (await listFiles(dir)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const result: ScanResult = { references: [], files: 0, skipped: { binary: 0, large: 0 } };
  for (const file of files) {
    const info = await lstat(file.absolute).catch(() => undefined);
    // Deleted in the working tree but still in the index, or a symbolic link: nothing to read.
    if (!info?.isFile()) continue;
    if (info.size > maxFileBytes) {
      result.skipped.large += 1;
      continue;
    }
    const bytes = await readFile(file.absolute).catch(() => undefined);
    if (bytes === undefined) continue;
    if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
      result.skipped.binary += 1;
      continue;
    }
    result.files += 1;
    if (pattern) result.references.push(...findReferences(bytes.toString('utf8'), file.path, pattern));
  }
  return result;
}

export interface GitFacts {
  repository?: string;
  branch?: string;
  commit?: string;
}

/** `git@github.com:acme/shop.git`, `https://user@github.com/acme/shop.git` → `github.com/acme/shop`. */
export function repositoryName(remote: string): string {
  const text = remote.trim().replace(/\.git$/, '').replace(/\/+$/, '');
  const scp = /^[\w.-]+@([\w.-]+):(.+)$/.exec(text);
  if (scp) return `${scp[1]}/${scp[2]!.replace(/^\/+/, '')}`;
  try {
    const url = new URL(text);
    return `${url.hostname}${url.pathname}`;
  } catch {
    return text;
  }
}

/** Repository (origin's URL, else the top directory's name), branch and commit of the checkout at `dir`. */
export async function gitFacts(dir: string, env: NodeJS.ProcessEnv): Promise<GitFacts> {
  const [top, remote, branch, commit] = await Promise.all([
    git(['rev-parse', '--show-toplevel'], dir),
    git(['remote', 'get-url', 'origin'], dir),
    git(['rev-parse', '--abbrev-ref', 'HEAD'], dir),
    git(['rev-parse', 'HEAD'], dir),
  ]);
  // A CI checkout is often a detached HEAD: the CI says which branch it built.
  const detached = branch?.trim() === 'HEAD' || branch === undefined;
  const ciBranch = env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || env.CI_COMMIT_REF_NAME || env.BRANCH_NAME || undefined;
  return {
    repository: remote?.trim() ? repositoryName(remote) : top?.trim() ? basename(top.trim()) : undefined,
    branch: detached ? ciBranch : branch.trim(),
    commit: commit?.trim() || undefined,
  };
}
