/**
 * A Server-Sent Events parser following the WHATWG "event stream interpretation" rules: lines end
 * in CRLF, LF or CR (a CR may end one chunk and its LF start the next); a leading BOM is skipped;
 * `:` starts a comment; one space after the colon is dropped; `data` lines join with "\n"; an event
 * is dispatched on a blank line, never at end of stream; an `id` containing NUL is ignored.
 *
 * Written here rather than depending on a package: it is ~80 lines, the SDK then has no runtime
 * dependency at all, and it is tested against chunk splits at every byte offset.
 */

export interface ServerSentEvent {
  /** `message` when the event names no type. */
  event: string;
  data: string;
  /** The last event ID seen on this stream (it carries over to later events, per the spec). */
  id: string;
}

export interface SseHandlers {
  onEvent(event: ServerSentEvent): void;
  onComment?(text: string): void;
  onRetry?(ms: number): void;
}

export interface SseParser {
  /** Feed decoded text; events are dispatched synchronously as they complete. */
  feed(chunk: string): void;
  /** Forget any partial line or event (after a reconnect). */
  reset(): void;
}

export function createSseParser(handlers: SseHandlers): SseParser {
  let buffer = '';
  let firstChunk = true;
  let eventType = '';
  let data: string[] = [];
  let lastId = '';
  let scanned = 0;
  let skipLeadingLf = false;

  function dispatch(): void {
    const type = eventType === '' ? 'message' : eventType;
    eventType = '';
    if (data.length === 0) return;
    const payload = data.join('\n');
    data = [];
    handlers.onEvent({ event: type, data: payload, id: lastId });
  }

  function line(text: string): void {
    if (text === '') return dispatch();
    if (text.charCodeAt(0) === 0x3a /* : */) {
      handlers.onComment?.(text.slice(text.charCodeAt(1) === 0x20 ? 2 : 1));
      return;
    }
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (field) {
      case 'event':
        eventType = value;
        break;
      case 'data':
        data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) handlers.onRetry?.(Number(value));
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  return {
    feed(chunk) {
      if (firstChunk && chunk.length > 0) {
        firstChunk = false;
        if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      }
      // The previous chunk ended in CR: an LF starting this one belongs to that CRLF.
      if (skipLeadingLf && chunk.length > 0) {
        skipLeadingLf = false;
        if (chunk.charCodeAt(0) === 0x0a) chunk = chunk.slice(1);
      }
      buffer += chunk;
      let start = 0;
      // Resume scanning where the last feed stopped, so a long line arriving in many chunks stays linear.
      let end = scanned;
      while (end < buffer.length) {
        const c = buffer.charCodeAt(end);
        if (c !== 0x0a && c !== 0x0d) {
          end++;
          continue;
        }
        line(buffer.slice(start, end));
        if (c === 0x0d) {
          if (end + 1 === buffer.length) skipLeadingLf = true;
          else if (buffer.charCodeAt(end + 1) === 0x0a) end++;
        }
        start = end + 1;
        end = start;
      }
      buffer = buffer.slice(start);
      scanned = buffer.length;
    },
    reset() {
      buffer = '';
      scanned = 0;
      skipLeadingLf = false;
      firstChunk = true;
      eventType = '';
      data = [];
    },
  };
}
