import { backoffDelay } from './backoff.js';
import type { MetricsStats } from './client-api.js';
import type { CompiledFlag, EvaluationDetail } from './evaluate.js';
import { DEFAULTS, numberOption, type GuardMetrics, type ResolvedOptions } from './options.js';
import { withTimeout } from './transport/timeout.js';

/**
 * `@switchyard/sdk/insights`: how often each flag served each variation, counted in memory and
 * uploaded as one summary to `POST /api/sdk/evaluations` every `insightsIntervalMs` (default 60 s),
 * with the SDK's name and version. The server keeps hourly counts, the last evaluation time per flag
 * and environment, and which SDKs use each key.
 *
 * Bounded: at most `maxInsightKeys` counters between two uploads (more are dropped and counted in
 * `metricsStats().evaluations.dropped`). A summary the server does not take is retried with backoff
 * (merged with newer counts), then dropped and counted; one it refuses (4xx) is dropped at once.
 *
 * Counting costs one map lookup and an increment per evaluation: counters are keyed on the
 * evaluator's shared, frozen result objects (one per flag and outcome), never on strings.
 */

/** The SDK that counts, as the server lists it under "connected SDKs". */
export interface SdkIdentity {
  name: string;
  version: string;
}

/** This package's version (a test keeps it equal to sdk/package.json's). */
export const SDK_VERSION = '0.1.0';

/** What the core entry reports itself as when insights are turned on by hand. */
export const CORE_SDK: SdkIdentity = Object.freeze({ name: 'switchyard-js', version: SDK_VERSION });

/** Defaults of the insights options (a value that is not a finite number ≥ 1 falls back to them). */
export const INSIGHTS_DEFAULTS = Object.freeze({ insightsIntervalMs: 60_000, maxInsightKeys: 10_000, maxAttempts: 5 });

/** The server refuses a count above this in one summary; more is dropped and counted (no SDK instance evaluates a billion times a minute). */
export const MAX_EVALUATION_COUNT = 1_000_000_000;

export type InsightsOptions = Pick<ResolvedOptions, 'baseUrl' | 'sdkKey' | 'fetch' | 'clock' | 'random' | 'logger'> &
  Partial<Pick<ResolvedOptions, 'requestTimeoutMs' | 'insightsIntervalMs' | 'maxInsightKeys'>> & {
    /** Upload attempts of one summary before it is dropped (default 5). */
    maxAttempts?: number;
  };

interface Counter {
  flag: string;
  variation: string;
  count: number;
}

type Summary = { flag: string; variation: string; count: number }[];

const MAX_RETRY_DELAY_MS = 5 * 60_000;
const ZERO: MetricsStats = Object.freeze({ dropped: 0, flushed: 0, failedBatches: 0 });

/**
 * Evaluation counting, wrapped around the client's guard metrics (if any): exposures and tracked
 * events go to them unchanged, flushing and closing do both.
 */
export class EvaluationInsights implements GuardMetrics {
  #counts = new Map<EvaluationDetail, Counter>();
  /** The counter `evaluated` used last, and its outcome (cleared with the counters on upload). */
  #lastResult: EvaluationDetail | undefined;
  #lastCounter: Counter | undefined;
  #timer: unknown;
  #retry: { summary: Summary; attempts: number } | undefined;
  #inflight: Promise<void> | undefined;
  #closed = false;
  readonly #stats = { dropped: 0, flushed: 0, failedBatches: 0 };
  readonly #options: InsightsOptions;
  readonly #guard: GuardMetrics | undefined;
  readonly #sdk: SdkIdentity;
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #maxAttempts: number;
  readonly #requestTimeoutMs: number;

  constructor(options: InsightsOptions, guard?: GuardMetrics, sdk: SdkIdentity = CORE_SDK) {
    this.#options = options;
    this.#guard = guard;
    this.#sdk = sdk;
    this.#intervalMs = numberOption(options.insightsIntervalMs, INSIGHTS_DEFAULTS.insightsIntervalMs);
    this.#maxKeys = numberOption(options.maxInsightKeys, INSIGHTS_DEFAULTS.maxInsightKeys);
    this.#maxAttempts = numberOption(options.maxAttempts, INSIGHTS_DEFAULTS.maxAttempts);
    this.#requestTimeoutMs = numberOption(options.requestTimeoutMs, DEFAULTS.requestTimeoutMs);
  }

  /**
   * The hot path. The same outcome as last time (a hot flag, most users in one variation) is a
   * comparison and an increment; another known outcome is one map lookup more.
   */
  evaluated(flag: string, result: EvaluationDetail): void {
    if (result === this.#lastResult) {
      this.#lastCounter!.count++;
      return;
    }
    const counter = this.#counts.get(result);
    if (counter === undefined) return this.#first(flag, result);
    counter.count++;
    this.#lastResult = result;
    this.#lastCounter = counter;
  }

  exposure(flag: string, variation: string): void {
    this.#guard?.exposure(flag, variation);
  }

  track(name: string, flags: ReadonlyMap<string, CompiledFlag>, evaluate: (flag: CompiledFlag) => EvaluationDetail | undefined, value?: number): void {
    this.#guard?.track(name, flags, evaluate, value);
  }

  /** Guard metrics' counters, with the insights' own under `evaluations`. */
  stats(): MetricsStats {
    return { ...(this.#guard?.stats() ?? ZERO), evaluations: { ...this.#stats } };
  }

  /** Upload both now: the evaluation summary (and one waiting for a retry) and the guard metrics. */
  async flush(): Promise<void> {
    await Promise.all([this.#flush(), this.#guard?.flush()]);
  }

  /** Stop the timer and make one last upload attempt (of both). */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#options.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.#inflight;
      const retry = this.#retry;
      if (retry) retry.attempts = Math.max(retry.attempts, this.#maxAttempts - 1);
      await this.#flush();
    }
    await this.#guard?.close();
  }

  #first(flag: string, result: EvaluationDetail): void {
    if (this.#closed || result.variant === undefined) return;
    if (this.#counts.size >= this.#maxKeys) {
      this.#stats.dropped++;
      return;
    }
    const counter = { flag, variation: result.variant, count: 1 };
    this.#counts.set(result, counter);
    this.#lastResult = result;
    this.#lastCounter = counter;
    // The timer runs only while there is something to send: an idle client keeps none.
    if (this.#timer === undefined) this.#schedule(this.#intervalMs);
  }

  #flush(): Promise<void> {
    return (this.#inflight ??= this.#upload().finally(() => (this.#inflight = undefined)));
  }

  #schedule(ms: number): void {
    const { clock, random } = this.#options;
    this.#timer = clock.setTimeout(() => {
      void this.#flush().then(() => {
        this.#timer = undefined;
        const retry = this.#retry;
        if (this.#closed || (this.#counts.size === 0 && !retry)) return;
        this.#schedule(retry ? Math.max(this.#intervalMs, backoffDelay(retry.attempts, random, { baseMs: this.#intervalMs, maxMs: MAX_RETRY_DELAY_MS })) : this.#intervalMs);
      });
    }, ms);
    // An insights timer must never keep a Node process alive.
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Counters of one flag variation (several outcomes: rules, targets, splits) add up; a retried summary merges in. */
  #summary(): Summary {
    const merged = new Map<string, Summary[number]>();
    const add = (flag: string, variation: string, count: number) => {
      const id = `${flag}\0${variation}`;
      const seen = merged.get(id);
      if (seen) seen.count += count;
      else merged.set(id, { flag, variation, count });
    };
    for (const c of this.#retry?.summary ?? []) add(c.flag, c.variation, c.count);
    for (const c of this.#counts.values()) add(c.flag, c.variation, c.count);
    this.#counts = new Map();
    this.#lastResult = this.#lastCounter = undefined;
    for (const c of merged.values()) {
      if (c.count <= MAX_EVALUATION_COUNT) continue;
      this.#stats.dropped += c.count - MAX_EVALUATION_COUNT;
      c.count = MAX_EVALUATION_COUNT;
    }
    return [...merged.values()];
  }

  async #upload(): Promise<void> {
    const attempts = (this.#retry?.attempts ?? 0) + 1;
    const summary = this.#summary();
    this.#retry = undefined;
    if (summary.length === 0) return;
    const { baseUrl, sdkKey, fetch, clock } = this.#options;
    let status = 0;
    try {
      const controller = new AbortController();
      const request = fetch(`${baseUrl}/api/sdk/evaluations`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${sdkKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ sdk: this.#sdk.name, version: this.#sdk.version, evaluations: summary }),
        signal: controller.signal,
      });
      status = (await withTimeout(clock, this.#requestTimeoutMs, controller, 'evaluation insights', request)).status;
    } catch {
      // no answer: retried below like a 5xx
    }
    if (status >= 200 && status < 300) {
      this.#stats.flushed++;
    } else if ((status >= 400 && status < 500 && status !== 429) || attempts >= this.#maxAttempts) {
      // A refused summary (bad key, bad body) will not get better by retrying.
      const dropped = summary.reduce((sum, c) => sum + c.count, 0);
      this.#stats.failedBatches++;
      this.#stats.dropped += dropped;
      this.#options.logger.warn(`dropped ${dropped} evaluation counts after ${attempts} upload attempts (${status ? `HTTP ${status}` : 'no answer'})`);
    } else {
      this.#retry = { summary, attempts };
    }
  }
}

/**
 * Turn on evaluation insights for a core client (the Node entry and the OpenFeature provider do
 * it by default), alongside guard metrics if you pass their factory.
 * @example createClient({ url, sdkKey, metrics: withEvaluationInsights(guardMetrics) })
 */
export function withEvaluationInsights(metrics?: (options: ResolvedOptions) => GuardMetrics, sdk: SdkIdentity = CORE_SDK): (options: ResolvedOptions) => GuardMetrics {
  return (options) => new EvaluationInsights(options, metrics?.(options), sdk);
}

/**
 * Evaluation insights alone (no guard metrics).
 * @example createClient({ url, sdkKey, metrics: evaluationInsights })
 */
export const evaluationInsights = (options: ResolvedOptions): GuardMetrics => new EvaluationInsights(options);
