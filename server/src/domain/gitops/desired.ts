import type { FlagEnvironment } from '../flags.js';
import { configProblems, variationProblems } from '../flag-validation.js';
import type { NewFlag } from '../flags.js';
import type { NewSegment } from '../segments.js';
import { expandEntry } from './entries.js';
import { countProblem } from './limits.js';
import { formatPath, issueProblems, parseFile, valueAt, type FileProblem, type ParsedFile, type SourceFile } from './locate.js';
import { gitopsDocumentSchema, type EnvironmentEntry } from './schema.js';

/** The state one or more files ask for, fully expanded, plus where each resource was written. */
export interface DesiredState {
  environments: Map<string, Required<EnvironmentEntry>>;
  segments: Map<string, NewSegment>;
  /** `environments` holds only the environments the file names for the flag. */
  flags: Map<string, NewFlag>;
}

export type LoadResult = { ok: true; state: DesiredState } | { ok: false; problems: FileProblem[] };

const BOOLEAN_VARIATIONS: NewFlag['variations'] = [
  { key: 'off', value: false },
  { key: 'on', value: true },
];

/** `rules[0].serve.variation` → `['rules', 0, 'serve', 'variation']` (paths from validate.ts). */
function pathParts(path: string): PropertyKey[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/**
 * Parse, validate and merge flag files. `existingSegments` are the segments the server already
 * has: a flag may use them without the file declaring them. Nothing is returned unless every file
 * is valid, so a bad file can never be applied in part.
 */
export function loadDesired(sources: readonly SourceFile[], existingSegments: ReadonlySet<string>): LoadResult {
  const problems: FileProblem[] = [];
  const state: DesiredState = { environments: new Map(), segments: new Map(), flags: new Map() };
  const parsed: { file: ParsedFile; doc: ReturnType<typeof gitopsDocumentSchema.parse> }[] = [];
  const origin = new Map<string, string>();

  const files: ParsedFile[] = [];
  for (const source of sources) {
    const { file, problems: syntax } = parseFile(source);
    if (syntax.length > 0) problems.push(...syntax);
    else files.push(file);
  }
  const tooMany = countProblem(countEntries(files));
  if (tooMany) return { ok: false, problems: [{ file: files.length === 1 ? files[0]!.name : `${files.length} files`, line: 1, column: 1, path: '', message: tooMany }] };

  for (const file of files) {
    const result = gitopsDocumentSchema.safeParse(file.data);
    if (!result.success) {
      problems.push(...issueProblems(file, result.error.issues));
      continue;
    }
    parsed.push({ file, doc: result.data });
  }

  const claim = (file: ParsedFile, kind: 'environments' | 'segments' | 'flags', key: string): boolean => {
    const id = `${kind}:${key}`;
    const previous = origin.get(id);
    if (previous !== undefined) {
      problems.push({ file: file.name, ...file.locate([kind, key], true), path: formatPath([kind, key]), message: `${kind.slice(0, -1)} "${key}" is also defined in ${previous}` });
      return false;
    }
    origin.set(id, file.name);
    return true;
  };

  for (const { file, doc } of parsed) {
    for (const [key, env] of Object.entries(doc.environments)) {
      if (claim(file, 'environments', key)) state.environments.set(key, { name: env.name ?? key, critical: env.critical });
    }
    for (const [key, segment] of Object.entries(doc.segments)) {
      if (!claim(file, 'segments', key)) continue;
      const excluded = new Set(segment.excluded);
      segment.included.forEach((id, i) => {
        if (excluded.has(id)) problems.push(at(file, ['segments', key, 'included', i], `"${id}" is both included and excluded`));
      });
      const ruleIds = new Set<string>();
      segment.rules.forEach((rule, i) => {
        if (ruleIds.has(rule.id)) problems.push(at(file, ['segments', key, 'rules', i, 'id'], `duplicate rule id "${rule.id}"`));
        ruleIds.add(rule.id);
      });
      state.segments.set(key, { key, ...segment, name: segment.name ?? key });
    }
  }

  const segmentExists = (key: string) => state.segments.has(key) || existingSegments.has(key);
  const segmentKeys = new Set([...existingSegments, ...state.segments.keys()]);

  for (const { file, doc } of parsed) {
    for (const [key, entry] of Object.entries(doc.flags)) {
      if (!claim(file, 'flags', key)) continue;
      const base = ['flags', key];
      const variations = entry.variations ?? (entry.type === 'boolean' ? BOOLEAN_VARIATIONS : undefined);
      if (!variations) {
        problems.push(at(file, [...base, 'variations'], `a ${entry.type} flag needs its variations`));
        continue;
      }
      const variationIssues = variationProblems({ type: entry.type, variations }, 'variations');
      for (const p of variationIssues) problems.push(at(file, [...base, ...pathParts(p.path)], p.message));
      if (variationIssues.length > 0) continue;
      const flag: NewFlag = {
        key,
        name: entry.name ?? key,
        description: entry.description,
        tags: [...new Set(entry.tags)],
        owner: entry.owner,
        type: entry.type,
        variations,
        archived: entry.archived,
        clientVisible: entry.clientVisible,
        environments: {},
      };
      const variationKeys = new Set(variations.map((v) => v.key));
      for (const [env, envEntry] of Object.entries(entry.environments)) {
        const envPath = [...base, 'environments', env];
        if (!state.environments.has(env)) {
          problems.push({ file: file.name, ...file.locate(envPath, true), path: formatPath(envPath), message: `unknown environment "${env}": declare it under "environments"` });
          continue;
        }
        const { config, problems: entryProblems } = expandEntry(flag, envEntry, segmentExists);
        for (const p of entryProblems) problems.push(at(file, [...envPath, ...p.path], p.message));
        if (!config) continue;
        if (!('stage' in envEntry)) {
          for (const p of configProblems(config, variationKeys, segmentKeys, '')) problems.push(at(file, [...envPath, ...pathParts(p.path)], p.message));
        }
        flag.environments[env] = config as FlagEnvironment;
      }
      state.flags.set(key, flag);
    }
  }

  return problems.length > 0 ? { ok: false, problems } : { ok: true, state };
}

/** Flags, segments and environments across files, counted before any is validated. */
function countEntries(files: readonly ParsedFile[]): { flags: number; segments: number; environments: number } {
  const counts = { flags: 0, segments: 0, environments: 0 };
  for (const file of files) {
    for (const kind of ['flags', 'segments', 'environments'] as const) {
      const entries = valueAt(file.data, [kind]);
      if (typeof entries === 'object' && entries !== null) counts[kind] += Object.keys(entries).length;
    }
  }
  return counts;
}

function at(file: ParsedFile, path: PropertyKey[], message: string): FileProblem {
  return { file: file.name, ...file.locate(path), path: formatPath(path), message };
}
