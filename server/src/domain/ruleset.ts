import type { FlagConfig, RuleSet } from '@switchyard/sdk';
import { toFlagConfig, toRuleSetSegment } from '@switchyard/sdk/ruleset';
import type { SdkPatch } from './feed.js';
import { ownEntry, type Flag } from './flags.js';
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

/** Structural equality of JSON-like values (the first difference ends the walk). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** Whether two configs are the same for SDKs (ignoring the version stamp). */
export function sameForSdks(a: FlagConfig | null, b: FlagConfig | null): boolean {
  if (a === null || b === null) return a === b;
  return deepEqual({ ...a, version: 0 }, { ...b, version: 0 });
}

/**
 * What changed for SDKs when a flag went from `before` to `after` (null: absent): a patch for each
 * environment whose SDKs would evaluate it differently. A flag has a configuration in every
 * environment, so its own keys name them all.
 */
export function flagPatches(before: Flag | null, after: Flag | null): Record<string, SdkPatch> {
  const flag = after ?? before;
  if (!flag) return {};
  const patches: Record<string, SdkPatch> = {};
  // Same flag-level fields: only environments whose configuration object changed can differ.
  const sameShape = before !== null && after !== null && before.archived === after.archived && before.clientVisible === after.clientVisible && before.type === after.type && before.variations === after.variations;
  const environments = new Set([...Object.keys(before?.environments ?? {}), ...Object.keys(after?.environments ?? {})]);
  for (const environment of environments) {
    if (sameShape && ownEntry(before.environments, environment) === ownEntry(after.environments, environment)) continue;
    const was = before ? toFlagConfig(before, environment) : null;
    const is = after ? toFlagConfig(after, environment) : null;
    if (!sameForSdks(was, is)) patches[environment] = { flags: { [flag.key]: is }, segments: {} };
  }
  return patches;
}

/** Segments are global: a segment change reaches every environment's SDKs. */
export function segmentPatches(key: string, after: Segment | null, environments: Iterable<string>): Record<string, SdkPatch> {
  const patches: Record<string, SdkPatch> = {};
  for (const environment of environments) patches[environment] = { flags: {}, segments: { [key]: after ? toRuleSetSegment(after) : null } };
  return patches;
}

/** Several patches per environment folded into one (later entries win): one SDK update per batch. */
export function mergePatches(...all: readonly Record<string, SdkPatch | null>[]): Record<string, SdkPatch | null> {
  const merged: Record<string, SdkPatch | null> = {};
  for (const patches of all) {
    for (const [environment, patch] of Object.entries(patches)) {
      const into = ownEntry(merged, environment);
      if (patch === null || into === null) merged[environment] = null;
      else if (into === undefined) merged[environment] = { flags: { ...patch.flags }, segments: { ...patch.segments } };
      else {
        Object.assign(into.flags, patch.flags);
        Object.assign(into.segments, patch.segments);
      }
    }
  }
  return merged;
}
