import { backoffDelay, DEFAULT_BACKOFF, resumeDelay } from '../backoff.js';
import { SwitchyardError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { createSseParser } from './sse.js';
import { withTimeout } from './timeout.js';

/** How long after a working stream ended, connections that get no answer are retried within a second. */
const RESTART_WINDOW_MS = 10_000;

/**
 * Keeps the rules fresh: the stream first (`GET /api/sdk/stream`), reconnecting with capped, fully
 * jittered backoff; after `streamFailuresBeforePolling` consecutive failures it also polls
 * (`GET /api/sdk/rules` with ETag) until the stream delivers bytes again. A stream that delivered
 * bytes and then ended (a server restart, a proxy closing it) is reopened after `resumeDelay` (0.5–1 s),
 * and so are connections that get no answer in the RESTART_WINDOW_MS after it; the backoff then
 * starts afresh. Streams that keep ending before `healthyStreamMs` (a flapping server) count as
 * failures instead. A `Retry-After` (in seconds) lengthens a wait. A request with no answer (no
 * response headers; for polling, no whole body) within `requestTimeoutMs` is aborted, and so is a
 * stream silent (no bytes at all, including while connecting) for `heartbeatTimeoutMs`: a proxy
 * that buffers or swallows the stream looks exactly like that. 401/403 stop everything: a bad key
 * will not get better by retrying.
 *
 * Staleness is reported (`reportStale`) when no channel works (the stream is down and polling
 * failed), and cleared when either works again. Returns `close()`: it aborts every request and
 * clears every timer. The client's callbacks are separate parameters rather than an object of hooks:
 * they minify smaller (issue 15: the core bundle's size).
 */
export function startDelivery(
  options: ResolvedOptions,
  /** Version of the rules held: sent as `Last-Event-ID` so the server can resume. */
  version: () => number | undefined,
  /**
   * Apply a parsed snapshot or patch; throws when it is malformed or does not compile. `opening`:
   * the snapshot that opens a stream connection, applied whatever its version (see RuleStore).
   */
  applyUpdate: (update: unknown, snapshot: boolean, opening: boolean) => void,
  /** A failed request or rejected update. `UNAUTHORIZED` means delivery has stopped. */
  report: (error: SwitchyardError) => void,
  /** With a reason: no channel delivers updates any more. Without: one does again. */
  reportStale: (reason?: string) => void,
): () => void {
  const { clock } = options;
  let closed = false;
  /** Consecutive failures: polling starts at `streamFailuresBeforePolling`. */
  let failures = 0;
  /** The backoff's exponent: the failures a restart does not excuse. */
  let attempts = 0;
  /** Until then, a connection that gets no answer at all is a restart still under way (see below). */
  let restartUntil = 0;
  let stale = false;
  let stream: AbortController | undefined;
  /** When the current stream connection first delivered bytes (undefined: it has not). */
  let liveSince: number | undefined;
  /** The last stream that delivered bytes ended before `healthyStreamMs`. */
  let diedYoung = false;
  let watchdog: unknown;
  let reconnectTimer: unknown;
  let poller: AbortController | undefined;
  let pollOk = false;
  let pollTimer: unknown;
  let etag: string | undefined;

  const setStale = (reason?: string): void => {
    if (stale === (reason === undefined)) {
      stale = !stale;
      reportStale(reason);
    }
  };

  /** GET an SDK endpoint, with `header` when it has a value; anything but 200 or 304 throws a SwitchyardError. */
  async function get(path: 'stream' | 'rules', header: string, value: unknown, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${options.sdkKey}`, Accept: path === 'rules' ? 'application/json' : 'text/event-stream' };
    if (value !== undefined) headers[header] = `${value}`;
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
      applyUpdate(JSON.parse(json), snapshot, opening);
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
    report(error);
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
    const feed = createSseParser((event, data, id) => {
      if (event === 'snapshot' || event === 'patch') {
        apply(data, event === 'snapshot', opening, `stream: ${event} ${id}`);
        opening = false;
      }
    });
    let error: SwitchyardError;
    let ended = false;
    try {
      arm(); // silence, even while connecting, is judged by the watchdog (a swallowed stream)…
      // …and the response headers must also come within the request timeout, whichever is shorter.
      const response = get('stream', 'Last-Event-ID', version(), controller.signal);
      const reader = (await withTimeout(clock, options.requestTimeoutMs, controller, 'stream', response)).body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          ended = true;
          throw new SwitchyardError('NETWORK', 'stream: closed by the server');
        }
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
    // A stream that delivered bytes proves the server and the path work: it ended because the
    // server restarted or a proxy closed it. So come back within a second, and keep doing so while
    // connections get no answer at all (refused, reset: the restart is under way) for up to
    // RESTART_WINDOW_MS; only then, or on an HTTP error, does the backoff grow. Waiting out a
    // backoff grown by earlier failures, and by the refused connections of the restart itself, is
    // what made a restart cost 13 s. Two young deaths in a row are a flapping server: back off.
    const now = clock.now();
    // A working stream that the server ended (every deploy does) is routine, not an error to report.
    const routine = ended && liveSince !== undefined;
    if (liveSince === undefined) {
      failures++;
      if (error.status !== undefined || now >= restartUntil) attempts++;
    } else {
      const young = now - liveSince < options.healthyStreamMs;
      if (young && diedYoung) {
        failures++;
        attempts++;
      } else {
        failures = attempts = 0;
        restartUntil = now + RESTART_WINDOW_MS;
      }
      diedYoung = young;
    }
    liveSince = undefined;
    if (!routine && failed(error)) return;
    if (failures >= options.streamFailuresBeforePolling && !poller) void poll();
    else if (poller && !pollOk) setStale(error.message);
    const backoff = attempts ? backoffDelay(attempts - 1, options.random, { ...DEFAULT_BACKOFF, maxMs: options.maxBackoffMs }) : resumeDelay(options.random);
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
      const request = get('rules', 'If-None-Match', etag, controller.signal).then(async (response) => [response, response.status === 200 ? await response.text() : ''] as const);
      const [response, body] = await withTimeout(clock, options.requestTimeoutMs, controller, 'rules', request);
      if (response.status === 200) {
        apply(body, true, false, 'rules: the response');
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
