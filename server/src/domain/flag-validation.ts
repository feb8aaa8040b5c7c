import type { Serve } from '@switchyard/sdk';
import { AppError, type ErrorDetail } from './errors.js';
import type { Flag, FlagEnvironment } from './flags.js';

/**
 * Cross-reference checks zod cannot do alone: variations exist and fit the flag type, segments
 * exist, rule ids are unique. Every problem names its path; all problems are reported at once.
 */
export function flagProblems(flag: Pick<Flag, 'type' | 'variations' | 'environments'>, segmentKeys: ReadonlySet<string>, pathPrefix = ''): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const at = (path: string) => (pathPrefix && path ? `${pathPrefix}.${path}` : pathPrefix || path);
  problems.push(...variationProblems(flag, at('variations')));
  const keys = new Set(flag.variations.map((v) => v.key));
  for (const [env, config] of Object.entries(flag.environments)) {
    problems.push(...configProblems(config, keys, segmentKeys, at(`environments.${env}`)));
  }
  return problems;
}

export function variationProblems(flag: Pick<Flag, 'type' | 'variations'>, path: string): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const seen = new Set<string>();
  flag.variations.forEach((v, i) => {
    if (seen.has(v.key)) problems.push({ path: `${path}[${i}].key`, message: `duplicate variation key "${v.key}"` });
    seen.add(v.key);
    const ok =
      flag.type === 'boolean'
        ? typeof v.value === 'boolean'
        : flag.type === 'string'
          ? typeof v.value === 'string'
          : flag.type === 'number'
            ? typeof v.value === 'number' && Number.isFinite(v.value)
            : true;
    if (!ok) problems.push({ path: `${path}[${i}].value`, message: `a ${flag.type} flag needs ${flag.type} values; got ${JSON.stringify(v.value)}` });
  });
  if (flag.type === 'boolean') {
    const values = flag.variations.map((v) => v.value);
    if (flag.variations.length !== 2 || !values.includes(true) || !values.includes(false)) {
      problems.push({ path, message: 'a boolean flag has exactly two variations, true and false' });
    }
  } else if (flag.variations.length < 2) {
    problems.push({ path, message: 'a flag needs at least two variations' });
  }
  return problems;
}

function serveProblems(serve: Serve, variations: ReadonlySet<string>, path: string): ErrorDetail[] {
  if ('variation' in serve) {
    return variations.has(serve.variation) ? [] : [{ path: `${path}.variation`, message: `unknown variation "${serve.variation}"` }];
  }
  const problems: ErrorDetail[] = [];
  const seen = new Set<string>();
  serve.rollout.variations.forEach((share, i) => {
    if (!variations.has(share.variation)) problems.push({ path: `${path}.rollout.variations[${i}].variation`, message: `unknown variation "${share.variation}"` });
    if (seen.has(share.variation)) problems.push({ path: `${path}.rollout.variations[${i}].variation`, message: `variation "${share.variation}" appears twice in the rollout` });
    seen.add(share.variation);
  });
  return problems;
}

export function configProblems(config: FlagEnvironment, variations: ReadonlySet<string>, segmentKeys: ReadonlySet<string>, path: string): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const at = (p: string) => (path ? `${path}.${p}` : p);
  if (!variations.has(config.offVariation)) problems.push({ path: at('offVariation'), message: `unknown variation "${config.offVariation}"` });
  const targeted = new Set<string>();
  config.targets.forEach((target, i) => {
    if (!variations.has(target.variation)) problems.push({ path: at(`targets[${i}].variation`), message: `unknown variation "${target.variation}"` });
    target.values.forEach((id, j) => {
      if (targeted.has(id)) problems.push({ path: at(`targets[${i}].values[${j}]`), message: `"${id}" is targeted more than once` });
      targeted.add(id);
    });
  });
  const ruleIds = new Set<string>();
  config.rules.forEach((rule, i) => {
    if (ruleIds.has(rule.id)) problems.push({ path: at(`rules[${i}].id`), message: `duplicate rule id "${rule.id}"` });
    ruleIds.add(rule.id);
    rule.clauses.forEach((clause, j) => {
      if (clause.operator !== 'in_segment' && clause.operator !== 'not_in_segment') return;
      clause.values.forEach((value, k) => {
        if (!segmentKeys.has(String(value))) problems.push({ path: at(`rules[${i}].clauses[${j}].values[${k}]`), message: `unknown segment "${String(value)}"` });
      });
    });
    problems.push(...serveProblems(rule.serve, variations, at(`rules[${i}].serve`)));
  });
  problems.push(...serveProblems(config.defaultServe, variations, at('defaultServe')));
  return problems;
}

/** A `matches` pattern and where it was written: what the services' pattern-safety check analyses. */
export interface PatternSite {
  path: string;
  pattern: string;
}

/** Every `matches` pattern of some rules (a flag's or a segment's), with its path under `path`. */
export function matchesPatterns(rules: readonly { clauses: readonly { operator: string; values: readonly unknown[] }[] }[], path: string): PatternSite[] {
  const sites: PatternSite[] = [];
  rules.forEach((rule, i) => {
    rule.clauses.forEach((clause, j) => {
      if (clause.operator !== 'matches') return;
      clause.values.forEach((value, k) => {
        if (typeof value === 'string') sites.push({ path: `${path}rules[${i}].clauses[${j}].values[${k}]`, pattern: value });
      });
    });
  });
  return sites;
}

export function assertNoProblems(problems: ErrorDetail[]): void {
  if (problems.length === 0) return;
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new AppError('validation_failed', `${first.path}: ${first.message}${more}`, problems);
}
