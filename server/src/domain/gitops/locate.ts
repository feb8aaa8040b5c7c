import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { z } from 'zod';
import { nestingMessage, shapeProblem, tokenProblem } from './limits.js';

/**
 * Every problem in a flags file names the file, line and column and the field path, like a
 * compiler. The file is parsed with `yaml` (JSON is valid YAML), keeping node ranges, so a zod
 * issue path can be mapped back to where the value (or the offending key) was written.
 */

export interface FileProblem {
  file: string;
  line: number;
  column: number;
  /** The field path: `flags.new-checkout.environments.production.stage`. */
  path: string;
  message: string;
}

export interface SourceFile {
  name: string;
  text: string;
}

export interface ParsedFile {
  name: string;
  data: unknown;
  /** Where a path was written: the value, or the key when `key` is set, or the nearest ancestor. */
  locate(path: readonly PropertyKey[], key?: boolean): { line: number; column: number };
}

export function formatProblem(p: FileProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** `['flags', 'x', 'rules', 0, 'id']` → `flags.x.rules[0].id`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

export function parseFile(file: SourceFile): { file: ParsedFile; problems: FileProblem[] } {
  const tooBig = tokenProblem(file.text);
  if (tooBig) {
    const before = file.text.slice(0, tooBig.offset).split('\n');
    const where = { line: before.length, column: before.at(-1)!.length + 1 };
    return { file: { name: file.name, data: undefined, locate: () => where }, problems: [{ file: file.name, ...where, path: '', message: tooBig.message }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  // (The composer recurses once per nesting level, and reports its stack overflow as an error.)
  const problems: FileProblem[] = doc.errors.map((e) => ({ file: file.name, ...at(e.pos[0]), path: '', message: nestingMessage(e.message.split('\n')[0]!) }));
  // Before toJS (recursive) and zod (an issue per bad item): bounded depth and list sizes.
  const shape = problems.length === 0 ? shapeProblem(doc.contents) : undefined;
  if (shape) problems.push({ file: file.name, ...at(rangeStart(shape.node) ?? 0), path: '', message: shape.message });
  const locate = (path: readonly PropertyKey[], key = false) => {
    let node: unknown = doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const part = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(part));
        if (!pair) break;
        const last = i === path.length - 1;
        offset = rangeStart(last && key ? pair.key : (pair.value ?? pair.key)) ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof part === 'number') {
        const item = node.items[part];
        if (item === undefined) break;
        offset = rangeStart(item) ?? offset;
        node = item;
      } else break;
    }
    return at(offset);
  };
  let data: unknown;
  try {
    data = problems.length === 0 ? doc.toJS({ maxAliasCount: 100 }) : undefined;
  } catch (error) {
    problems.push({ file: file.name, line: 1, column: 1, path: '', message: (error as Error).message });
  }
  if (problems.length === 0 && (data === null || data === undefined)) data = {};
  return { file: { name: file.name, data, locate }, problems };
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null)?.range?.[0];
}

type Issue = z.core.$ZodIssue;

/**
 * zod issues → problems with positions. A union that matched no option reports the option the
 * value was meant for: the stage form when it has `stage`, else the option that got furthest.
 */
export function issueProblems(file: ParsedFile, issues: readonly Issue[], basePath: readonly PropertyKey[] = []): FileProblem[] {
  return issues.flatMap((issue) => {
    const path = [...basePath, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const value = valueAt(file.data, path);
      const wantsStage = typeof value === 'object' && value !== null && 'stage' in value;
      let best = issue.errors[0]!;
      let bestDepth = -1;
      issue.errors.forEach((branch) => {
        // Full targeting (no `stage`) must not be judged as a stage entry that lacks its stage.
        const stageBranch = branch.some((b) => b.path[0] === 'stage');
        const depth = wantsStage ? (stageBranch ? 1 : 0) : stageBranch ? -1 : Math.max(0, ...branch.map((b) => b.path.length));
        if (depth > bestDepth) [best, bestDepth] = [branch, depth];
      });
      return issueProblems(file, best, path);
    }
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ file: file.name, ...file.locate([...path, k], true), path: formatPath([...path, k]), message: `unknown field "${k}"` }));
    }
    if (issue.code === 'invalid_key') {
      return [{ file: file.name, ...file.locate(path, true), path: formatPath(path), message: `invalid key: ${issue.issues[0]?.message ?? issue.message}` }];
    }
    const missing = issue.code === 'invalid_type' && valueAt(file.data, path) === undefined;
    return [{ file: file.name, ...file.locate(path), path: formatPath(path), message: missing ? `missing required field (${issue.message})` : issue.message }];
  });
}

export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const part of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[part as string];
  }
  return v;
}
