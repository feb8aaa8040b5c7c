import { BUCKETS, bucketFrom, saltState, type HashState } from './bucket.js';
import { compileClauses, compileSegments, unitId, type CompiledSegment, type Matcher } from './clauses.js';
import type { EvaluationContext, EvaluationReason, EvaluationResult, FlagConfig, JsonValue, Segment, Serve, Variation } from './types.js';

/**
 * The one evaluator. Server (OFREP, previews), SDK client and dashboard all run this code.
 *
 * Order: flag unknown → FLAG_NOT_FOUND; `on = false` → off variation (DISABLED); individual
 * targets (TARGETING_MATCH); first matching rule (TARGETING_MATCH, or SPLIT when it serves a
 * rollout); default rule (STATIC or SPLIT). A partial rollout reached by a context without its
 * bucket-by attribute (absent or "") is TARGETING_KEY_MISSING; 0% and 100% rollouts need no ID.
 *
 * A flag is compiled once per rule-set update (sets, regexes, hash prefixes, frozen results) into
 * one function, so an evaluation is a map lookup plus the rule walk and allocates nothing: results
 * are shared, frozen objects.
 */

export interface EvaluationDetail extends EvaluationResult {
  /** Set when a rule decided the result. */
  readonly ruleId?: string;
}

type Evaluator = (context: EvaluationContext) => EvaluationDetail;

export interface CompiledFlag {
  readonly key: string;
  readonly config: FlagConfig;
  readonly evaluate: Evaluator;
}

export const FLAG_NOT_FOUND: EvaluationDetail = Object.freeze({
  value: null,
  reason: 'ERROR',
  errorCode: 'FLAG_NOT_FOUND',
  errorMessage: 'flag not found',
});

function deepFreeze<T extends JsonValue>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

type Variations = ReadonlyMap<string, JsonValue>;

function malformed(flag: FlagConfig, message: string): EvaluationDetail {
  return Object.freeze({ value: null, reason: 'ERROR', errorCode: 'PARSE_ERROR', errorMessage: `flag ${flag.key}: ${message}` });
}

function result(flag: FlagConfig, variations: Variations, variant: string, reason: EvaluationReason, ruleId?: string): EvaluationDetail {
  return variations.has(variant)
    ? Object.freeze({ value: variations.get(variant)!, variant, reason, ...(ruleId === undefined ? {} : { ruleId }) })
    : malformed(flag, `unknown variation ${variant}`);
}

const always =
  (detail: EvaluationDetail): Evaluator =>
  () =>
    detail;

/** What a rule (with `ruleId`) or the default rule serves. Module-level, so its closure holds only what it reads. */
function compileServe(flag: FlagConfig, variations: Variations, serve: Serve, ruleId?: string): Evaluator {
  const fixed = (variant: string): Evaluator => always(result(flag, variations, variant, ruleId === undefined ? 'STATIC' : 'TARGETING_MATCH', ruleId));
  if ('variation' in serve) return fixed(serve.variation);
  const { variations: shares, bucketBy = flag.bucketBy, salt = flag.salt } = serve.rollout;
  const whole = shares.find((s) => s.weight >= BUCKETS);
  if (whole) return fixed(whole.variation);
  let total = 0;
  // Cumulative upper bounds (exclusive) of each share's bucket range, in list order.
  const bounds = Int32Array.from(shares, (s) => (total += s.weight));
  if (total !== BUCKETS) return always(malformed(flag, `rollout weights sum to ${total}`));
  const results = shares.map((s) => result(flag, variations, s.variation, 'SPLIT', ruleId));
  // Which share a context without the bucket-by attribute belongs to is unknowable: it gets an
  // error (so the caller's default), as OpenFeature and OFREP expect, never an arbitrary share.
  return rollout(bucketBy, saltState(salt), bounds, results, keyMissing(flag, bucketBy));
}

function keyMissing(flag: FlagConfig, bucketBy: string): EvaluationDetail {
  return Object.freeze({ value: null, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING', errorMessage: `flag ${flag.key}: no ${bucketBy} to bucket by` });
}

function rollout(bucketBy: string, state: HashState, bounds: Int32Array, results: readonly EvaluationDetail[], missing: EvaluationDetail): Evaluator {
  return (context) => {
    const id = unitId(context, bucketBy);
    if (id === undefined) return missing;
    const b = bucketFrom(state, id);
    for (let i = 0; i < bounds.length; i++) if (b < bounds[i]!) return results[i]!;
    return missing; // unreachable: bounds end at BUCKETS
  };
}

/** Compile a flag against the (compiled) segments it may refer to (pure; the result is immutable). */
export function compileFlag(flag: FlagConfig, segments: ReadonlyMap<string, CompiledSegment>): CompiledFlag {
  const variations: Variations = new Map(flag.variations.map((v: Variation) => [v.key, deepFreeze(structuredClone(v.value))]));
  let targets: Map<string, EvaluationDetail> | undefined;
  for (const target of flag.targets) {
    const served = result(flag, variations, target.variation, 'TARGETING_MATCH');
    // The first target listing an ID wins, matching the order the dashboard shows.
    for (const id of target.values) if (!(targets ??= new Map()).has(id)) targets.set(id, served);
  }
  return {
    key: flag.key,
    config: flag,
    evaluate: evaluator(
      flag.on,
      result(flag, variations, flag.offVariation, 'DISABLED'),
      flag.bucketBy,
      targets,
      flag.rules.map((rule) => compileClauses(rule.clauses, segments)),
      flag.rules.map((rule) => compileServe(flag, variations, rule.serve, rule.id)),
      compileServe(flag, variations, flag.defaultServe),
    ),
  };
}

function evaluator(
  on: boolean,
  off: EvaluationDetail,
  targetAttribute: string,
  targets: ReadonlyMap<string, EvaluationDetail> | undefined,
  matchers: readonly Matcher[],
  serves: readonly Evaluator[],
  fallthrough: Evaluator,
): Evaluator {
  return (context) => {
    if (!on) return off;
    // No ID (undefined) is never a key of `targets`.
    const hit = targets?.get(unitId(context, targetAttribute)!);
    if (hit !== undefined) return hit;
    for (let i = 0; i < matchers.length; i++) if (matchers[i]!(context)) return serves[i]!(context);
    return fallthrough(context);
  };
}

/** Evaluate a compiled flag. Pure and synchronous; never throws for any context. */
export function evaluateCompiled(flag: CompiledFlag | undefined, context: EvaluationContext): EvaluationDetail {
  return flag === undefined ? FLAG_NOT_FOUND : flag.evaluate(context);
}

const compiledCache = new WeakMap<FlagConfig, { segments: unknown; compiled: CompiledFlag }>();

/**
 * Evaluate a flag for a context: `{ value, variant, reason, errorCode? }`.
 * Pure: the same flag, segments and context always give the same answer. Compilation is memoised
 * per flag object, so evaluating the same config repeatedly stays cheap.
 * @example evaluate(ruleSet.flags['new_checkout_flow'], { userId: 'user-1' }, ruleSet.segments)
 */
export function evaluate(flag: FlagConfig | undefined, context: EvaluationContext, segments: Record<string, Segment> = {}): EvaluationDetail {
  if (flag === undefined) return FLAG_NOT_FOUND;
  let entry = compiledCache.get(flag);
  if (entry === undefined || entry.segments !== segments) {
    entry = { segments, compiled: compileFlag(flag, compileSegments(segments)) };
    compiledCache.set(flag, entry);
  }
  return entry.compiled.evaluate(context);
}
