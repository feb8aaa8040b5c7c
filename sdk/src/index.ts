/**
 * `@switchyard/sdk`: what an application needs — the client, bucketing, and the rule-set types.
 * Kept small for browser bundles (see README "Size"); the standalone evaluator (`evaluate`) and
 * server-side helpers live in `@switchyard/sdk/ruleset`, guarded-rollout metrics in `@switchyard/sdk/metrics`,
 * the test double in `@switchyard/sdk/testing`.
 */
export { BUCKETS, bucket, percentageToBuckets } from './bucket.js';
export type { EvaluationDetail } from './evaluate.js';
export type * from './types.js';
export { createClient } from './client.js';
export type {
  BooleanFlagKey,
  ClientEvaluation,
  ClientEvent,
  ClientEvents,
  ContextInput,
  DefaultFor,
  FlagKey,
  FlagTypes,
  Listener,
  MetricsStats,
  NotReadyReason,
  ReadyResult,
  SwitchyardClient,
  UntypedFlags,
  ValueFor,
  Widen,
} from './client-api.js';
export type { ClientOptions, Clock, FetchLike, GuardMetrics, Logger, ResolvedOptions } from './options.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { SwitchyardError } from './errors.js';
export type { SwitchyardErrorCode } from './errors.js';
