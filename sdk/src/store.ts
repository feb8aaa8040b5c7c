import { compileSegment, compileSegments, type CompiledSegment } from './clauses.js';
import { compileFlag, type CompiledFlag } from './evaluate.js';
import type { FlagConfig, RuleSet, Segment } from './types.js';

/** Where the rules being served came from. Bootstrap and cache data are provisional. */
export type RuleSource = 'bootstrap' | 'cache' | 'server';

/** A streamed change: only what changed, `null` meaning deleted. */
export interface RuleSetPatch {
  version: number;
  flags?: Record<string, FlagConfig | null>;
  segments?: Record<string, Segment | null>;
}

export type ApplyOutcome =
  | { readonly applied: true; readonly changed: readonly string[] }
  | { readonly applied: false; readonly reason: 'stale' | 'no-rules' };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Shape check of untrusted JSON (the server validates contents; this guards the structure). */
export function isRuleSet(value: unknown): value is RuleSet {
  return isObject(value) && Number.isFinite(value.version) && isObject(value.flags) && isObject(value.segments);
}

export function isRuleSetPatch(value: unknown): value is RuleSetPatch {
  return (
    isObject(value) &&
    Number.isFinite(value.version) &&
    (value.flags === undefined || isObject(value.flags)) &&
    (value.segments === undefined || isObject(value.segments))
  );
}

function segmentKeysOf(flag: FlagConfig): string[] {
  const keys: string[] = [];
  for (const rule of flag.rules) {
    for (const clause of rule.clauses) {
      if (clause.operator === 'in_segment' || clause.operator === 'not_in_segment') {
        for (const v of clause.values) if (typeof v === 'string') keys.push(v);
      }
    }
  }
  return keys;
}

function same(a: { version: number } | undefined, b: { version: number } | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.version !== b.version) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The client's cache: the current rule set, compiled. Evaluation reads `flags` (a map lookup plus
 * the rule walk). Updates compile first and swap in only when everything compiled, so a malformed
 * update never leaves a half-applied state behind.
 *
 * Version rule: a snapshot or patch whose version is not above the current one is ignored — except
 * that the first server snapshot always replaces provisional (bootstrap or cache) data, which could
 * come from an older database or another deployment and must not pin the client forever.
 */
export class RuleStore {
  flags: ReadonlyMap<string, CompiledFlag> = new Map();
  ruleSet: RuleSet | undefined;
  source: RuleSource | undefined;
  #segments: ReadonlyMap<string, CompiledSegment> = new Map();

  get version(): number | undefined {
    return this.ruleSet?.version;
  }

  #accepts(version: number, source: RuleSource, authoritative: boolean): boolean {
    const current = this.ruleSet;
    if (current === undefined || authoritative) return true;
    if (source === 'server' && this.source !== 'server') return true;
    if (source !== 'server' && this.source === 'server') return false;
    return version > current.version;
  }

  /**
   * Replace everything (throws on a malformed rule set, leaving the store untouched).
   * `authoritative`: the snapshot that opens a stream connection is the server's whole current
   * state — the server sends one only when it cannot resume from our version, e.g. because our
   * version is newer than its own after a restore from backup. It is applied even when its version
   * is lower, or clients would ignore the restored server until its versions caught up.
   */
  applySnapshot(ruleSet: RuleSet, source: RuleSource, authoritative = false): ApplyOutcome {
    if (!this.#accepts(ruleSet.version, source, authoritative)) return { applied: false, reason: 'stale' };
    const segments = compileSegments(ruleSet.segments);
    const flags = new Map<string, CompiledFlag>();
    for (const key of Object.keys(ruleSet.flags)) flags.set(key, compileFlag(ruleSet.flags[key]!, segments));

    const previous = this.ruleSet;
    const changedSegments = new Set<string>();
    if (previous !== undefined) {
      for (const key of new Set([...Object.keys(previous.segments), ...Object.keys(ruleSet.segments)])) {
        if (!same(previous.segments[key], ruleSet.segments[key])) changedSegments.add(key);
      }
    }
    const changed: string[] = [];
    for (const key of new Set([...Object.keys(previous?.flags ?? {}), ...Object.keys(ruleSet.flags)])) {
      const before = previous?.flags[key];
      const after = ruleSet.flags[key];
      if (previous === undefined || !same(before, after)) changed.push(key);
      else if (changedSegments.size > 0 && segmentKeysOf(after!).some((s) => changedSegments.has(s))) changed.push(key);
    }
    this.ruleSet = ruleSet;
    this.source = source;
    this.#segments = segments;
    this.flags = flags;
    return { applied: true, changed };
  }

  /** Apply a streamed change on top of the current rules (throws on malformed content). */
  applyPatch(patch: RuleSetPatch): ApplyOutcome {
    const current = this.ruleSet;
    if (current === undefined) return { applied: false, reason: 'no-rules' };
    if (patch.version <= current.version) return { applied: false, reason: 'stale' };

    const flagConfigs: Record<string, FlagConfig> = { ...current.flags };
    const segmentConfigs: Record<string, Segment> = { ...current.segments };
    const segments = new Map(this.#segments);
    const changedSegments = new Set<string>();
    for (const [key, segment] of Object.entries(patch.segments ?? {})) {
      changedSegments.add(key);
      if (segment === null) {
        delete segmentConfigs[key];
        segments.delete(key);
      } else {
        segmentConfigs[key] = segment;
        segments.set(key, compileSegment(segment));
      }
    }
    const changed = new Set(Object.keys(patch.flags ?? {}));
    for (const [key, flag] of Object.entries(patch.flags ?? {})) {
      if (flag === null) delete flagConfigs[key];
      else flagConfigs[key] = flag;
    }
    if (changedSegments.size > 0) {
      for (const key of Object.keys(flagConfigs)) {
        if (segmentKeysOf(flagConfigs[key]!).some((s) => changedSegments.has(s))) changed.add(key);
      }
    }
    // Compiled flags hold their segments, so a flag is recompiled when it or a segment it uses changed.
    const recompiled = new Map<string, CompiledFlag>();
    for (const key of changed) {
      const config = flagConfigs[key];
      if (config !== undefined) recompiled.set(key, compileFlag(config, segments));
    }
    const flags = new Map(this.flags);
    for (const key of changed) {
      const compiled = recompiled.get(key);
      if (compiled === undefined) flags.delete(key);
      else flags.set(key, compiled);
    }
    this.ruleSet = { ...current, version: patch.version, flags: flagConfigs, segments: segmentConfigs };
    this.source = 'server'; // the server resumed from our version, so it vouches for the result
    this.#segments = segments;
    this.flags = flags;
    // Report only observable changes: not a deleted key that never existed, nor an identical re-send.
    const observable = [...changed].filter(
      (k) => {
        const after = flagConfigs[k];
        if (!same(current.flags[k], after)) return true;
        return after !== undefined && segmentKeysOf(after).some((s) => changedSegments.has(s));
      },
    );
    return { applied: true, changed: observable };
  }
}
