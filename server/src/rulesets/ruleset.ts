import type { FlagConfig, RuleSet, Segment as RuleSetSegment } from '@switchyard/sdk';
import type { Flag } from '../flags/flags.schemas.js';
import type { Segment } from '../segments/segments.schemas.js';

/**
 * The one place that turns stored rows into what SDKs receive. Polling, streaming, OFREP and the
 * change feed all use these functions, so the shapes cannot drift.
 */

/** A flag as one environment's SDKs see it, or null when they must not see it (archived). */
export function toFlagConfig(flag: Flag, environment: string): FlagConfig | null {
  const config = flag.environments[environment];
  if (!config || flag.archived) return null;
  return {
    key: flag.key,
    type: flag.type,
    variations: flag.variations.map((v) => ({ key: v.key, value: v.value })),
    on: config.on,
    offVariation: config.offVariation,
    targets: config.targets,
    rules: config.rules,
    defaultServe: config.defaultServe,
    salt: config.salt,
    bucketBy: config.bucketBy,
    version: flag.version,
    // Only while a guarded rollout runs: SDKs then count this flag's exposures (absent otherwise, so
    // the rule set of a flag without a release plan stays byte-identical).
    ...(config.guarded ? { guarded: true } : {}),
  };
}

export function toRuleSetSegment(segment: Segment): RuleSetSegment {
  return {
    key: segment.key,
    unitAttribute: segment.unitAttribute,
    included: segment.included,
    excluded: segment.excluded,
    rules: segment.rules,
    version: segment.version,
  };
}

export function toRuleSet(environment: string, version: number, flags: readonly Flag[], segments: readonly Segment[]): RuleSet {
  const ruleSet: RuleSet = { environment, version, flags: {}, segments: {} };
  for (const flag of flags) {
    const config = toFlagConfig(flag, environment);
    if (config) ruleSet.flags[flag.key] = config;
  }
  for (const segment of segments) ruleSet.segments[segment.key] = toRuleSetSegment(segment);
  return ruleSet;
}

/** Whether two configs differ for SDKs (ignoring the version stamp). */
export function sameForSdks(a: FlagConfig | null, b: FlagConfig | null): boolean {
  if (a === null || b === null) return a === b;
  return JSON.stringify({ ...a, version: 0 }) === JSON.stringify({ ...b, version: 0 });
}
