import type { FlagConfig, FlagType, Segment as SdkSegment } from '@switchyard/sdk';
import { toFlagConfig as sdkFlagConfig, toRuleSetSegment } from '@switchyard/sdk/ruleset';
import type { Flag, Segment } from '../api/types.js';

/** The flag as one environment's SDKs see it: the SDK's own mapping, which the server uses too. */
export function toFlagConfig(flag: Flag, environment: string): FlagConfig | undefined {
  return sdkFlagConfig({ ...flag, type: flag.type as FlagType }, environment) ?? undefined;
}

/** Segments as in a rule set. */
export function toRuleSetSegments(segments: readonly Segment[]): Record<string, SdkSegment> {
  const out: Record<string, SdkSegment> = {};
  for (const s of segments) out[s.key] = toRuleSetSegment(s);
  return out;
}
