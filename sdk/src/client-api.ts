import type { SwitchyardError } from './errors.js';
import type { EvaluationContext, EvaluationErrorCode, EvaluationReason, JsonValue, RuleSet } from './types.js';

/** The client's public surface: what `createClient` returns, its events and results. */

export interface MetricsStats {
  /** Counts dropped: over `maxMetricKeys`, or in batches the server never accepted. */
  dropped: number;
  /** Batches uploaded successfully. */
  flushed: number;
  /** Batches given up on. */
  failedBatches: number;
}

/** Payloads of the client's events. */
export interface ClientEvents {
  /** The first rule set is in (bootstrap, cache or server). Fired once. */
  ready: void;
  /** Keys of the flags whose evaluation may have changed (their config, or a segment they use). */
  change: readonly string[];
  /** A failed request, bad data or cache failure. `code: 'UNAUTHORIZED'` means the client stopped. */
  error: SwitchyardError;
  /** No channel delivers updates any more (stream down and polling failing, or a bad key). */
  stale: { readonly reason: string };
  /** Updates flow again after `stale`. */
  recovered: void;
}

export type ClientEvent = keyof ClientEvents;

/** A listener for an event's payload (no argument for `ready` and `recovered`). */
export type Listener<T> = [T] extends [void] ? () => void : (payload: T) => void;

/** `boolean` for `true`, `string` for `'blue'`: the type a default value stands for. */
export type Widen<T> = T extends boolean ? boolean : T extends string ? string : T extends number ? number : T;

/** What `client.evaluate` returns: the value plus why, as OpenFeature reports it. */
export interface ClientEvaluation<T> {
  readonly value: T;
  readonly variant?: string;
  readonly reason: EvaluationReason;
  readonly errorCode?: EvaluationErrorCode;
  readonly errorMessage?: string;
  /** The rule that decided, if one did. */
  readonly ruleId?: string;
}

/** A context: a user ID string, or attributes (`userId` is the default unit of bucketing). */
export type ContextInput = string | EvaluationContext;

export interface SwitchyardClient {
  /**
   * Resolves `true` once the client has rules (at once with `bootstrap`); resolves `false` (it never
   * rejects) after `timeoutMs`, after `close()`, or when the SDK key is rejected and no cache can help.
   * Either way the client stays usable: until rules arrive it serves callers' defaults.
   */
  ready(options?: { timeoutMs?: number }): Promise<boolean>;
  /** True once any rule set (bootstrap, cache or server) is loaded. */
  readonly initialized: boolean;
  /** Version of the rules being served. */
  readonly version: number | undefined;
  /** Boolean flag check: synchronous, never throws, no I/O, no allocation for a string user ID. */
  isEnabled(flag: string, userIdOrContext?: ContextInput, defaultValue?: boolean): boolean;
  /** A flag's value, or `defaultValue` when the flag is unknown or its type differs. */
  variation<T extends JsonValue>(flag: string, context: ContextInput | undefined, defaultValue: T): Widen<T>;
  /** Value, variant, reason and error code (`FLAG_NOT_FOUND`, `TYPE_MISMATCH`, …). */
  evaluate<T extends JsonValue>(flag: string, context: ContextInput | undefined, defaultValue: T): ClientEvaluation<Widen<T>>;
  /** Every flag's value for a context (flags that fail to evaluate are left out). */
  allFlags(context?: ContextInput): Record<string, JsonValue>;
  /** The rule set being served (plain data; do not mutate it). */
  getRuleSet(): RuleSet | undefined;
  /**
   * Record an outcome (`'error'`, or `'latency_ms'` with a value) for the guard of every flag under
   * a guarded rollout: it counts against the variation this user is served. Synchronous, never
   * throws; does nothing while no flag is guarded.
   * @example client.track('error', user.id); client.track('latency_ms', user.id, elapsed);
   */
  track(eventName: string, userIdOrContext?: ContextInput, value?: number): void;
  /** Upload the exposure and event counts now (they also go every `flushIntervalMs`, and on `close`). */
  flush(): Promise<void>;
  /** Metrics counters: uploads done, batches given up on, counts dropped. */
  metricsStats(): MetricsStats;
  /** Subscribe; returns a function that unsubscribes. A listener that throws is logged and never disturbs the others. */
  on<E extends ClientEvent>(event: E, listener: Listener<ClientEvents[E]>): () => void;
  once<E extends ClientEvent>(event: E, listener: Listener<ClientEvents[E]>): () => void;
  off<E extends ClientEvent>(event: E, listener: Listener<ClientEvents[E]>): void;
  /** Stop: upload pending metrics, abort the stream and requests, clear every timer, resolve pending `ready` with false. */
  close(): Promise<void>;
}
