import { backoffDelay } from './backoff.js';
import type { Clock, FetchLike, Logger } from './options.js';

/**
 * Exposure and event counts for flags under a guarded rollout, aggregated in memory and uploaded
 * to `POST /api/sdk/metrics` every `flushIntervalMs`. Memory is bounded (`maxKeys` distinct
 * counters); a batch the server refuses or never answers is retried with backoff, then dropped and
 * counted (`stats().dropped`). Nothing here runs for flags without a guarded rollout.
 */

/** Quarter-octave latency buckets: bucket b holds values in (2^((b−1)/4), 2^(b/4)] (server: releases/latency.ts). */
export function valueBucket(value: number): number {
  return value <= 1 ? 0 : Math.ceil(4 * Math.log2(value));
}

export interface MetricsOptions {
  baseUrl: string;
  sdkKey: string;
  fetch: FetchLike;
  clock: Clock;
  random: () => number;
  logger: Logger;
  flushIntervalMs: number;
  /** Distinct (flag, variation) and (event, flag, variation) counters kept between flushes. */
  maxKeys: number;
  /** Upload attempts of one batch before it is dropped. */
  maxAttempts: number;
}

export interface MetricsStats {
  /** Counts dropped: over `maxKeys`, or in batches the server never accepted. */
  dropped: number;
  /** Batches uploaded successfully. */
  flushed: number;
  /** Batches given up on. */
  failedBatches: number;
}

interface EventCounter {
  name: string;
  flag: string;
  variation: string;
  count: number;
  sum: number;
  buckets: Record<string, number> | undefined;
}

interface Batch {
  exposures: { flag: string; variation: string; count: number }[];
  events: { name: string; flag: string; variation: string; count: number; sum: number; buckets?: Record<string, number> }[];
}

export class MetricsRecorder {
  /** flag → variation → count: two map lookups and a set per exposure, no allocation once warm. */
  #exposures = new Map<string, Map<string, number>>();
  #events = new Map<string, EventCounter>();
  #keys = 0;
  #timer: unknown;
  #pending: { batch: Batch; attempts: number } | undefined;
  #inflight: Promise<void> | undefined;
  #closed = false;
  readonly #stats: MetricsStats = { dropped: 0, flushed: 0, failedBatches: 0 };

  constructor(private readonly options: MetricsOptions) {}

  stats(): MetricsStats {
    return { ...this.#stats };
  }

  exposure(flag: string, variation: string): void {
    let byVariation = this.#exposures.get(flag);
    if (byVariation === undefined) {
      if (this.#keys >= this.options.maxKeys) return void this.#stats.dropped++;
      byVariation = new Map();
      this.#exposures.set(flag, byVariation);
      this.#wake();
    }
    const count = byVariation.get(variation);
    if (count === undefined) {
      if (this.#keys >= this.options.maxKeys) return void this.#stats.dropped++;
      this.#keys++;
      this.#wake();
      byVariation.set(variation, 1);
    } else byVariation.set(variation, count + 1);
  }

  event(name: string, flag: string, variation: string, value: number | undefined): void {
    const id = `${name}\u0000${flag}\u0000${variation}`;
    let counter = this.#events.get(id);
    if (counter === undefined) {
      if (this.#keys >= this.options.maxKeys) return void this.#stats.dropped++;
      this.#keys++;
      counter = { name, flag, variation, count: 0, sum: 0, buckets: undefined };
      this.#events.set(id, counter);
      this.#wake();
    }
    counter.count++;
    if (value !== undefined && Number.isFinite(value)) {
      counter.sum += value;
      const bucket = String(valueBucket(value));
      counter.buckets ??= {};
      counter.buckets[bucket] = (counter.buckets[bucket] ?? 0) + 1;
    }
  }

  /** Upload what has been counted (and a batch still waiting for a retry). */
  flush(): Promise<void> {
    this.#inflight ??= this.#upload().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** Stop the timer and make one last upload attempt. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inflight;
    if (this.#pending) this.#pending.attempts = Math.max(this.#pending.attempts, this.options.maxAttempts - 1);
    await this.flush();
  }

  /** The flush timer runs only while there is something to send: an idle client keeps no timer. */
  #wake(): void {
    if (this.#timer === undefined && !this.#closed) this.#schedule(this.options.flushIntervalMs);
  }

  #schedule(ms: number): void {
    this.#timer = this.options.clock.setTimeout(() => {
      void this.flush().then(() => {
        this.#timer = undefined;
        if (!this.#closed && (this.#keys > 0 || this.#pending !== undefined)) this.#schedule(this.#nextDelay());
      });
    }, ms);
    // A metrics timer must never keep a Node process alive.
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }

  #nextDelay(): number {
    const attempts = this.#pending?.attempts ?? 0;
    if (attempts === 0) return this.options.flushIntervalMs;
    return Math.max(this.options.flushIntervalMs, backoffDelay(attempts, this.options.random, { baseMs: this.options.flushIntervalMs, maxMs: 60_000 }));
  }

  #take(): Batch | undefined {
    if (this.#keys === 0) return undefined;
    const batch: Batch = { exposures: [], events: [] };
    for (const [flag, byVariation] of this.#exposures) for (const [variation, count] of byVariation) batch.exposures.push({ flag, variation, count });
    for (const c of this.#events.values()) batch.events.push({ name: c.name, flag: c.flag, variation: c.variation, count: c.count, sum: c.sum, ...(c.buckets ? { buckets: c.buckets } : {}) });
    this.#exposures = new Map();
    this.#events = new Map();
    this.#keys = 0;
    return batch;
  }

  async #upload(): Promise<void> {
    const fresh = this.#take();
    // One batch in flight at a time: a waiting batch merges with the new counts into one upload.
    const pending = this.#pending;
    const batch = pending ? merge(pending.batch, fresh) : fresh;
    if (batch === undefined) return;
    const attempts = (pending?.attempts ?? 0) + 1;
    try {
      const response = await this.options.fetch(`${this.options.baseUrl}/api/sdk/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.sdkKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.ok || (response.status >= 400 && response.status < 500 && response.status !== 429)) {
        // 4xx (bad key, bad body) will not get better by retrying: count it as dropped.
        if (!response.ok) this.#drop(batch, `the server refused the metrics (${response.status})`);
        else this.#stats.flushed++;
        this.#pending = undefined;
        return;
      }
      throw new Error(`HTTP ${response.status}`);
    } catch (error) {
      if (attempts >= this.options.maxAttempts) {
        this.#drop(batch, `could not upload metrics after ${attempts} attempts`, error);
        this.#pending = undefined;
      } else this.#pending = { batch, attempts };
    }
  }

  #drop(batch: Batch, message: string, error?: unknown): void {
    this.#stats.failedBatches++;
    this.#stats.dropped += batch.exposures.reduce((s, e) => s + e.count, 0) + batch.events.reduce((s, e) => s + e.count, 0);
    this.options.logger.warn(message, error);
  }
}

function merge(a: Batch, b: Batch | undefined): Batch {
  if (!b) return a;
  return { exposures: [...a.exposures, ...b.exposures], events: [...a.events, ...b.events] };
}
