import { compileSegment, isObject, own, type CompiledSegment } from './clauses.js';
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


/** Shape check of untrusted JSON (the server validates contents; this guards the structure). */
export function isRuleSet(value: unknown): value is RuleSet {
  return isRuleSetPatch(value) && isObject(value.flags) && isObject(value.segments);
}

export function isRuleSetPatch(value: unknown): value is RuleSetPatch {
  return isObject(value) && Number.isFinite(value.version) && [value.flags, value.segments].every((part) => part === undefined || isObject(part));
}

/** Equal as JSON (an absent entry stringifies to undefined, so it equals only another absent one). */
function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
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
  declare ruleSet: RuleSet | undefined;
  declare source: RuleSource | undefined;
  #segments: ReadonlyMap<string, CompiledSegment> = new Map();

  /**
   * A compiled flag by key: the store is the FlagLookup of the flags it compiles, as prerequisites are
   * looked up when evaluated, so a compiled flag kept across updates sees the current flags.
   */
  get(key: string): CompiledFlag | undefined {
    return this.flags.get(key);
  }

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
    const segments = recompile(previous?.segments, next.segments, this.#segments, compileSegment, () => false, changedSegments);
    const changed = new Set<string>();
    const flags = recompile(previous?.flags, next.flags, this.flags, (flag) => compileFlag(flag, segments, this), (flag) => usesAny(flag, changedSegments), changed);
    // A flag requiring a changed flag may evaluate differently too, transitively (until nothing grows).
    for (let size = 0; size !== changed.size; ) {
      size = changed.size;
      for (const [key, { config }] of flags) if (config.prerequisites?.some((p) => changed.has(p.flag))) changed.add(key);
    }
    this.ruleSet = next;
    this.source = source;
    this.#segments = segments;
    this.flags = flags;
    return [...changed];
  }
}

/**
 * The compiled form of every entry of `next`: kept from `compiled` when the entry is the same as in
 * `previous` and not `affected` by another change, else compiled again and its key added to `changed`
 * (as are the keys of entries that went away).
 */
function recompile<T, C>(
  previous: Record<string, T> | undefined,
  next: Record<string, T>,
  compiled: ReadonlyMap<string, C>,
  compile: (value: T) => C,
  affected: (value: T) => boolean,
  changed: Set<string>,
): Map<string, C> {
  const out = new Map<string, C>();
  for (const key of Object.keys({ ...previous, ...next })) {
    const after = own(next, key); // a deleted `constructor` flag is absent, not Object's constructor
    const unchanged = previous !== undefined && same(own(previous, key), after) && !(after !== undefined && affected(after));
    if (!unchanged) changed.add(key);
    if (after !== undefined) out.set(key, (unchanged && compiled.get(key)) || compile(after));
  }
  return out;
}
