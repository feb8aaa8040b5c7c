import { BUCKETS, bucketFrom, saltState, type HashState } from './bucket.js';
import { compileClauses, compileSegments, unitId, type CompiledSegment, type Matcher } from './clauses.js';
import type {
  EvaluationContext,
  EvaluationReason,
  EvaluationResult,
  FlagConfig,
  JsonValue,
  Segment,
  Serve,
  Variation,
} from './types.js';

/**
 * The one evaluator. Server (OFREP, previews), SDK client and dashboard all run this code.
 *
 * Order: flag unknown → FLAG_NOT_FOUND; `on = false` → off variation (DISABLED); individual
 * targets (TARGETING_MATCH); first matching rule (TARGETING_MATCH, or SPLIT when it serves a
 * rollout); default rule (STATIC or SPLIT).
 *
 * A flag is compiled once per rule-set update (sets, regexes, hash prefixes, frozen results), so an
 * evaluation is a map lookup plus the rule walk and allocates nothing: results are shared, frozen
 * objects.
 */

export interface EvaluationDetail extends EvaluationResult {
  /** Set when a rule decided the result. */
  readonly ruleId?: string;
}

type CompiledServe =
  | { readonly kind: 'fixed'; readonly result: EvaluationDetail }
  | {
      readonly kind: 'rollout';
      readonly attribute: string;
      readonly state: HashState;
      /** Cumulative upper bounds (exclusive) of each range, in list order. */
      readonly bounds: Int32Array;
      readonly results: readonly EvaluationDetail[];
      /** Served to a context without the bucket-by attribute: it is outside every partial range. */
      readonly missing: EvaluationDetail;
    };

interface CompiledRule {
  readonly matches: Matcher;
  readonly serve: CompiledServe;
}

export interface CompiledFlag {
  readonly key: string;
  readonly config: FlagConfig;
  readonly on: boolean;
  readonly off: EvaluationDetail;
  readonly targetAttribute: string;
  readonly targets: ReadonlyMap<string, EvaluationDetail> | null;
  readonly rules: readonly CompiledRule[];
  readonly fallthrough: CompiledServe;
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

function malformed(flag: FlagConfig, message: string): EvaluationDetail {
  return Object.freeze({ value: null, reason: 'ERROR', errorCode: 'PARSE_ERROR', errorMessage: `flag ${flag.key}: ${message}` });
}

function makeResult(variation: Variation | undefined, reason: EvaluationReason, ruleId: string | undefined, flag: FlagConfig): EvaluationDetail {
  if (!variation) return malformed(flag, 'refers to an unknown variation');
  const result: EvaluationDetail =
    ruleId === undefined
      ? { value: variation.value, variant: variation.key, reason }
      : { value: variation.value, variant: variation.key, reason, ruleId };
  return Object.freeze(result);
}

function compileServe(flag: FlagConfig, variations: ReadonlyMap<string, Variation>, serve: Serve, ruleId: string | undefined): CompiledServe {
  const fixedReason: EvaluationReason = ruleId === undefined ? 'STATIC' : 'TARGETING_MATCH';
  if ('variation' in serve) {
    return { kind: 'fixed', result: makeResult(variations.get(serve.variation), fixedReason, ruleId, flag) };
  }
  const shares = serve.rollout.variations;
  const whole = shares.find((s) => s.weight >= BUCKETS);
  if (whole) return { kind: 'fixed', result: makeResult(variations.get(whole.variation), fixedReason, ruleId, flag) };
  const bounds = new Int32Array(shares.length);
  let total = 0;
  shares.forEach((share, i) => {
    total += share.weight;
    bounds[i] = total;
  });
  const results = shares.map((s) => makeResult(variations.get(s.variation), 'SPLIT', ruleId, flag));
  const lastServed = [...shares.keys()].reverse().find((i) => shares[i]!.weight > 0);
  const missing = lastServed === undefined ? malformed(flag, 'rollout has no weight') : results[lastServed]!;
  if (total !== BUCKETS) {
    const broken = malformed(flag, `rollout weights sum to ${total}, not ${BUCKETS}`);
    return { kind: 'fixed', result: broken };
  }
  return {
    kind: 'rollout',
    attribute: serve.rollout.bucketBy ?? flag.bucketBy,
    state: saltState(serve.rollout.salt ?? flag.salt),
    bounds,
    results,
    missing,
  };
}

/** Compile a flag against the segments it may refer to (pure; the result is immutable). */
export function compileFlag(flag: FlagConfig, segments: ReadonlyMap<string, CompiledSegment> | Record<string, Segment> = new Map()): CompiledFlag {
  const compiledSegments = segments instanceof Map ? segments : compileSegments(segments as Record<string, Segment>);
  const variations = new Map<string, Variation>();
  for (const v of flag.variations) variations.set(v.key, { ...v, value: deepFreeze(structuredClone(v.value)) });
  let targets: Map<string, EvaluationDetail> | null = null;
  for (const target of flag.targets) {
    const result = makeResult(variations.get(target.variation), 'TARGETING_MATCH', undefined, flag);
    targets ??= new Map();
    // The first target listing an ID wins, matching the order the dashboard shows.
    for (const id of target.values) if (!targets.has(id)) targets.set(id, result);
  }
  return {
    key: flag.key,
    config: flag,
    on: flag.on,
    off: makeResult(variations.get(flag.offVariation), 'DISABLED', undefined, flag),
    targetAttribute: flag.bucketBy,
    targets,
    rules: flag.rules.map((rule) => ({
      matches: compileClauses(rule.clauses, compiledSegments),
      serve: compileServe(flag, variations, rule.serve, rule.id),
    })),
    fallthrough: compileServe(flag, variations, flag.defaultServe, undefined),
  };
}

function serve(compiled: CompiledServe, context: EvaluationContext): EvaluationDetail {
  if (compiled.kind === 'fixed') return compiled.result;
  const id = unitId(context, compiled.attribute);
  if (id === undefined) return compiled.missing;
  const b = bucketFrom(compiled.state, id);
  const bounds = compiled.bounds;
  for (let i = 0; i < bounds.length; i++) if (b < bounds[i]!) return compiled.results[i]!;
  return compiled.missing; // unreachable: bounds end at BUCKETS
}

/** Evaluate a compiled flag. Pure and synchronous; never throws for any context. */
export function evaluateCompiled(flag: CompiledFlag | undefined, context: EvaluationContext): EvaluationDetail {
  if (flag === undefined) return FLAG_NOT_FOUND;
  if (!flag.on) return flag.off;
  if (flag.targets !== null) {
    const id = unitId(context, flag.targetAttribute);
    if (id !== undefined) {
      const hit = flag.targets.get(id);
      if (hit !== undefined) return hit;
    }
  }
  const rules = flag.rules;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (rule.matches(context)) return serve(rule.serve, context);
  }
  return serve(flag.fallthrough, context);
}

const compiledCache = new WeakMap<FlagConfig, { segments: unknown; compiled: CompiledFlag }>();

/**
 * Evaluate a flag for a context: `{ value, variant, reason, errorCode? }`.
 * Pure: the same flag, segments and context always give the same answer. Compilation is memoised
 * per flag object, so evaluating the same config repeatedly stays cheap.
 * @example evaluate(ruleSet.flags['new_checkout_flow'], { userId: 'user-1' }, ruleSet.segments)
 */
export function evaluate(
  flag: FlagConfig | undefined,
  context: EvaluationContext,
  segments: Record<string, Segment> = {},
): EvaluationDetail {
  if (flag === undefined) return FLAG_NOT_FOUND;
  let entry = compiledCache.get(flag);
  if (entry === undefined || entry.segments !== segments) {
    entry = { segments, compiled: compileFlag(flag, segments) };
    compiledCache.set(flag, entry);
  }
  return evaluateCompiled(entry.compiled, context);
}

/** Compile every flag of a rule set once, for repeated evaluation with `evaluateCompiled`. */
export function compileRuleSet(ruleSet: { flags: Record<string, FlagConfig>; segments: Record<string, Segment> }): Map<string, CompiledFlag> {
  const segments = compileSegments(ruleSet.segments);
  const flags = new Map<string, CompiledFlag>();
  for (const key of Object.keys(ruleSet.flags)) flags.set(key, compileFlag(ruleSet.flags[key]!, segments));
  return flags;
}
