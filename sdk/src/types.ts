/**
 * The rule set shipped to SDKs. This file is the contract between the server (which builds it with
 * `toRuleSet`), the SDK (which evaluates it locally) and the dashboard (which previews it).
 * It is plain data: JSON-serialisable, no classes, no functions.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export const FLAG_TYPES = ['boolean', 'string', 'number', 'json'] as const;
export type FlagType = (typeof FLAG_TYPES)[number];

/** One possible value of a flag. Variations are referenced by `key` everywhere (it is the OpenFeature variant). */
export interface Variation {
  key: string;
  value: JsonValue;
  name?: string;
  description?: string;
}

export const CLAUSE_OPERATORS = [
  'in',
  'not_in',
  'starts_with',
  'ends_with',
  'contains',
  'matches',
  'lt',
  'lte',
  'gt',
  'gte',
  'semver_lt',
  'semver_gt',
  'semver_eq',
  'in_segment',
  'not_in_segment',
] as const;
export type ClauseOperator = (typeof CLAUSE_OPERATORS)[number];

export type ClauseValue = string | number | boolean;

/**
 * A condition on one context attribute. A clause matches when the attribute (or any element of it,
 * when it is an array) satisfies the operator against any of `values`.
 * For `in_segment` / `not_in_segment`, `values` are segment keys and `attribute` is ignored.
 */
export interface Clause {
  attribute: string;
  operator: ClauseOperator;
  values: ClauseValue[];
}

/** A weighted share of a rollout. Weights are in 1/100000 so 0.001% rollouts are expressible. */
export interface WeightedVariation {
  variation: string;
  weight: number;
}

export interface Rollout {
  /** In list order, the cumulative weights cover buckets [0, 100000). They sum to exactly 100000. */
  variations: WeightedVariation[];
  /** Context attribute hashed into the bucket; defaults to the flag's `bucketBy`. */
  bucketBy?: string;
  /** Hash salt; defaults to the flag's `salt`. */
  salt?: string;
}

/** What a rule or the default rule serves: one variation, or a weighted rollout. */
export type Serve = { variation: string } | { rollout: Rollout };

export interface Rule {
  id: string;
  description?: string;
  /** All clauses must match (AND). An empty list matches everyone. */
  clauses: Clause[];
  serve: Serve;
}

export interface Target {
  variation: string;
  /** Unit IDs (values of the flag's `bucketBy` attribute) that receive `variation`. */
  values: string[];
}

/**
 * Another flag of the same rule set that must serve `variation` to the same context before this
 * flag's own targeting applies (LaunchDarkly's prerequisites). Not met — the flag is unknown, off
 * (killed), or serves another variation — the flag serves its off variation, reason
 * `PREREQUISITE_FAILED`.
 */
export interface Prerequisite {
  flag: string;
  variation: string;
}

/** A flag as one environment sees it. */
export interface FlagConfig {
  key: string;
  type: FlagType;
  variations: Variation[];
  /** The kill switch: `false` serves `offVariation` to everyone. */
  on: boolean;
  offVariation: string;
  /** Checked in order, after `on` and before targets; absent when there are none. */
  prerequisites?: Prerequisite[];
  targets: Target[];
  rules: Rule[];
  defaultServe: Serve;
  salt: string;
  bucketBy: string;
  /** Bumped on every change to the flag. */
  version: number;
  /**
   * Set by the server while a guarded rollout runs: the SDK counts this flag's exposures per
   * variation and attributes `track`ed events to the variation each user gets.
   */
  guarded?: boolean;
  /** Marked visible to client keys: browsers and mobile apps may receive its evaluated value (never its rules). */
  clientVisible?: boolean;
}

export interface SegmentRule {
  id: string;
  /** All clauses must match (AND). Segment clauses cannot refer to other segments. */
  clauses: Clause[];
}

/** A named set of users: included IDs, excluded IDs (which win), and rules. */
export interface Segment {
  key: string;
  /** Attribute holding the ID compared with `included`/`excluded`; `userId` by default. */
  unitAttribute?: string;
  included: string[];
  excluded: string[];
  rules: SegmentRule[];
  version: number;
}

/** Everything an SDK needs for one environment. `version` grows with every change. */
export interface RuleSet {
  environment: string;
  version: number;
  flags: Record<string, FlagConfig>;
  segments: Record<string, Segment>;
}

export type ContextValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[] | ContextObject;

/** A nested attribute object (`{ company: { plan: 'pro' } }`); clauses address it with a dot path, `company.plan`. */
export interface ContextObject {
  readonly [attribute: string]: ContextValue;
}

/** Attributes describing who is asking. `userId` is the default unit of bucketing and targeting. */
export interface EvaluationContext {
  userId?: string;
  [attribute: string]: ContextValue;
}

/** OpenFeature's resolution reasons, plus LaunchDarkly's `PREREQUISITE_FAILED` (OpenFeature allows other reasons). */
export type EvaluationReason = 'DEFAULT' | 'DISABLED' | 'TARGETING_MATCH' | 'SPLIT' | 'STATIC' | 'ERROR' | 'PREREQUISITE_FAILED';

/** OpenFeature's error codes (those evaluation can produce). */
/** `TARGETING_KEY_MISSING`: the evaluation reached a percentage rollout and the context has no value for its bucket-by attribute. */
export type EvaluationErrorCode = 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH' | 'PARSE_ERROR' | 'TARGETING_KEY_MISSING' | 'GENERAL';

export interface EvaluationResult<T extends JsonValue = JsonValue> {
  value: T;
  variant?: string;
  reason: EvaluationReason;
  errorCode?: EvaluationErrorCode;
  errorMessage?: string;
}
