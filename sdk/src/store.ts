import { compileSegment, type CompiledSegment } from './clauses.js';
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

/** The keys of the flags whose evaluation may differ after an update, or undefined when it was ignored as stale. */
export type ApplyOutcome = readonly string[] | undefined;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Shape check of untrusted JSON (the server validates contents; this guards the structure). */
export function isRuleSet(value: unknown): value is RuleSet {
  return isRuleSetPatch(value) && isObject(value.flags) && isObject(value.segments);
}

export function isRuleSetPatch(value: unknown): value is RuleSetPatch {
  return isObject(value) && Number.isFinite(value.version) && [value.flags, value.segments].every((part) => part === undefined || isObject(part));
}

/** A flag or segment by key, own entries only: a deleted `constructor` flag is absent, not Object's constructor. */
function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function same(a: unknown, b: unknown): boolean {
  return a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
}

function usesAny(flag: FlagConfig, segments: ReadonlySet<string>): boolean {
  return (
    segments.size > 0 &&
    flag.rules.some((rule) => rule.clauses.some((c) => c.operator.endsWith('in_segment') && c.values.some((v) => segments.has(v as string))))
  );
}

/**
 * The client's cache: the current rule set, compiled. Evaluation reads `flags` (a map lookup plus
 * the rule walk). Updates compile first and swap in only when everything compiled, so a malformed
 * update never leaves a half-applied state behind. Only the flags that changed, or that use a
 * segment that changed, are recompiled; the others keep their compiled form.
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

  /**
   * Replace everything (throws on anything but a well-formed rule set, leaving the store untouched).
   * `authoritative`: the snapshot that opens a stream connection is the server's whole current
   * state — the server sends one only when it cannot resume from our version, e.g. because our
   * version is newer than its own after a restore from backup. It is applied even when its version
   * is lower, or clients would ignore the restored server until its versions caught up.
   */
  applySnapshot(ruleSet: unknown, source: RuleSource, authoritative = false): ApplyOutcome {
    if (!isRuleSet(ruleSet)) throw new TypeError('not a rule set');
    const current = this.ruleSet;
    const fromServer = source === 'server';
    const accepted =
      current === undefined || authoritative || (fromServer === (this.source === 'server') ? ruleSet.version > current.version : fromServer);
    return accepted ? this.#replace(ruleSet, source) : undefined;
  }

  /** Apply a streamed change on top of the current rules (throws on malformed content, or before any rules). */
  applyPatch(patch: unknown): ApplyOutcome {
    const current = this.ruleSet;
    if (!isRuleSetPatch(patch)) throw new TypeError('not a patch');
    if (current === undefined) throw new Error('a patch before any snapshot');
    if (patch.version <= current.version) return undefined;
    const merge = <T>(base: Record<string, T>, changes: Record<string, T | null> = {}): Record<string, T> => {
      const next = { ...base };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete next[key];
        else next[key] = value;
      }
      return next;
    };
    // The server resumed from our version, so it vouches for the result.
    return this.#replace({ ...current, version: patch.version, flags: merge(current.flags, patch.flags), segments: merge(current.segments, patch.segments) }, 'server');
  }

  /** Swap in `next`, recompiling what differs from the current rules; reports the flags whose evaluation may differ. */
  #replace(next: RuleSet, source: RuleSource): ApplyOutcome {
    const previous = this.ruleSet;
    const changedSegments = new Set<string>();
    const segments = new Map<string, CompiledSegment>();
    for (const key of Object.keys({ ...previous?.segments, ...next.segments })) {
      const after = own(next.segments, key);
      const unchanged = previous !== undefined && same(own(previous.segments, key), after);
      if (!unchanged) changedSegments.add(key);
      if (after !== undefined) segments.set(key, (unchanged && this.#segments.get(key)) || compileSegment(after));
    }
    const changed: string[] = [];
    const flags = new Map<string, CompiledFlag>();
    for (const key of Object.keys({ ...previous?.flags, ...next.flags })) {
      const after = own(next.flags, key);
      const unchanged = previous !== undefined && same(own(previous.flags, key), after) && !(after && usesAny(after, changedSegments));
      if (!unchanged) changed.push(key);
      if (after !== undefined) flags.set(key, (unchanged && this.flags.get(key)) || compileFlag(after, segments));
    }
    this.ruleSet = next;
    this.source = source;
    this.#segments = segments;
    this.flags = flags;
    return changed;
  }
}
