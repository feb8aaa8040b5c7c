import type { FlagConfig, Segment as SdkSegment } from '@switchyard/sdk';
import type { Flag, Segment } from '../api/types.js';

/**
 * The flag as one environment's SDKs see it. Mirrors server/src/rulesets/ruleset.ts `toFlagConfig`
 * field for field, so the preview evaluates exactly what SDKs evaluate.
 */
export function toFlagConfig(flag: Flag, environment: string): FlagConfig | undefined {
  const config = flag.environments[environment];
  if (!config || flag.archived) return undefined;
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
  };
}

/** Segments as in a rule set (mirrors `toRuleSetSegment`). */
export function toRuleSetSegments(segments: readonly Segment[]): Record<string, SdkSegment> {
  const out: Record<string, SdkSegment> = {};
  for (const s of segments) {
    out[s.key] = { key: s.key, unitAttribute: s.unitAttribute, included: s.included, excluded: s.excluded, rules: s.rules, version: s.version };
  }
  return out;
}
