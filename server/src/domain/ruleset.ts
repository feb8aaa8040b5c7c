import type { FlagConfig, RuleSet } from '@switchyard/sdk';
import { toFlagConfig, toRuleSetSegment } from '@switchyard/sdk/ruleset';
import type { Flag } from './flags.js';
import type { Segment } from './segments.js';

/**
 * What SDKs receive, built from stored flags and segments. `toFlagConfig` and `toRuleSetSegment`
 * live in the SDK so the dashboard's preview uses the very same mapping; polling, streaming, OFREP
 * and the change feed all go through here.
 */
export { toFlagConfig, toRuleSetSegment };

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
