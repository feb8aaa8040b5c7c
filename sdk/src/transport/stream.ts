import { SwitchyardError } from '../errors.js';
import type { Clock, FetchLike } from '../options.js';
import { authHeaders, httpFailure, networkFailure, type RequestFailure } from './http.js';
import { createSseParser, type ServerSentEvent } from './sse.js';

/** How a stream connection ended. */
export type StreamEnd =
  | { readonly kind: 'ended' } // the server closed it
  | { readonly kind: 'timeout' } // nothing received for heartbeatTimeoutMs
  | { readonly kind: 'aborted' } // the client closed it
  | RequestFailure;

export interface StreamRequest {
  fetch: FetchLike;
  baseUrl: string;
  sdkKey: string;
  /** Version of the rules the client holds; sent as `Last-Event-ID` so the server can resume. */
  lastEventId: number | undefined;
  signal: AbortSignal;
  clock: Clock;
  heartbeatTimeoutMs: number;
}

export interface StreamHandlers {
  /** Bytes arrived (an event, a heartbeat comment, anything): the stream is alive. */
  onActivity(): void;
  /** Handle one event; returning an error ends the connection as failed (the data can't be trusted). */
  onEvent(event: ServerSentEvent): SwitchyardError | undefined;
}

/**
 * Hold one `GET {url}/api/sdk/stream` connection until it ends, delivering events as they arrive.
 * Never throws. Silence (no bytes at all, including while connecting) for `heartbeatTimeoutMs`
 * aborts the connection: a proxy that buffers or swallows the stream looks exactly like that.
 */
export async function runStream(request: StreamRequest, handlers: StreamHandlers): Promise<StreamEnd> {
  const { clock } = request;
  const connection = new AbortController();
  let timedOut = false;
  let timer: unknown;
  const arm = (): void => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    if (connection.signal.aborted) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      timedOut = true;
      connection.abort();
    }, request.heartbeatTimeoutMs);
  };
  const forward = (): void => {
    // Release the watchdog synchronously: after client.close() returns, no timer may remain.
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    connection.abort();
  };
  request.signal.addEventListener('abort', forward);
  const ended = (fallback: StreamEnd): StreamEnd => {
    if (request.signal.aborted) return { kind: 'aborted' };
    if (timedOut) return { kind: 'timeout' };
    return fallback;
  };

  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const cancelReader = (): void => void reader?.cancel().catch(() => {});
  connection.signal.addEventListener('abort', cancelReader);
  try {
    if (request.signal.aborted) return { kind: 'aborted' };
    arm();
    const headers = authHeaders(request.sdkKey, 'text/event-stream');
    headers['Cache-Control'] = 'no-cache';
    if (request.lastEventId !== undefined) headers['Last-Event-ID'] = String(request.lastEventId);
    let response: Response;
    try {
      response = await request.fetch(`${request.baseUrl}/api/sdk/stream`, { method: 'GET', headers, signal: connection.signal });
    } catch (error) {
      return ended(networkFailure('stream', error));
    }
    if (response.status !== 200) return ended(httpFailure(response, 'stream', clock.now()));
    if (response.body === null) {
      return ended({ kind: 'failed', error: new SwitchyardError('HTTP', 'stream: the response has no body', 200) });
    }
    reader = response.body.getReader();
    if (connection.signal.aborted) cancelReader();
    const decoder = new TextDecoder();
    let rejected: SwitchyardError | undefined;
    const parser = createSseParser({
      onEvent: (event) => {
        if (rejected === undefined) rejected = handlers.onEvent(event);
      },
    });
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        return ended(networkFailure('stream', error));
      }
      if (chunk.done) return ended({ kind: 'ended' });
      if (chunk.value.byteLength === 0) continue;
      arm();
      handlers.onActivity();
      parser.feed(decoder.decode(chunk.value, { stream: true }));
      if (rejected !== undefined) return ended({ kind: 'failed', error: rejected });
      if (connection.signal.aborted) return ended({ kind: 'aborted' });
    }
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
    request.signal.removeEventListener('abort', forward);
    connection.signal.removeEventListener('abort', cancelReader);
    connection.abort(); // release the socket however we got here
  }
}
