import type { DesiredState } from '../../domain/gitops/desired.js';
import { formatPath, parseFile, type FileProblem, type SourceFile } from '../../domain/gitops/locate.js';
import type { PlanOptions } from '../../domain/gitops/plan.js';
import { ownEntry, type Flag } from '../../domain/flags.js';
import { brokenDependents, dependentsMessage, prerequisiteProblems, type CheckedFlag, type GraphFlag } from '../../domain/prerequisites.js';

/**
 * Prerequisites of flag files, checked when they are validated or planned (the apply checks the
 * state it writes again, in its transaction): against the server's flags with the files' flags
 * laid over them, so a file may require a flag it does not define — and the flags a prune would
 * delete are gone.
 */
export function prerequisiteFileProblems(desired: DesiredState, current: readonly Flag[], options: PlanOptions, sources: readonly SourceFile[], inlineBytes: number): FileProblem[] {
  const locate = (parts: readonly PropertyKey[]) => locateIn(sources, parts, inlineBytes);
  const all = new Map<string, GraphFlag>(current.map((f) => [f.key, f]));
  const prunes = (key: string) => options.prune === true || options.pruneOnly?.flags.has(key) === true;
  const affected = new Set<string>();
  for (const flag of current) {
    if (!desired.flags.has(flag.key) && prunes(flag.key)) {
      all.delete(flag.key);
      affected.add(flag.key);
    }
  }
  const checked: CheckedFlag[] = [];
  for (const [key, flag] of desired.flags) {
    const before = all.get(key);
    all.set(key, { ...flag, environments: { ...before?.environments, ...flag.environments } });
    const environments = Object.keys(flag.environments).filter((env) => (ownEntry(flag.environments, env)!.prerequisites?.length ?? 0) > 0);
    if (environments.length > 0) checked.push({ key, environments, path: (env) => formatPath(['flags', key, 'environments', env]) });
    if (before && (flag.archived || before.variations.map((v) => v.key).join('\0') !== flag.variations.map((v) => v.key).join('\0'))) affected.add(key);
  }
  const problems = prerequisiteProblems(all, checked).map((p) => ({ ...locate(partsOf(p.path)), path: p.path, message: p.message }));
  if (problems.length > 0 || affected.size === 0) return problems;
  const broken = brokenDependents(all, affected);
  if (broken.length === 0) return [];
  // Reported where the file writes the dependent flag if it does, else where it drops (or changes) the required one.
  const at = desired.flags.has(broken[0]!.flag) ? ['flags', broken[0]!.flag] : desired.flags.has(broken[0]!.requires) ? ['flags', broken[0]!.requires] : ['flags'];
  return [{ ...locate(at), path: formatPath(at), message: dependentsMessage(broken) }];
}

/** `flags.a.environments.production.prerequisites[0].flag` → its parts (keys may hold dots, so the tail anchors it). */
function partsOf(path: string): PropertyKey[] {
  const m = /^flags\.(.+)\.environments\.(.+?)\.prerequisites(?:\[(\d+)\](?:\.(flag|variation))?)?$/.exec(path);
  if (!m) return ['flags'];
  return ['flags', m[1]!, 'environments', m[2]!, 'prerequisites', ...(m[3] !== undefined ? [Number(m[3])] : []), ...(m[4] !== undefined ? [m[4]] : [])];
}

/** Line and column of `parts` in the file that defines its flag (parsed again only below `inlineBytes`); else the first file's start. */
function locateIn(sources: readonly SourceFile[], parts: readonly PropertyKey[], inlineBytes: number): Omit<FileProblem, 'message' | 'path'> {
  for (const source of sources) {
    if (source.text.length > inlineBytes) continue;
    const { file } = parseFile(source);
    const flags = (file.data as { flags?: Record<string, unknown> } | undefined)?.flags;
    if (parts.length < 2 || (typeof flags === 'object' && flags !== null && Object.hasOwn(flags, parts[1] as string))) return { file: file.name, ...file.locate(parts) };
  }
  return { file: sources[0]?.name ?? '', line: 1, column: 1 };
}
