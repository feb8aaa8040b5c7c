import { backoffDelay } from './backoff.js';
import type { MetricsStats } from './client-api.js';
import type { CompiledFlag, EvaluationDetail } from './evaluate.js';
import { DEFAULTS, numberOption, type GuardMetrics, type ResolvedOptions } from './options.js';
import { withTimeout } from './transport/timeout.js';

/**
 * `@switchyard/sdk/metrics`: exposure and event counts for flags under a guarded rollout, aggregated in memory and uploaded
 * to `POST /api/sdk/metrics` every `flushIntervalMs`. Memory is bounded (`maxMetricKeys` distinct
 * counters); a batch the server refuses or never answers is retried with backoff, then dropped and
 * counted (`stats().dropped`). Nothing here runs for flags without a guarded rollout.
 */

/** Quarter-octave latency buckets: bucket b holds values in (2^((b−1)/4), 2^(b/4)] (server: releases/latency.ts). */
export function valueBucket(value: number): number {
  return value <= 1 ? 0 : Math.ceil(4 * Math.log2(value));
}

export type MetricsOptions = Pick<ResolvedOptions, 'baseUrl' | 'sdkKey' | 'fetch' | 'clock' | 'random' | 'logger' | 'flushIntervalMs' | 'maxMetricKeys'> & Partial<Pick<ResolvedOptions, 'requestTimeoutMs'>> & {
  /** Upload attempts of one batch before it is dropped (default 5). */
  maxAttempts?: number;
};

/** Defaults of the metrics options (a value that is not a finite number ≥ 1 falls back to them). */
export const METRICS_DEFAULTS = Object.freeze({ flushIntervalMs: 5_000, maxMetricKeys: 10_000, maxAttempts: 5 });

export type { MetricsStats };

interface EventCount {
  name: string;
  flag: string;
  variation: string;
  count: number;
  sum: number;
  buckets?: Record<number, number>;
}

interface Batch {
  exposures: { flag: string; variation: string; count: number }[];
  events: EventCount[];
}

const MAX_RETRY_DELAY_MS = 60_000;
/**
 * The server refuses an upload that reports more than this per flag, variation and metric (what one
 * busy instance counts in a 5 s interval; more looks like forged evidence). Counts over it are kept
 * and sent in the next upload, which comes after CARRY_DELAY_MS instead of a whole interval.
 */
export const MAX_UPLOAD_COUNT = 50_000;
const CARRY_DELAY_MS = 1_000;

export class MetricsRecorder implements GuardMetrics {
  /** flag → variation → count: two map lookups and a set per exposure, no allocation once warm. */
  #exposures = new Map<string, Map<string, number>>();
  #events = new Map<string, EventCount>();
  #keys = 0;
  #timer: unknown;
  #retry: { batch: Batch; attempts: number } | undefined;
  #carried = false;
  #inflight: Promise<void> | undefined;
  #closed = false;
  readonly #stats: MetricsStats = { dropped: 0, flushed: 0, failedBatches: 0 };
  readonly #options: MetricsOptions;
  readonly #flushIntervalMs: number;
  readonly #maxKeys: number;
  readonly #maxAttempts: number;
  readonly #requestTimeoutMs: number;
  /** Guarded flags of the client's current rules, rebuilt when its compiled map is replaced. */
  #guarded: [from: ReadonlyMap<string, CompiledFlag>, flags: CompiledFlag[]] | undefined;

  constructor(options: MetricsOptions) {
    this.#options = options;
    this.#flushIntervalMs = numberOption(options.flushIntervalMs, METRICS_DEFAULTS.flushIntervalMs);
    this.#maxKeys = numberOption(options.maxMetricKeys, METRICS_DEFAULTS.maxMetricKeys);
    this.#maxAttempts = numberOption(options.maxAttempts, METRICS_DEFAULTS.maxAttempts);
    this.#requestTimeoutMs = numberOption(options.requestTimeoutMs, DEFAULTS.requestTimeoutMs);
  }

  stats(): MetricsStats {
    return { ...this.#stats };
  }

  exposure(flag: string, variation: string): void {
    const byVariation = this.#exposures.get(flag) ?? new Map<string, number>();
    const count = byVariation.get(variation);
    if (this.#admit(count === undefined)) this.#exposures.set(flag, byVariation.set(variation, (count ?? 0) + 1));
  }

  track(name: string, flags: ReadonlyMap<string, CompiledFlag>, evaluate: (flag: CompiledFlag) => EvaluationDetail | undefined, value?: number): void {
    if (typeof name !== 'string' || name === '') return;
    if (this.#guarded?.[0] !== flags) this.#guarded = [flags, [...flags.values()].filter((f) => f.config.guarded === true)];
    for (const flag of this.#guarded[1]) {
      // Deterministic re-evaluation: the variation this user is served, no per-user state kept.
      const result = evaluate(flag);
      if (result?.variant !== undefined && result.errorCode === undefined) this.event(name, flag.key, result.variant, value);
    }
  }

  event(name: string, flag: string, variation: string, value: number | undefined): void {
    const id = `${name}\0${flag}\0${variation}`;
    const counter = this.#events.get(id) ?? { name, flag, variation, count: 0, sum: 0 };
    if (!this.#admit(counter.count === 0)) return;
    this.#events.set(id, counter);
    counter.count++;
    if (value !== undefined && Number.isFinite(value)) {
      const bucket = valueBucket(value);
      counter.sum += value;
      counter.buckets ??= {};
      counter.buckets[bucket] = (counter.buckets[bucket] ?? 0) + 1;
    }
  }

  /** Upload what has been counted (and a batch still waiting for a retry). */
  flush(): Promise<void> {
    return (this.#inflight ??= this.#upload().finally(() => (this.#inflight = undefined)));
  }

  /** Stop the timer and make one last upload attempt. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.clock.clearTimeout(this.#timer);
    await this.#inflight;
    const retry = this.#retry;
    if (retry) retry.attempts = Math.max(retry.attempts, this.#maxAttempts - 1);
    await this.flush();
  }

  /** Room for a counter? A new one takes a key (or is dropped and counted) and wakes the flush timer. */
  #admit(isNew: boolean): boolean {
    if (!isNew) return true;
    if (this.#keys >= this.#maxKeys) {
      this.#stats.dropped++;
      return false;
    }
    this.#keys++;
    // The flush timer runs only while there is something to send: an idle client keeps no timer.
    if (this.#timer === undefined && !this.#closed) this.#schedule(this.#flushIntervalMs);
    return true;
  }

  #schedule(ms: number): void {
    const { clock, random } = this.#options;
    const flushIntervalMs = this.#flushIntervalMs;
    this.#timer = clock.setTimeout(() => {
      void this.flush().then(() => {
        this.#timer = undefined;
        const retry = this.#retry;
        if (this.#closed || (this.#keys === 0 && !retry)) return;
        this.#schedule(
          retry
            ? Math.max(flushIntervalMs, backoffDelay(retry.attempts, random, { baseMs: flushIntervalMs, maxMs: MAX_RETRY_DELAY_MS }))
            : this.#carried
              ? Math.min(CARRY_DELAY_MS, flushIntervalMs)
              : flushIntervalMs,
        );
      });
    }, ms);
    // A metrics timer must never keep a Node process alive.
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }

  /**
   * One upload's counts: the same counter named once (a retried batch merges with new counts), and
   * none over MAX_UPLOAD_COUNT — the excess goes back to be counted into the next upload.
   */
  #bounded(exposureList: Batch['exposures'], eventList: EventCount[]): Batch {
    const exposures = new Map<string, Batch['exposures'][number]>();
    for (const e of exposureList) {
      const id = `${e.flag}\0${e.variation}`;
      const seen = exposures.get(id);
      if (seen) seen.count += e.count;
      else exposures.set(id, { ...e });
    }
    const events = new Map<string, EventCount>();
    for (const e of eventList) {
      const id = `${e.name}\0${e.flag}\0${e.variation}`;
      const seen = events.get(id);
      if (!seen) {
        events.set(id, { ...e, buckets: e.buckets && { ...e.buckets } });
        continue;
      }
      seen.count += e.count;
      seen.sum += e.sum;
      for (const [bucket, n] of Object.entries(e.buckets ?? {})) (seen.buckets ??= {})[Number(bucket)] = (seen.buckets[Number(bucket)] ?? 0) + n;
    }
    this.#carried = false;
    for (const e of exposures.values()) {
      if (e.count <= MAX_UPLOAD_COUNT) continue;
      const rest = e.count - MAX_UPLOAD_COUNT;
      e.count = MAX_UPLOAD_COUNT;
      const byVariation = this.#exposures.get(e.flag) ?? new Map<string, number>();
      const count = byVariation.get(e.variation);
      if (this.#admit(count === undefined)) this.#exposures.set(e.flag, byVariation.set(e.variation, (count ?? 0) + rest));
      else this.#stats.dropped += rest - 1;
      this.#carried = true;
    }
    for (const e of events.values()) {
      if (e.count <= MAX_UPLOAD_COUNT) continue;
      // Whole histogram buckets go out until the upload holds MAX_UPLOAD_COUNT values; the rest, and
      // the same share of the sum, wait for the next upload.
      const sent: Record<number, number> = {};
      const kept: Record<number, number> = {};
      let room = MAX_UPLOAD_COUNT;
      for (const [bucket, n] of Object.entries(e.buckets ?? {})) {
        const take = Math.min(n, room);
        room -= take;
        if (take > 0) sent[Number(bucket)] = take;
        if (n > take) kept[Number(bucket)] = n - take;
      }
      const restCount = e.count - MAX_UPLOAD_COUNT;
      const restSum = (e.sum * restCount) / e.count;
      e.count = MAX_UPLOAD_COUNT;
      e.sum -= restSum;
      if (e.buckets) e.buckets = sent;
      const id = `${e.name}\0${e.flag}\0${e.variation}`;
      const counter = this.#events.get(id) ?? { name: e.name, flag: e.flag, variation: e.variation, count: 0, sum: 0 };
      if (!this.#admit(counter.count === 0)) {
        this.#stats.dropped += restCount - 1;
        continue;
      }
      this.#events.set(id, counter);
      counter.count += restCount;
      counter.sum += restSum;
      for (const [bucket, n] of Object.entries(kept)) (counter.buckets ??= {})[Number(bucket)] = (counter.buckets[Number(bucket)] ?? 0) + n;
      this.#carried = true;
    }
    return { exposures: [...exposures.values()], events: [...events.values()] };
  }

  async #upload(): Promise<void> {
    const exposures = [...this.#exposures].flatMap(([flag, byVariation]) => [...byVariation].map(([variation, count]) => ({ flag, variation, count })));
    const events = [...this.#events.values()];
    this.#exposures = new Map();
    this.#events = new Map();
    this.#keys = 0;
    // One batch in flight at a time: a batch waiting for a retry merges with the new counts.
    const retry = this.#retry;
    this.#retry = undefined;
    const batch = this.#bounded([...(retry?.batch.exposures ?? []), ...exposures], [...(retry?.batch.events ?? []), ...events]);
    if (batch.exposures.length + batch.events.length === 0) return;
    const attempts = (retry?.attempts ?? 0) + 1;
    const { baseUrl, sdkKey, fetch, clock } = this.#options;
    let status = 0;
    try {
      const controller = new AbortController();
      const request = fetch(`${baseUrl}/api/sdk/metrics`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${sdkKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(batch),
        signal: controller.signal,
      });
      const response = await withTimeout(clock, this.#requestTimeoutMs, controller, 'metrics', request);
      status = response.status;
    } catch {
      // no answer: retried below like a 5xx
    }
    if (status >= 200 && status < 300) {
      this.#stats.flushed++;
      // Other 4xx (bad key, bad body) will not get better by retrying.
    } else if ((status >= 400 && status < 500 && status !== 429) || attempts >= this.#maxAttempts) {
      const dropped = [...batch.exposures, ...batch.events].reduce((sum, c) => sum + c.count, 0);
      this.#stats.failedBatches++;
      this.#stats.dropped += dropped;
      this.#options.logger.warn(`dropped ${dropped} metric counts after ${attempts} upload attempts (${status ? `HTTP ${status}` : 'no answer'})`);
    } else {
      this.#retry = { batch, attempts };
    }
  }
}

/**
 * Turn on guarded-rollout metrics for a client: exposures of guarded flags and `client.track`
 * events are counted and uploaded. On by default in `@switchyard/sdk/node` and the OpenFeature
 * provider; a browser or edge app opts in.
 * @example createClient({ url, sdkKey, metrics: guardMetrics })
 */
export const guardMetrics = (options: MetricsOptions): GuardMetrics => new MetricsRecorder(options);
