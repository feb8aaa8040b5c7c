import type { MetricsStats } from './client-api.js';
import type { CompiledFlag, EvaluationDetail } from './evaluate.js';
import type { RuleSet } from './types.js';

/** Timer functions and the current time; inject a fake in tests so nothing really sleeps. */
export interface Clock {
  now(): number;
  /** A negative `ms` is 0, as with the global `setTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Where the client reports problems (any console-like or pino-like logger fits). */
export interface Logger {
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
  /** Never called; accepted so a full console-like logger type-checks. */
  debug?(message: string, ...details: unknown[]): void;
  info?(message: string, ...details: unknown[]): void;
}

/** The subset of `fetch` the client uses; any WHATWG-compatible implementation works. */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; signal: AbortSignal; body?: string }) => Promise<Response>;

/**
 * Delivery's number options: a value that is not a finite number ≥ 1 falls back to the default
 * (except `requestTimeoutMs`, which throws: see resolveOptions); fractions round down.
 */
export const DEFAULTS = Object.freeze({
  /** Polling period when polling. */
  pollIntervalMs: 30_000,
  /** A stream silent for this long is dead: reconnect (3 missed heartbeats). */
  heartbeatTimeoutMs: 45_000,
  /** Cap of the reconnect backoff. */
  maxBackoffMs: 30_000,
  /** Consecutive stream failures before polling starts alongside the retries. */
  streamFailuresBeforePolling: 3,
  /**
   * A stream that ends before it was up this long, twice in a row, is flapping: the second retry
   * backs off instead of coming back at once.
   */
  healthyStreamMs: 60_000,
  /**
   * Longest wait for an answer: a poll (headers and body), a stream until its response headers, a
   * metrics upload. A server or proxy that accepts the connection and never answers must not stall
   * the client: the request is aborted and fails with a `TIMEOUT` error (then retried).
   */
  requestTimeoutMs: 10_000,
});

/** Node fires a longer timer at once (after a warning): a longer timeout would time out everything. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Numeric = { -readonly [K in keyof typeof DEFAULTS]: number };

export interface ClientOptions extends Partial<Numeric> {
  /** Base URL of the Switchyard server, e.g. `https://flags.example.com`. */
  url: string;
  /** The environment's SDK key (read-only). */
  sdkKey: string;
  /**
   * Rules to serve before (or without) the server — rendered into a page, shipped with a deployment,
   * or persisted from `getRuleSet()` on `ready`/`change` (`@switchyard/sdk/node` does this with a
   * file). Replaced by the server's first snapshot whatever its version.
   */
  bootstrap?: RuleSet;
  /**
   * No network at all: no rules request, no stream, no metrics upload. The client serves `bootstrap`
   * (or, without it, every caller's default) and `ready()` resolves at once (`false`, reason
   * `offline`, without bootstrap). For tests, CI and local development: flip it with an environment
   * variable and keep the rest of the configuration; `url`, `sdkKey` and `fetch` may then be empty.
   */
  offline?: boolean;
  /** Receive updates over Server-Sent Events (default `true`); `false` polls only. */
  streaming?: boolean;
  fetch?: FetchLike;
  clock?: Clock;
  /** Uniform random numbers in [0, 1), for backoff jitter (default `Math.random`). */
  random?: () => number;
  /** Defaults to warnings and errors on `console`. */
  logger?: Logger;
  /**
   * Exposure and event counting for guarded rollouts: `guardMetrics` from `@switchyard/sdk/metrics`
   * (the Node entry and the OpenFeature provider turn it on by default). Without it `track` does
   * nothing and guarded flags report no exposures.
   */
  metrics?: (options: ResolvedOptions) => GuardMetrics;
  /** For `guardMetrics`: how often counts are uploaded (default 5 000 ms). */
  flushIntervalMs?: number;
  /** For `guardMetrics`: distinct counters kept between uploads; more are dropped and counted (default 10 000). */
  maxMetricKeys?: number;
  /**
   * Evaluation insights (`@switchyard/sdk/insights`): per-flag, per-variation evaluation counts
   * uploaded as a summary. On by default in `@switchyard/sdk/node` and the OpenFeature provider;
   * `false` turns them off there. (The core entry counts only with `metrics: withEvaluationInsights(…)`.)
   */
  insights?: boolean;
  /** For evaluation insights: how often the summary is uploaded (default 60 000 ms). */
  insightsIntervalMs?: number;
  /** For evaluation insights: distinct counters kept between uploads; more are dropped and counted (default 10 000). */
  maxInsightKeys?: number;
}

/** What the client reports for flags under a guarded rollout (implemented by `guardMetrics`). */
export interface GuardMetrics {
  /** A guarded flag served `variation`. */
  exposure(flag: string, variation: string): void;
  /**
   * Any flag served a variation (`result.variant` is set): evaluation insights count these
   * (`@switchyard/sdk/insights`). Results are the evaluator's shared frozen objects, one per flag
   * and outcome, so an implementation may key its counters on the object itself.
   */
  evaluated?(flag: string, result: EvaluationDetail): void;
  /** `client.track`: count the event for every guarded flag, against the variation `evaluate` gives. */
  track(name: string, flags: ReadonlyMap<string, CompiledFlag>, evaluate: (flag: CompiledFlag) => EvaluationDetail | undefined, value?: number): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): MetricsStats;
}

/** The options with defaults applied (what `metrics` receives). */
export interface ResolvedOptions extends Omit<ClientOptions, keyof Numeric>, Numeric {
  baseUrl: string;
  sdkKey: string;
  streaming: boolean;
  fetch: FetchLike;
  clock: Clock;
  random: () => number;
  logger: Logger;
}

const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const consoleLogger: Logger = {
  warn: (...details) => console.warn('[switchyard]', ...details),
  error: (...details) => console.error('[switchyard]', ...details),
};

const quiet = (): void => {};
export const silentLogger: Logger = { warn: quiet, error: quiet };

/** A number option: a finite number ≥ 1 (rounded down), else the default. */
export const numberOption = (value: unknown, fallback: number): number => (typeof value === 'number' && value >= 1 && value < Infinity ? Math.floor(value) : fallback);

/**
 * Throws a TypeError for a missing `url` or `sdkKey`, or an invalid `requestTimeoutMs`: a
 * misconfiguration should fail at startup, loudly.
 */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const fetchImpl = options?.fetch ?? (typeof fetch === 'function' ? (url, init) => fetch(url, init) : undefined);
  for (const [name, valid] of [['url', options?.url?.trim?.()], ['sdkKey', options?.sdkKey?.trim?.()], ['fetch', fetchImpl]] as const) {
    if (!valid && !options?.offline) throw new TypeError(`switchyard: options.${name} is required`);
  }
  const timeout = options.requestTimeoutMs;
  if (timeout !== undefined && !(numberOption(timeout, 0) && timeout <= MAX_TIMER_MS)) {
    throw new TypeError(`switchyard: options.requestTimeoutMs must be 1 to ${MAX_TIMER_MS} ms, got ${timeout}`);
  }
  // The number options are set just below, each to a valid value or its default.
  const resolved = {
    ...options,
    baseUrl: options.url?.replace(/\/+$/, ''), // absent offline: never used then
    streaming: options.streaming !== false,
    fetch: fetchImpl!,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    logger: options.logger ?? consoleLogger,
  } as ResolvedOptions;
  for (const key of Object.keys(DEFAULTS) as (keyof Numeric)[]) resolved[key] = numberOption(options[key], DEFAULTS[key]);
  return resolved;
}
