import type { RuleSet } from './types.js';

/** Timer functions and the current time; inject a fake in tests so nothing really sleeps. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

/** The subset of `fetch` the client uses; any WHATWG-compatible implementation works. */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; signal: AbortSignal; body?: string }) => Promise<Response>;

/** Where the last good rule set is persisted between runs (see `fileCache` in `@switchyard/sdk/node`). */
export interface RuleSetCache {
  load(): Promise<RuleSet | undefined>;
  save(ruleSet: RuleSet): Promise<void>;
}

export interface ClientOptions {
  /** Base URL of the Switchyard server, e.g. `https://flags.example.com`. */
  url: string;
  /** The environment's SDK key (read-only). */
  sdkKey: string;
  /** Rules to serve before (or without) the server; replaced by the server's first snapshot. */
  bootstrap?: RuleSet;
  /** Receive updates over Server-Sent Events (default `true`); `false` polls only. */
  streaming?: boolean;
  /** Polling period when polling (default 30 000 ms). */
  pollIntervalMs?: number;
  /** A stream silent for this long is dead: reconnect (default 45 000 ms = 3 missed heartbeats). */
  heartbeatTimeoutMs?: number;
  /** Cap of the reconnect backoff (default 30 000 ms). */
  maxBackoffMs?: number;
  /** Consecutive stream failures before polling starts alongside the retries (default 3). */
  streamFailuresBeforePolling?: number;
  /** A stream up this long resets the backoff (default 60 000 ms). */
  healthyStreamMs?: number;
  fetch?: FetchLike;
  clock?: Clock;
  /** Uniform random numbers in [0, 1), for backoff jitter (default `Math.random`). */
  random?: () => number;
  /** Defaults to warnings and errors on `console`. */
  logger?: Logger;
  cache?: RuleSetCache;
  /** How often exposure and event counts of guarded flags are uploaded (default 5 000 ms). */
  flushIntervalMs?: number;
  /** Distinct counters kept between uploads; more are dropped and counted (default 10 000). */
  maxMetricKeys?: number;
}

export const DEFAULTS = Object.freeze({
  streaming: true,
  pollIntervalMs: 30_000,
  heartbeatTimeoutMs: 45_000,
  maxBackoffMs: 30_000,
  baseBackoffMs: 1_000,
  streamFailuresBeforePolling: 3,
  healthyStreamMs: 60_000,
  flushIntervalMs: 5_000,
  maxMetricKeys: 10_000,
  /** Upload attempts of one metrics batch (with backoff) before it is dropped. */
  metricsMaxAttempts: 5,
});

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const consoleLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message, ...details) => console.warn(`[switchyard] ${message}`, ...details),
  error: (message, ...details) => console.error(`[switchyard] ${message}`, ...details),
};

export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

export interface ResolvedOptions {
  baseUrl: string;
  sdkKey: string;
  streaming: boolean;
  pollIntervalMs: number;
  heartbeatTimeoutMs: number;
  maxBackoffMs: number;
  baseBackoffMs: number;
  streamFailuresBeforePolling: number;
  healthyStreamMs: number;
  fetch: FetchLike;
  clock: Clock;
  random: () => number;
  logger: Logger;
  flushIntervalMs: number;
  maxMetricKeys: number;
}

/** Throws a TypeError for a missing `url` or `sdkKey`: a misconfiguration should fail at startup, loudly. */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  for (const name of ['url', 'sdkKey'] as const) {
    if (typeof options?.[name] !== 'string' || options[name].trim() === '') throw new TypeError(`switchyard: options.${name} is required`);
  }
  const globalFetch: FetchLike | undefined = typeof fetch === 'function' ? (url, init) => fetch(url, init) : undefined;
  const chosenFetch = options.fetch ?? globalFetch;
  if (chosenFetch === undefined) throw new TypeError('switchyard: no global fetch; pass options.fetch');
  return {
    baseUrl: options.url.replace(/\/+$/, ''),
    sdkKey: options.sdkKey,
    streaming: options.streaming ?? DEFAULTS.streaming,
    pollIntervalMs: positive(options.pollIntervalMs, DEFAULTS.pollIntervalMs),
    heartbeatTimeoutMs: positive(options.heartbeatTimeoutMs, DEFAULTS.heartbeatTimeoutMs),
    maxBackoffMs: positive(options.maxBackoffMs, DEFAULTS.maxBackoffMs),
    baseBackoffMs: DEFAULTS.baseBackoffMs,
    streamFailuresBeforePolling: Math.max(1, Math.floor(positive(options.streamFailuresBeforePolling, DEFAULTS.streamFailuresBeforePolling))),
    healthyStreamMs: positive(options.healthyStreamMs, DEFAULTS.healthyStreamMs),
    fetch: chosenFetch,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    logger: options.logger ?? consoleLogger,
    flushIntervalMs: positive(options.flushIntervalMs, DEFAULTS.flushIntervalMs),
    maxMetricKeys: Math.floor(positive(options.maxMetricKeys, DEFAULTS.maxMetricKeys)),
  };
}
