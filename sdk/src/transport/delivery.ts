import { backoffDelay } from '../backoff.js';
import { SwitchyardError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { isRuleSet, isRuleSetPatch, type RuleSetPatch } from '../store.js';
import type { RuleSet } from '../types.js';
import { fetchRules } from './poll.js';
import type { ServerSentEvent } from './sse.js';
import { runStream, type StreamEnd } from './stream.js';

/** What the delivery loop reports to the client. `onSnapshot`/`onPatch` throw on malformed rules. */
export interface DeliverySink {
  version(): number | undefined;
  /** `authoritative`: the snapshot opening a stream connection, applied whatever its version (see RuleStore). */
  onSnapshot(ruleSet: RuleSet, authoritative?: boolean): void;
  onPatch(patch: RuleSetPatch): void;
  onError(error: SwitchyardError): void;
  onStale(reason: string): void;
  onRecovered(): void;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(end: Exclude<StreamEnd, { kind: 'aborted' }>, heartbeatTimeoutMs: number): SwitchyardError {
  if (end.kind === 'failed') return end.error;
  if (end.kind === 'timeout') return new SwitchyardError('TIMEOUT', `stream: nothing received for ${heartbeatTimeoutMs} ms`);
  return new SwitchyardError('NETWORK', 'stream: the server closed the connection');
}

/**
 * Keeps the rules fresh: the stream first, reconnecting with capped, fully jittered backoff; after
 * `streamFailuresBeforePolling` consecutive failures it also polls (with ETag) until the stream
 * delivers bytes again. A stream up for `healthyStreamMs` resets the backoff. 401/403 stop
 * everything: a bad key will not get better by retrying.
 *
 * `stale` is reported when no channel works: the stream is down and polling failed. `recovered`
 * when either works again.
 */
export class Delivery {
  #closed = false;
  #failures = 0;
  #streamController: AbortController | undefined;
  #streamLive = false;
  #reconnectTimer: unknown;
  #healthyTimer: unknown;
  #polling = false;
  #pollOk = false;
  #pollController: AbortController | undefined;
  #pollTimer: unknown;
  #etag: string | undefined;
  #stale = false;
  /** No snapshot or patch has arrived on the current connection yet. */
  #opening = false;

  readonly #options: ResolvedOptions;
  readonly #sink: DeliverySink;

  constructor(options: ResolvedOptions, sink: DeliverySink) {
    this.#options = options;
    this.#sink = sink;
  }

  start(): void {
    if (this.#options.streaming) void this.#connect();
    else this.#startPolling();
  }

  /** Abort every request and clear every timer. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#streamController?.abort();
    this.#stopPolling();
    this.#reconnectTimer = this.#clear(this.#reconnectTimer);
    this.#healthyTimer = this.#clear(this.#healthyTimer);
  }

  /** Clear a timer handle if set; returns undefined to assign back. */
  #clear(timer: unknown): undefined {
    if (timer !== undefined) this.#options.clock.clearTimeout(timer);
    return undefined;
  }

  async #connect(): Promise<void> {
    this.#reconnectTimer = undefined;
    if (this.#closed) return;
    const controller = new AbortController();
    this.#streamController = controller;
    this.#opening = true;
    const options = this.#options;
    const end = await runStream(
      {
        fetch: options.fetch,
        baseUrl: options.baseUrl,
        sdkKey: options.sdkKey,
        lastEventId: this.#sink.version(),
        signal: controller.signal,
        clock: options.clock,
        heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      },
      { onActivity: () => this.#streamActive(), onEvent: (event) => this.#streamEvent(event) },
    );
    if (this.#streamController === controller) this.#streamController = undefined;
    this.#streamLive = false;
    this.#healthyTimer = this.#clear(this.#healthyTimer);
    if (this.#closed || end.kind === 'aborted') return;
    const error = describe(end, options.heartbeatTimeoutMs);
    if (error.code === 'UNAUTHORIZED') return this.#fatal(error);

    this.#failures++;
    options.logger.warn(`${error.message}; reconnecting (failure ${this.#failures})`);
    this.#sink.onError(error);
    if (this.#failures >= options.streamFailuresBeforePolling && !this.#polling) this.#startPolling();
    else if (this.#polling && !this.#pollOk) this.#markStale(error.message);
    if (this.#closed) return; // an error listener may have closed the client
    const backoff = backoffDelay(this.#failures - 1, options.random, { baseMs: options.baseBackoffMs, maxMs: options.maxBackoffMs });
    const delay = end.kind === 'failed' && end.retryAfterMs !== undefined ? Math.max(backoff, end.retryAfterMs) : backoff;
    this.#reconnectTimer = options.clock.setTimeout(() => void this.#connect(), delay);
  }

  #streamActive(): void {
    if (this.#streamLive) return;
    this.#streamLive = true;
    this.#healthyTimer = this.#options.clock.setTimeout(() => {
      this.#healthyTimer = undefined;
      this.#failures = 0;
    }, this.#options.healthyStreamMs);
    if (this.#polling) this.#stopPolling();
    this.#markRecovered();
  }

  #streamEvent(event: ServerSentEvent): SwitchyardError | undefined {
    if (event.event !== 'snapshot' && event.event !== 'patch') return undefined; // forward compatible
    const opening = this.#opening;
    this.#opening = false;
    const body = parseJson(event.data);
    const valid = event.event === 'snapshot' ? isRuleSet(body) : isRuleSetPatch(body);
    if (!valid) return new SwitchyardError('INVALID_DATA', `stream: malformed ${event.event} event (id ${event.id})`);
    try {
      if (event.event === 'snapshot') this.#sink.onSnapshot(body as RuleSet, opening);
      else this.#sink.onPatch(body as RuleSetPatch);
      return undefined;
    } catch (cause) {
      // Dropping the connection (rather than skipping the event) means the next connection resumes
      // from the last version we really applied, so no change is silently lost.
      return new SwitchyardError('INVALID_DATA', `stream: ${event.event} ${event.id} could not be applied`, undefined, { cause });
    }
  }

  #startPolling(): void {
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    this.#pollOk = false;
    void this.#poll();
  }

  #stopPolling(): void {
    this.#polling = false;
    this.#pollOk = false;
    this.#pollTimer = this.#clear(this.#pollTimer);
    this.#pollController?.abort();
    this.#pollController = undefined;
  }

  async #poll(): Promise<void> {
    this.#pollTimer = undefined;
    const controller = new AbortController();
    this.#pollController = controller;
    const options = this.#options;
    const result = await fetchRules({
      fetch: options.fetch,
      baseUrl: options.baseUrl,
      sdkKey: options.sdkKey,
      etag: this.#etag,
      signal: controller.signal,
      now: options.clock.now(),
    });
    if (this.#pollController !== controller || controller.signal.aborted || this.#closed || !this.#polling) return;
    this.#pollController = undefined;
    let error: SwitchyardError | undefined;
    if (result.kind === 'rules') {
      try {
        this.#sink.onSnapshot(result.ruleSet);
        this.#etag = result.etag;
      } catch (cause) {
        error = new SwitchyardError('INVALID_DATA', 'polling: the rule set could not be applied', 200, { cause });
      }
    } else if (result.kind === 'failed') {
      error = result.error;
    }
    if (error?.code === 'UNAUTHORIZED') return this.#fatal(error);
    if (this.#closed || !this.#polling) return;
    this.#pollOk = error === undefined;
    if (error === undefined) {
      this.#markRecovered();
    } else {
      options.logger.warn(`${error.message}; polling again in ${options.pollIntervalMs} ms`);
      this.#sink.onError(error);
      if (!this.#streamLive) this.#markStale(error.message);
    }
    if (this.#closed || !this.#polling) return;
    const retryAfter = result.kind === 'failed' ? (result.retryAfterMs ?? 0) : 0;
    this.#pollTimer = options.clock.setTimeout(() => void this.#poll(), Math.max(options.pollIntervalMs, retryAfter));
  }

  #fatal(error: SwitchyardError): void {
    this.#options.logger.error(`${error.message}; giving up until the client is recreated`);
    this.close();
    this.#sink.onError(error);
    this.#markStale(error.message);
  }

  #markStale(reason: string): void {
    if (this.#stale) return;
    this.#stale = true;
    this.#sink.onStale(reason);
  }

  #markRecovered(): void {
    if (!this.#stale) return;
    this.#stale = false;
    this.#sink.onRecovered();
  }
}
