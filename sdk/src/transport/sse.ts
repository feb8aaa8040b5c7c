/**
 * A Server-Sent Events parser following the WHATWG "event stream interpretation" rules: lines end
 * in CRLF, LF or CR (a CR may end one chunk and its LF start the next); a leading BOM is already
 * gone (it is fed the output of a TextDecoder, which drops it);
 * `:` starts a comment (liveness is judged on bytes, so comments need no handler); one space after
 * the colon is dropped; `data` lines join with "\n"; an event is dispatched on a blank line, never
 * at end of stream; an `id` containing NUL is ignored; `retry` is ignored (the client's own
 * backoff decides).
 *
 * Written here rather than depending on a package: it is ~40 lines, the SDK then has no runtime
 * dependency at all, and it is tested against chunk splits at every byte offset.
 */

export interface ServerSentEvent {
  /** `message` when the event names no type. */
  event: string;
  data: string;
  /** The last event ID seen on this stream (it carries over to later events, per the spec). */
  id: string;
}

/** A line: `field`, or `field:value` with one space after the colon dropped (linear: no backtracking). */
const FIELD = /^([^:]*)(?:: ?([^]*))?$/;

/**
 * Returns `feed(text)`: events are dispatched synchronously as they complete, to `onEvent` with the
 * fields of a ServerSentEvent as arguments (they minify smaller than an object's keys).
 */
export function createSseParser(onEvent: (event: ServerSentEvent['event'], data: string, id: string) => void): (chunk: string) => void {
  let buffer = '';
  let skipLeadingLf = false;
  let type = '';
  let data: string | undefined;
  let id = '';
  return (chunk) => {
    // The previous chunk ended in CR: an LF starting this one belongs to that CRLF.
    const skip = skipLeadingLf && chunk[0] === '\n';
    if (chunk !== '') skipLeadingLf = chunk.endsWith('\r');
    buffer += skip ? chunk.slice(1) : chunk;
    if (!/[\r\n]/.test(chunk)) return; // a long event arriving in pieces is split once, when complete
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop()!;
    for (const line of lines) {
      const [, field, value = ''] = FIELD.exec(line)!;
      if (line === '') {
        if (data !== undefined) onEvent(type || 'message', data, id);
        type = '';
        data = undefined;
      } else if (field === 'event') type = value;
      else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
      else if (field === 'id' && !value.includes('\0')) id = value;
      // Anything else is ignored: a comment (`:…`, whose field is empty), `retry`, unknown fields.
    }
  };
}
