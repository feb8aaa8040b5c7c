import { BUCKETS, bucketFrom, saltState } from './bucket.js';
import { compileClauses, compileSegments, unitId, type CompiledSegment, type Matcher } from './clauses.js';
import type { EvaluationContext, EvaluationReason, EvaluationResult, FlagConfig, JsonValue, Segment, Serve, Variation } from './types.js';

/**
 * The one evaluator. Server (OFREP, previews), SDK client and dashboard all run this code.
 *
 * Order: flag unknown → FLAG_NOT_FOUND; `on = false` → off variation (DISABLED); individual
 * targets (TARGETING_MATCH); first matching rule (TARGETING_MATCH, or SPLIT when it serves a
 * rollout); default rule (STATIC or SPLIT).
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

/** Compile a flag against the (compiled) segments it may refer to (pure; the result is immutable). */
export function compileFlag(flag: FlagConfig, segments: ReadonlyMap<string, CompiledSegment>): CompiledFlag {
  const variations = new Map<string, JsonValue>(flag.variations.map((v: Variation) => [v.key, deepFreeze(structuredClone(v.value))]));
  const malformed = (message: string): EvaluationDetail =>
    Object.freeze({ value: null, reason: 'ERROR', errorCode: 'PARSE_ERROR', errorMessage: `flag ${flag.key}: ${message}` });
  const result = (variant: string, reason: EvaluationReason, ruleId?: string): EvaluationDetail =>
    variations.has(variant)
      ? Object.freeze({ value: variations.get(variant)!, variant, reason, ...(ruleId === undefined ? {} : { ruleId }) })
      : malformed(`unknown variation ${variant}`);

  function compileServe(serve: Serve, ruleId?: string): Evaluator {
    const fixed = (variant: string): Evaluator => {
      const served = result(variant, ruleId === undefined ? 'STATIC' : 'TARGETING_MATCH', ruleId);
      return () => served;
    };
    if ('variation' in serve) return fixed(serve.variation);
    const { variations: shares, bucketBy = flag.bucketBy, salt = flag.salt } = serve.rollout;
    const whole = shares.find((s) => s.weight >= BUCKETS);
    if (whole) return fixed(whole.variation);
    let total = 0;
    // Cumulative upper bounds (exclusive) of each share's bucket range, in list order.
    const bounds = Int32Array.from(shares, (s) => (total += s.weight));
    if (total !== BUCKETS) {
      const broken = malformed(`rollout weights sum to ${total}`);
      return () => broken;
    }
    const results = shares.map((s) => result(s.variation, 'SPLIT', ruleId));
    // A context without the bucket-by attribute is outside every partial range: it gets the last
    // share that serves anyone.
    const missing = results[shares.map((s) => s.weight > 0).lastIndexOf(true)]!;
    const state = saltState(salt);
    return (context) => {
      const id = unitId(context, bucketBy);
      if (id === undefined) return missing;
      const b = bucketFrom(state, id);
      for (let i = 0; i < bounds.length; i++) if (b < bounds[i]!) return results[i]!;
      return missing; // unreachable: bounds end at BUCKETS
    };
  }

  const off = result(flag.offVariation, 'DISABLED');
  const targets = new Map<string, EvaluationDetail>();
  for (const target of flag.targets) {
    const served = result(target.variation, 'TARGETING_MATCH');
    // The first target listing an ID wins, matching the order the dashboard shows.
    for (const id of target.values) if (!targets.has(id)) targets.set(id, served);
  }
  const matchers: Matcher[] = flag.rules.map((rule) => compileClauses(rule.clauses, segments));
  const serves = flag.rules.map((rule) => compileServe(rule.serve, rule.id));
  const fallthrough = compileServe(flag.defaultServe);
  const on = flag.on;
  const targetAttribute = flag.bucketBy;
  return {
    key: flag.key,
    config: flag,
    evaluate(context) {
      if (!on) return off;
      if (targets.size > 0) {
        const id = unitId(context, targetAttribute);
        const hit = id === undefined ? undefined : targets.get(id);
        if (hit !== undefined) return hit;
      }
      for (let i = 0; i < matchers.length; i++) if (matchers[i]!(context)) return serves[i]!(context);
      return fallthrough(context);
    },
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
