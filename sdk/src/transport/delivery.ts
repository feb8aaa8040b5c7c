import { backoffDelay, DEFAULT_BACKOFF } from '../backoff.js';
import { SwitchyardError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { createSseParser } from './sse.js';

/** What the delivery loop reports to the client. */
export interface DeliveryHooks {
  /** Version of the rules held: sent as `Last-Event-ID` so the server can resume. */
  version(): number | undefined;
  /**
   * Apply a parsed snapshot or patch; throws when it is malformed or does not compile. `opening`:
   * the snapshot that opens a stream connection, applied whatever its version (see RuleStore).
   */
  apply(update: unknown, snapshot: boolean, opening: boolean): void;
  /** A failed request or rejected update. `UNAUTHORIZED` means delivery has stopped. */
  error(error: SwitchyardError): void;
  /** With a reason: no channel delivers updates any more. Without: one does again. */
  stale(reason?: string): void;
}

/**
 * Keeps the rules fresh: the stream first (`GET /api/sdk/stream`), reconnecting with capped, fully
 * jittered backoff; after `streamFailuresBeforePolling` consecutive failures it also polls
 * (`GET /api/sdk/rules` with ETag) until the stream delivers bytes again. A stream up for
 * `healthyStreamMs` resets the backoff; a `Retry-After` (in seconds) lengthens a wait. Silence (no
 * bytes at all, including while connecting) for `heartbeatTimeoutMs` aborts a connection: a proxy
 * that buffers or swallows the stream looks exactly like that. 401/403 stop everything: a bad key
 * will not get better by retrying.
 *
 * `stale` is reported when no channel works (the stream is down and polling failed), and cleared
 * when either works again. Returns `close()`: it aborts every request and clears every timer.
 */
export function startDelivery(options: ResolvedOptions, hooks: DeliveryHooks): () => void {
  const { clock } = options;
  let closed = false;
  let failures = 0;
  let stale = false;
  let stream: AbortController | undefined;
  /** When the current stream connection first delivered bytes (undefined: it has not). */
  let liveSince: number | undefined;
  let watchdog: unknown;
  let reconnectTimer: unknown;
  let poller: AbortController | undefined;
  let pollOk = false;
  let pollTimer: unknown;
  let etag: string | undefined;

  const setStale = (reason?: string): void => {
    if (stale === (reason === undefined)) {
      stale = !stale;
      hooks.stale(reason);
    }
  };

  /** GET an SDK endpoint; anything but 200 or 304 throws a SwitchyardError. */
  async function get(path: 'stream' | 'rules', headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    headers.Authorization = `Bearer ${options.sdkKey}`;
    headers.Accept = path === 'rules' ? 'application/json' : 'text/event-stream';
    const response = await options.fetch(`${options.baseUrl}/api/sdk/${path}`, { method: 'GET', headers, signal });
    const { status } = response;
    if (status === 200 || status === 304) return response;
    void response.body?.cancel().catch(() => {}); // free the connection: nobody will read this body
    const unauthorized = status === 401 || status === 403;
    const error = new SwitchyardError(unauthorized ? 'UNAUTHORIZED' : 'HTTP', `${path}: ${unauthorized ? 'SDK key rejected, ' : ''}HTTP ${status}`, status);
    const retryAfter = Number(response.headers.get('retry-after'));
    if (retryAfter > 0) error.retryAfterMs = retryAfter * 1000;
    throw error;
  }

  const asError = (path: string, caught: unknown): SwitchyardError =>
    caught instanceof SwitchyardError ? caught : new SwitchyardError('NETWORK', `${path}: ${String(caught)}`, undefined, { cause: caught });

  /** Parse and apply an update; any failure throws an INVALID_DATA error. */
  function apply(json: string, snapshot: boolean, opening: boolean, what: string): void {
    try {
      hooks.apply(JSON.parse(json), snapshot, opening);
    } catch (cause) {
      throw new SwitchyardError('INVALID_DATA', `${what} could not be applied`, undefined, { cause });
    }
  }

  /** Report a failure; true when it ends delivery (a rejected key, or the client closed meanwhile). */
  function failed(error: SwitchyardError): boolean {
    if (error.code === 'UNAUTHORIZED') {
      close();
      setStale(error.message);
    }
    hooks.error(error);
    return closed;
  }

  async function connect(): Promise<void> {
    const controller = (stream = new AbortController());
    let timedOut = false;
    let opening = true;
    const arm = (): void => {
      clock.clearTimeout(watchdog);
      watchdog = clock.setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, options.heartbeatTimeoutMs);
    };
    // An event that cannot be applied throws out of the read loop and drops the connection (rather
    // than being skipped), so the next connection resumes from the last version really applied and
    // no change is silently lost. Other event types are ignored: forward compatible.
    const feed = createSseParser(({ event, data, id }) => {
      if (event === 'snapshot' || event === 'patch') {
        apply(data, event === 'snapshot', opening, `stream: ${event} ${id}`);
        opening = false;
      }
    });
    let error: SwitchyardError;
    try {
      arm();
      const version = hooks.version();
      const reader = (await get('stream', version === undefined ? {} : { 'Last-Event-ID': `${version}` }, controller.signal)).body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) throw new SwitchyardError('NETWORK', 'stream: closed by the server');
        arm();
        if (liveSince === undefined) {
          liveSince = clock.now();
          stopPolling();
          setStale();
        }
        feed(decoder.decode(value, { stream: true }));
      }
    } catch (caught) {
      error = timedOut ? new SwitchyardError('TIMEOUT', `stream: silent for ${options.heartbeatTimeoutMs} ms`) : asError('stream', caught);
    }
    clock.clearTimeout(watchdog);
    controller.abort(); // release the socket however we got here
    if (closed) return;
    failures = liveSince !== undefined && clock.now() - liveSince >= options.healthyStreamMs ? 1 : failures + 1;
    liveSince = undefined;
    if (failed(error)) return;
    if (failures >= options.streamFailuresBeforePolling && !poller) void poll();
    else if (poller && !pollOk) setStale(error.message);
    const backoff = backoffDelay(failures - 1, options.random, { baseMs: DEFAULT_BACKOFF.baseMs, maxMs: options.maxBackoffMs });
    reconnectTimer = clock.setTimeout(connect, Math.max(backoff, error.retryAfterMs ?? 0));
  }

  function stopPolling(): void {
    poller?.abort();
    poller = undefined;
    pollOk = false;
    clock.clearTimeout(pollTimer);
  }

  async function poll(): Promise<void> {
    const controller = (poller = new AbortController());
    let error: SwitchyardError | undefined;
    try {
      const response = await get('rules', etag === undefined ? {} : { 'If-None-Match': etag }, controller.signal);
      if (response.status === 200) {
        apply(await response.text(), true, false, 'rules: the response');
        etag = response.headers.get('etag') ?? undefined;
      }
    } catch (caught) {
      error = asError('rules', caught);
    }
    if (poller !== controller) return; // stopped meanwhile
    pollOk = !error;
    if (!error) setStale();
    else if (failed(error)) return;
    else if (liveSince === undefined) setStale(error.message);
    if (poller === controller) pollTimer = clock.setTimeout(poll, Math.max(options.pollIntervalMs, error?.retryAfterMs ?? 0));
  }

  function close(): void {
    closed = true;
    stream?.abort();
    stopPolling();
    clock.clearTimeout(reconnectTimer);
    clock.clearTimeout(watchdog);
  }

  void (options.streaming ? connect() : poll());
  return close;
}
