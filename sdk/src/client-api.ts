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
  /** Evaluation insights' own counters, when they are on (`@switchyard/sdk/insights`). */
  evaluations?: { dropped: number; flushed: number; failedBatches: number };
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

/**
 * Why `ready({ detailed: true })` resolved without rules:
 * - `timeout`: `timeoutMs` passed first. The client keeps trying; `error` is the last failure, if
 *   any (`NETWORK`, `HTTP` 5xx, `TIMEOUT`…), undefined when the server simply has not answered yet.
 * - `unauthorized`: the server rejected the SDK key (401/403, `error.code === 'UNAUTHORIZED'`). Final:
 *   the client stopped and will not retry — fix the key.
 * - `closed`: `close()` was called first.
 * - `offline`: `offline: true` without `bootstrap` rules: there is nothing to wait for.
 */
export type NotReadyReason = 'timeout' | 'unauthorized' | 'closed' | 'offline';

/** What `ready({ detailed: true })` resolves. */
export interface ReadyResult {
  /** What `ready()` resolves. */
  readonly ready: boolean;
  /** Why not ready; undefined when ready. */
  readonly reason?: NotReadyReason;
  /**
   * The last failed request or update, if any: with `unauthorized`, the 401/403; with `timeout`,
   * what went wrong meanwhile (undefined: the server simply has not answered yet). Also set when
   * ready if a request failed before the rules came.
   */
  readonly error?: SwitchyardError;
}

/**
 * The shape `switchyard codegen` writes: flag key → the type of its value. Any object type fits
 * (an `interface Flags { 'new-checkout': boolean }` too); the default, with a string index, is
 * "untyped": any key, any JSON default — what `createClient()` without a type argument gives.
 */
export type FlagTypes = object;
/** The type parameter's default: every key allowed, every JSON value. */
export type UntypedFlags = Record<string, JsonValue>;
/** Keys of `F`, or any string when `F` is untyped. */
export type FlagKey<F> = string extends keyof F ? string : Extract<keyof F, string>;
/** Keys of `F` whose value is a boolean (what `isEnabled` takes), or any string when untyped. */
export type BooleanFlagKey<F> = string extends keyof F ? string : { [K in keyof F]-?: [F[K]] extends [boolean] ? K : never }[keyof F] & string;
/** What a default value for flag `K` may be: one of the flag's values (any JSON value when untyped). */
export type DefaultFor<F, K> = string extends keyof F ? JsonValue : K extends keyof F ? F[K] : never;
/** What `variation` returns: the flag's value type, or (untyped) the default's widened type. */
export type ValueFor<F, K, T> = string extends keyof F ? Widen<T> : K extends keyof F ? F[K] : never;

/**
 * The client. `F` (optional, types only: nothing changes at run time) is a map of flag keys to value
 * types, as written by `switchyard codegen`: with `createClient<Flags>(…)`, an unknown key, a
 * non-boolean flag in `isEnabled`, or a default value the flag cannot serve fails to compile.
 */
export interface SwitchyardClient<F extends FlagTypes = UntypedFlags> {
  /**
   * Resolves `true` once the client has rules (at once with `bootstrap`); resolves `false` (it never
   * rejects) after `timeoutMs`, after `close()`, when the SDK key is rejected and no cache can help,
   * or at once with `offline: true` and no `bootstrap`. Either way the client stays usable: until
   * rules arrive it serves callers' defaults.
   *
   * With `detailed: true` it resolves a {@link ReadyResult} instead, telling these apart:
   * `{ ready: true }`, or `{ ready: false, reason: 'timeout' | 'unauthorized' | 'closed' | 'offline', error? }`
   * (`error`: the rejected key's 401/403, or the last failure before a timeout).
   * @example
   * const result = await client.ready({ timeoutMs: 5000, detailed: true });
   * if (!result.ready && result.reason === 'unauthorized') logger.error('bad SWITCHYARD_SDK_KEY', result.error);
   */
  ready<D extends boolean = false>(options?: { timeoutMs?: number; detailed?: D }): Promise<D extends true ? ReadyResult : boolean>;
  /** True once any rule set (bootstrap, cache or server) is loaded. */
  readonly initialized: boolean;
  /** Version of the rules being served. */
  readonly version: number | undefined;
  /** Boolean flag check: synchronous, never throws, no I/O, no allocation for a string user ID. */
  isEnabled(flag: BooleanFlagKey<F>, userIdOrContext?: ContextInput, defaultValue?: boolean): boolean;
  /** A flag's value, or `defaultValue` when the flag is unknown or its type differs. */
  variation<T extends DefaultFor<F, K>, K extends FlagKey<F> = FlagKey<F>>(flag: K, context: ContextInput | undefined, defaultValue: T): ValueFor<F, K, T>;
  /** Value, variant, reason and error code (`FLAG_NOT_FOUND`, `TYPE_MISMATCH`, …). */
  evaluate<T extends DefaultFor<F, K>, K extends FlagKey<F> = FlagKey<F>>(flag: K, context: ContextInput | undefined, defaultValue: T): ClientEvaluation<ValueFor<F, K, T>>;
  /** Every flag's value for a context (flags that fail to evaluate are left out). */
  allFlags(context?: ContextInput): string extends keyof F ? Record<string, JsonValue> : Partial<F>;
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
