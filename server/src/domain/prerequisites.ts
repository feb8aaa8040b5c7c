import { MAX_PREREQUISITE_DEPTH } from '@switchyard/sdk/ruleset';
import type { ErrorDetail } from './errors.js';
import { ownEntry, type Flag } from './flags.js';

/**
 * Prerequisites (a flag requires another flag of the same environment to serve a given variation
 * before its own targeting applies) form a graph per environment. These pure checks run on the
 * state a write leaves behind, so every save path (REST, GitOps, promotions, change requests,
 * audit reverts) refuses the same things: unknown or archived flags, variations the required flag
 * lacks, a flag requiring itself, cycles, and chains longer than the SDK evaluates
 * (MAX_PREREQUISITE_DEPTH arrows).
 */

export type GraphFlag = Pick<Flag, 'key' | 'archived' | 'variations' | 'environments'>;

/** Flags whose prerequisites to check, in which environments, and where a problem is reported. */
export interface CheckedFlag {
  key: string;
  environments: readonly string[];
  /** Path of the flag's configuration in that environment (`body`, `environments.production`…). */
  path: (environment: string) => string;
}

const prerequisitesIn = (flag: GraphFlag | undefined, environment: string) => (flag ? (ownEntry(flag.environments, environment)?.prerequisites ?? []) : []);

const at = (base: string, path: string) => (base ? `${base}.${path}` : path);

/** Problems of the checked flags' prerequisites in `all` (every flag after the write), each naming its path. */
export function prerequisiteProblems(all: ReadonlyMap<string, GraphFlag>, checked: readonly CheckedFlag[]): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const environments = new Map<string, CheckedFlag[]>();
  for (const item of checked) {
    const flag = all.get(item.key);
    // Archived flags reach no SDK; restoring one checks it again.
    if (!flag || flag.archived) continue;
    for (const environment of item.environments) {
      environments.set(environment, [...(environments.get(environment) ?? []), item]);
      const seen = new Map<string, number>();
      prerequisitesIn(flag, environment).forEach((p, i) => {
        const path = at(item.path(environment), `prerequisites[${i}]`);
        const required = all.get(p.flag);
        if (p.flag === item.key) problems.push({ path: `${path}.flag`, message: `a flag cannot require itself ("${p.flag}")` });
        else if (seen.has(p.flag)) problems.push({ path: `${path}.flag`, message: `flag "${p.flag}" is already a prerequisite (prerequisites[${seen.get(p.flag)}])` });
        else if (!required) problems.push({ path: `${path}.flag`, message: `unknown flag "${p.flag}"` });
        else if (required.archived) problems.push({ path: `${path}.flag`, message: `flag "${p.flag}" is archived: restore it or remove this prerequisite` });
        else if (!required.variations.some((v) => v.key === p.variation)) {
          problems.push({ path: `${path}.variation`, message: `flag "${p.flag}" has no variation "${p.variation}" (it has ${required.variations.map((v) => `"${v.key}"`).join(', ')})` });
        }
        seen.set(p.flag, i);
      });
    }
  }
  if (problems.length > 0) return problems;
  for (const [environment, items] of environments) problems.push(...graphProblems(all, environment, items));
  return problems;
}

/**
 * Cycles and over-long chains in one environment's graph. The state before the write had neither,
 * so any there is now runs through a checked flag: that is where it is reported.
 */
function graphProblems(all: ReadonlyMap<string, GraphFlag>, environment: string, items: readonly CheckedFlag[]): ErrorDetail[] {
  const edges = (key: string) => prerequisitesIn(all.get(key), environment).map((p) => p.flag).filter((k) => all.has(k) && !all.get(k)!.archived);
  /** The longest chain starting at each flag (its flags, in order), memoised. */
  const longest = new Map<string, string[]>();
  const onPath: string[] = [];
  let cycle: string[] | undefined;
  const visit = (key: string): string[] => {
    const known = longest.get(key);
    if (known) return known;
    const loop = onPath.indexOf(key);
    if (loop >= 0) {
      cycle ??= [...onPath.slice(loop), key];
      return [key];
    }
    onPath.push(key);
    let best: string[] = [];
    for (const next of edges(key)) {
      const chain = visit(next);
      if (chain.length > best.length) best = chain;
    }
    onPath.pop();
    const chain = [key, ...best];
    longest.set(key, chain);
    return chain;
  };
  const base = (item: CheckedFlag) => at(item.path(environment), 'prerequisites');
  for (const item of items) {
    const chain = visit(item.key);
    if (cycle) {
      const where = items.find((i) => cycle!.includes(i.key)) ?? item;
      return [{ path: base(where), message: `prerequisite cycle in ${environment}: ${cycle.join(' → ')}` }];
    }
    if (chain.length - 1 > MAX_PREREQUISITE_DEPTH) {
      return [{ path: base(item), message: `prerequisite chain in ${environment} is longer than ${MAX_PREREQUISITE_DEPTH}: ${chain.join(' → ')}` }];
    }
  }
  // A chain may also grow from a flag that requires a checked one.
  const checkedKeys = new Set(items.map((i) => i.key));
  for (const key of all.keys()) {
    if (all.get(key)!.archived) continue;
    const chain = visit(key);
    if (cycle) return [{ path: base(items.find((i) => cycle!.includes(i.key)) ?? items[0]!), message: `prerequisite cycle in ${environment}: ${cycle.join(' → ')}` }];
    if (chain.length - 1 > MAX_PREREQUISITE_DEPTH && chain.some((k) => checkedKeys.has(k))) {
      const where = items.find((i) => chain.includes(i.key))!;
      return [{ path: base(where), message: `prerequisite chain in ${environment} would be longer than ${MAX_PREREQUISITE_DEPTH}: ${chain.join(' → ')}` }];
    }
  }
  return [];
}

/** A flag's prerequisite that another change broke: which flag, where, and why. */
export interface BrokenDependent {
  flag: string;
  environment: string;
  requires: string;
  reason: 'missing' | 'archived' | 'variation';
  variation: string;
}

/**
 * Flags (not archived, not among `keys`' own saves) whose prerequisites on a flag of `keys` no
 * longer hold in `all`: the flag was deleted or archived, or lost the required variation.
 */
export function brokenDependents(all: ReadonlyMap<string, GraphFlag>, keys: ReadonlySet<string>): BrokenDependent[] {
  const broken: BrokenDependent[] = [];
  for (const flag of all.values()) {
    if (flag.archived) continue;
    for (const [environment, config] of Object.entries(flag.environments)) {
      for (const p of config.prerequisites ?? []) {
        if (!keys.has(p.flag) || p.flag === flag.key) continue;
        const required = all.get(p.flag);
        const reason = !required ? 'missing' : required.archived ? 'archived' : !required.variations.some((v) => v.key === p.variation) ? 'variation' : undefined;
        if (reason) broken.push({ flag: flag.key, environment, requires: p.flag, reason, variation: p.variation });
      }
    }
  }
  // Sorted, so messages and details read the same whatever order the flags were listed in.
  return broken.sort((a, b) => (a.flag === b.flag ? (a.environment < b.environment ? -1 : 1) : a.flag < b.flag ? -1 : 1));
}

/** "flag "b" is a prerequisite of a (production, staging)…": the 409 message for a change that breaks dependents. */
export function dependentsMessage(broken: readonly BrokenDependent[]): string {
  const byRequired = new Map<string, Map<string, string[]>>();
  for (const b of broken) {
    const what = b.reason === 'variation' ? `variation "${b.variation}" of flag "${b.requires}"` : `flag "${b.requires}"`;
    const dependents = byRequired.get(what) ?? new Map<string, string[]>();
    dependents.set(b.flag, [...(dependents.get(b.flag) ?? []), b.environment]);
    byRequired.set(what, dependents);
  }
  const parts = [...byRequired].map(([what, dependents]) => `${what} is a prerequisite of ${[...dependents].map(([flag, envs]) => `"${flag}" (${envs.join(', ')})`).join(', ')}`);
  return `${parts.join('; ')}: remove those prerequisites first`;
}
