import { BUCKETS, bucketFrom, saltState, type HashState } from './bucket.js';
import { compileClauses, compileSegments, unitId, type CompiledSegment, type Matcher } from './clauses.js';
import type { EvaluationContext, EvaluationErrorCode, EvaluationReason, EvaluationResult, FlagConfig, JsonValue, Prerequisite, Rule, Segment, Serve, Variation } from './types.js';

/**
 * The one evaluator. Server (OFREP, previews), SDK client and dashboard all run this code.
 *
 * Order: flag unknown → FLAG_NOT_FOUND; `on = false` → off variation (DISABLED); prerequisites,
 * in order (the first one not met → off variation, PREREQUISITE_FAILED, `prerequisiteKey`);
 * individual targets (TARGETING_MATCH); first matching rule (TARGETING_MATCH, or SPLIT when it
 * serves a rollout); default rule (STATIC or SPLIT).
 *
 * Prerequisites follow LaunchDarkly: one is met when the required flag exists in the same rule
 * set, is on, and serves the required variation to the same context (its own prerequisites
 * included, recursively). A required flag that is off (killed) fails it whatever its off variation;
 * one that errors serves no variation and fails it too. The server refuses cycles and chains
 * deeper than MAX_PREREQUISITE_DEPTH; should one arrive anyway (a hand-made bootstrap), the
 * prerequisite beyond that depth is not met — never a stack overflow. A partial rollout reached by a context without its
 * bucket-by attribute (absent or "") is TARGETING_KEY_MISSING; 0% and 100% rollouts need no ID.
 *
 * A flag is compiled once per rule-set update (sets, regexes, hash prefixes, frozen results) into
 * one function, so an evaluation is a map lookup plus the rule walk and allocates nothing: results
 * are shared, frozen objects.
 */

export interface EvaluationDetail extends EvaluationResult {
  /** Set when a rule decided the result. */
  readonly ruleId?: string;
  /** With reason PREREQUISITE_FAILED: the first prerequisite flag that was not met. */
  readonly prerequisiteKey?: string;
}

/** `depth`: how many prerequisites deep this evaluation runs (0 for the flag asked for). */
type Evaluator = (context: EvaluationContext, depth?: number) => EvaluationDetail;

export interface CompiledFlag {
  readonly key: string;
  readonly config: FlagConfig;
  readonly evaluate: Evaluator;
}

/** Where a flag finds the flags it requires, at evaluation time (the rule set's current flags). */
export type FlagLookup = Pick<ReadonlyMap<string, CompiledFlag>, 'get'>;

/** Longest chain of prerequisites (A requires B requires C… counts the arrows); the server refuses longer ones. */
export const MAX_PREREQUISITE_DEPTH = 10;

/** An error result: the caller's default is served. */
const failure = (errorCode: EvaluationErrorCode, errorMessage: string): EvaluationDetail => Object.freeze({ value: null, reason: 'ERROR', errorCode, errorMessage });

export const FLAG_NOT_FOUND: EvaluationDetail = failure('FLAG_NOT_FOUND', 'flag not found');

function deepFreeze<T extends JsonValue>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

type Variations = ReadonlyMap<string, JsonValue>;

const malformed = (flag: FlagConfig, message: string): EvaluationDetail => failure('PARSE_ERROR', `flag ${flag.key}: ${message}`);

function result(flag: FlagConfig, variations: Variations, variant: string, reason: EvaluationReason, extra?: object): EvaluationDetail {
  return variations.has(variant) ? Object.freeze({ value: variations.get(variant)!, variant, reason, ...extra }) : malformed(flag, `unknown variation ${variant}`);
}

const always =
  (detail: EvaluationDetail): Evaluator =>
  () =>
    detail;

/** What a rule or (without `rule`) the default rule serves. Module-level, so its closure holds only what it reads. */
function compileServe(flag: FlagConfig, variations: Variations, serve: Serve, rule?: Rule): Evaluator {
  const ruleId = rule && { ruleId: rule.id };
  const fixed = (variant: string): Evaluator => always(result(flag, variations, variant, rule ? 'TARGETING_MATCH' : 'STATIC', ruleId));
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
  return rollout(bucketBy, saltState(salt), bounds, results, failure('TARGETING_KEY_MISSING', `flag ${flag.key}: no ${bucketBy} to bucket by`));
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

/**
 * Compile a flag against the (compiled) segments it may refer to (pure; the result is immutable).
 * `flags` finds the flags it requires when it is evaluated; without it, every prerequisite fails.
 */
export function compileFlag(flag: FlagConfig, segments: ReadonlyMap<string, CompiledSegment>, flags?: FlagLookup): CompiledFlag {
  const variations: Variations = new Map(flag.variations.map((v: Variation) => [v.key, deepFreeze(structuredClone(v.value))]));
  let targets: Map<string, EvaluationDetail> | undefined;
  for (const target of flag.targets) {
    const served = result(flag, variations, target.variation, 'TARGETING_MATCH');
    // The first target listing an ID wins, matching the order the dashboard shows.
    for (const id of target.values) if (!(targets ??= new Map()).has(id)) targets.set(id, served);
  }
  const prerequisites = flag.prerequisites ?? [];
  return {
    key: flag.key,
    config: flag,
    evaluate: evaluator(
      flag.on,
      result(flag, variations, flag.offVariation, 'DISABLED'),
      prerequisites,
      prerequisites.map((p) => result(flag, variations, flag.offVariation, 'PREREQUISITE_FAILED', { prerequisiteKey: p.flag })),
      flags,
      flag.bucketBy,
      targets,
      flag.rules.map((rule) => compileClauses(rule.clauses, segments)),
      flag.rules.map((rule) => compileServe(flag, variations, rule.serve, rule)),
      compileServe(flag, variations, flag.defaultServe),
    ),
  };
}

function evaluator(
  on: boolean,
  off: EvaluationDetail,
  prerequisites: readonly Prerequisite[],
  failed: readonly EvaluationDetail[],
  flags: FlagLookup | undefined,
  targetAttribute: string,
  targets: ReadonlyMap<string, EvaluationDetail> | undefined,
  matchers: readonly Matcher[],
  serves: readonly Evaluator[],
  fallthrough: Evaluator,
): Evaluator {
  return (context, depth = 0) => {
    if (!on) return off;
    for (let i = 0; i < prerequisites.length; i++) {
      const required = depth < MAX_PREREQUISITE_DEPTH && flags?.get(prerequisites[i]!.flag);
      // An off (killed) prerequisite is not met, whatever its off variation.
      if (!required || !required.config.on || required.evaluate(context, depth + 1).variant !== prerequisites[i]!.variation) return failed[i]!;
    }
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

const NONE = {};
/** Per flag object: the segments and flags it was compiled against, and the result (a tuple: it minifies smaller). */
const compiledCache = new WeakMap<FlagConfig, [segments: unknown, flags: unknown, compiled: CompiledFlag]>();

function compiledFor(flag: FlagConfig, segments: Record<string, Segment>, flags: Record<string, FlagConfig>): CompiledFlag {
  let entry = compiledCache.get(flag);
  if (entry?.[0] !== segments || entry[1] !== flags) {
    const lookup: FlagLookup = { get: (key) => (Object.hasOwn(flags, key) ? compiledFor(flags[key]!, segments, flags) : undefined) };
    compiledCache.set(flag, (entry = [segments, flags, compileFlag(flag, compileSegments(segments), lookup)]));
  }
  return entry[2];
}

/**
 * Evaluate a flag for a context: `{ value, variant, reason, errorCode? }`.
 * Pure: the same flag, segments, flags and context always give the same answer. `flags` are the
 * other flags of the rule set, which prerequisites refer to. Compilation is memoised per flag
 * object, so evaluating the same config repeatedly stays cheap.
 * @example evaluate(ruleSet.flags['new_checkout_flow'], { userId: 'user-1' }, ruleSet.segments, ruleSet.flags)
 */
export function evaluate(flag: FlagConfig | undefined, context: EvaluationContext, segments: Record<string, Segment> = NONE, flags: Record<string, FlagConfig> = NONE): EvaluationDetail {
  return flag === undefined ? FLAG_NOT_FOUND : compiledFor(flag, segments, flags).evaluate(context);
}
