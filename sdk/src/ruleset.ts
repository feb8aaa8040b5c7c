import { compileSegments } from './clauses.js';
import { compileFlag, type CompiledFlag } from './evaluate.js';
import type { FlagConfig, FlagType, JsonValue, RuleSet, Segment, SegmentRule } from './types.js';

/**
 * `@switchyard/sdk/ruleset`: what the server and the dashboard need to build, validate and
 * evaluate rule sets in bulk — the same code the client runs, exported here rather than from the
 * browser core.
 */
export { CLAUSE_OPERATORS, FLAG_TYPES } from './types.js';
export { SEED, murmur3 } from './bucket.js';
export { FLAG_NOT_FOUND, MAX_PREREQUISITE_DEPTH, compileFlag, evaluate, evaluateCompiled } from './evaluate.js';
export type { CompiledFlag, FlagLookup } from './evaluate.js';
export { MAX_MATCHED_LENGTH, MAX_PATTERN_LENGTH, PATTERN_FLAGS, compilePattern } from './clauses.js';
export { compareSemVer, parseSemVer } from './semver.js';
export type { SemVer } from './semver.js';
export { isRuleSet, isRuleSetPatch } from './store.js';
export type { RuleSetPatch } from './store.js';
export { DEFAULTS as CLIENT_DEFAULTS } from './options.js';

/**
 * How a managed flag (as the server stores it and the API returns it) becomes what one
 * environment's SDKs receive. The server's rule sets and the dashboard's preview both call these,
 * so the preview evaluates exactly what SDKs evaluate.
 */
export interface FlagDefinition {
  key: string;
  type: FlagType;
  variations: readonly { key: string; value: JsonValue }[];
  archived: boolean;
  /** Client keys (browsers) receive its evaluated value. */
  clientVisible?: boolean;
  version: number;
  environments: Record<string, FlagEnvironmentDefinition | undefined>;
}

/** A flag's configuration in one environment: the per-environment part of what SDKs receive. */
export type FlagEnvironmentDefinition = Pick<FlagConfig, 'on' | 'offVariation' | 'prerequisites' | 'targets' | 'rules' | 'defaultServe' | 'salt' | 'bucketBy' | 'guarded'>;

/** A flag as one environment's SDKs see it, or null when they must not see it (archived, or no such environment). */
export function toFlagConfig(flag: FlagDefinition, environment: string): FlagConfig | null {
  // Own keys only: an environment named `constructor` must not find Object.prototype.constructor.
  const config = Object.hasOwn(flag.environments, environment) ? flag.environments[environment] : undefined;
  if (!config || flag.archived) return null;
  return {
    key: flag.key,
    type: flag.type,
    variations: flag.variations.map((v) => ({ key: v.key, value: v.value })),
    on: config.on,
    offVariation: config.offVariation,
    // Absent when empty, so rule sets of flags without prerequisites stay byte-identical.
    ...(config.prerequisites?.length ? { prerequisites: config.prerequisites } : {}),
    targets: config.targets,
    rules: config.rules,
    defaultServe: config.defaultServe,
    salt: config.salt,
    bucketBy: config.bucketBy,
    version: flag.version,
    // Absent unless a guarded rollout runs, so a rule set without one stays byte-identical.
    ...(config.guarded ? { guarded: true } : {}),
    // Likewise absent unless set: client keys get values of these flags only (server-side OFREP).
    ...(flag.clientVisible ? { clientVisible: true } : {}),
  };
}

/** A segment as in a rule set. */
export function toRuleSetSegment(segment: {
  key: string;
  unitAttribute: string;
  included: string[];
  excluded: string[];
  rules: SegmentRule[];
  version: number;
}): Segment {
  return {
    key: segment.key,
    unitAttribute: segment.unitAttribute,
    included: segment.included,
    excluded: segment.excluded,
    rules: segment.rules,
    version: segment.version,
  };
}

export { compileSegments };

/**
 * Compile every flag of a rule set once, for repeated evaluation with `evaluateCompiled` (the
 * server's OFREP path). Prerequisites are looked up in the returned map when evaluated: a flag
 * replaced in it later (`map.set(key, compileFlag(config, segments, map))`) is what they see.
 */
export function compileRuleSet(ruleSet: Pick<RuleSet, 'flags' | 'segments'>): Map<string, CompiledFlag> {
  const segments = compileSegments(ruleSet.segments);
  const flags = new Map<string, CompiledFlag>();
  for (const key of Object.keys(ruleSet.flags)) flags.set(key, compileFlag(ruleSet.flags[key]!, segments, flags));
  return flags;
}
