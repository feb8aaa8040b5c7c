import { matchesPatterns, type PatternSite } from '../../domain/flag-validation.js';
import type { DesiredState } from '../../domain/gitops/desired.js';
import { formatPath, parseFile, type FileProblem, type SourceFile } from '../../domain/gitops/locate.js';
import { patternProblems } from '../pattern-safety.js';
import { INLINE_BYTES } from './documents.js';

/** A pattern in a flags file: the resource that holds it and the path below it. */
interface FileSite extends PatternSite {
  parts: PropertyKey[];
}

/** `rules[0].clauses[1].values[2]` → `['rules', 0, 'clauses', 1, 'values', 2]`. */
function ruleParts(path: string): PropertyKey[] {
  const [i, j, k] = (path.match(/\d+/g) ?? []).map(Number);
  return ['rules', i!, 'clauses', j!, 'values', k!];
}

function sitesOf(state: DesiredState): FileSite[] {
  const sites: FileSite[] = [];
  const add = (base: PropertyKey[], rules: Parameters<typeof matchesPatterns>[0]) => {
    for (const site of matchesPatterns(rules, '')) {
      const parts = [...base, ...ruleParts(site.path)];
      sites.push({ pattern: site.pattern, path: formatPath(parts), parts });
    }
  };
  for (const [key, segment] of state.segments) add(['segments', key], segment.rules);
  for (const [key, flag] of state.flags) {
    for (const [env, config] of Object.entries(flag.environments)) add(['flags', key, 'environments', env], config.rules);
  }
  return sites;
}

/** Whether a parsed file defines `parts[0..1]` (a flag or segment key); each is defined in one file only. */
function defines(data: unknown, kind: PropertyKey, key: PropertyKey): boolean {
  if (typeof data !== 'object' || data === null || !Object.hasOwn(data, kind as string)) return false;
  const entries = (data as Record<string, unknown>)[kind as string];
  return typeof entries === 'object' && entries !== null && Object.hasOwn(entries, key as string);
}

/** Line and column (1-based) of a character offset. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/**
 * Where a refused pattern was written. Small files are parsed again (a few ms) and the path located
 * exactly; in a large one, parsing would block the event loop for seconds (documents.ts), so the
 * pattern's text is searched for instead, in double quotes (JSON, YAML) or as written.
 */
function locate(sources: readonly SourceFile[], site: FileSite): Omit<FileProblem, 'message' | 'path'> {
  for (const source of sources) {
    if (source.text.length <= INLINE_BYTES) {
      const { file } = parseFile(source);
      if (defines(file.data, site.parts[0]!, site.parts[1]!)) return { file: file.name, ...file.locate(site.parts) };
      continue;
    }
    for (const written of [JSON.stringify(site.pattern), site.pattern]) {
      const offset = source.text.indexOf(written);
      if (offset >= 0) return { file: source.name, ...position(source.text, offset) };
    }
  }
  return { file: sources[0]?.name ?? '', line: 1, column: 1 };
}

/** Every `matches` pattern of valid flag files that can backtrack super-linearly, as file:line:col problems. */
export async function unsafePatternProblems(state: DesiredState, sources: readonly SourceFile[]): Promise<FileProblem[]> {
  const sites = sitesOf(state);
  if (sites.length === 0) return [];
  const refused = await patternProblems(sites);
  const byPath = new Map(sites.map((s) => [s.path, s]));
  return refused.map(({ path, message }) => ({ ...locate(sources, byPath.get(path)!), path, message }));
}
