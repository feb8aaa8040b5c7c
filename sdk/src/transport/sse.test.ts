import { describe, expect, it } from 'vitest';
import { createSseParser, type ServerSentEvent } from './sse.js';

function parseChunks(chunks: string[]): { events: ServerSentEvent[]; comments: string[]; retries: number[] } {
  const events: ServerSentEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = createSseParser({
    onEvent: (e) => events.push(e),
    onComment: (c) => comments.push(c),
    onRetry: (ms) => retries.push(ms),
  });
  for (const chunk of chunks) parser.feed(chunk);
  return { events, comments, retries };
}

const STREAM =
  '\uFEFF: heartbeat\r\n' +
  'event: snapshot\r\nid: 7\r\ndata: {"version":7,\r\ndata:"x":"é ✓"}\r\n\r\n' +
  'event:patch\nid:8\ndata:{"version":8}\n\n' +
  'data\n\n' +
  'retry: 2500\nid: a\0b\nevent: patch\ndata: one\rdata: two\r\r' +
  'event: ignored-without-data\n\n' +
  'data: trailing event is never dispatched';

const EXPECTED: ServerSentEvent[] = [
  { event: 'snapshot', id: '7', data: '{"version":7,\n"x":"é ✓"}' },
  { event: 'patch', id: '8', data: '{"version":8}' },
  { event: 'message', id: '8', data: '' },
  { event: 'patch', id: '8', data: 'one\ntwo' },
];

describe('createSseParser', () => {
  it('parses a whole stream', () => {
    const { events, comments, retries } = parseChunks([STREAM]);
    expect(events).toEqual(EXPECTED);
    expect(comments).toEqual(['heartbeat']);
    expect(retries).toEqual([2500]);
  });

  it('gives the same events however the stream is split in two', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      expect(parseChunks([STREAM.slice(0, i), STREAM.slice(i)]).events, `split at ${i}`).toEqual(EXPECTED);
    }
  });

  it('gives the same events fed one character at a time', () => {
    expect(parseChunks([...STREAM]).events).toEqual(EXPECTED);
  });

  it('dispatches a CR-terminated event without waiting for the next chunk', () => {
    expect(parseChunks(['data: x\r\r']).events).toEqual([{ event: 'message', id: '', data: 'x' }]);
  });

  it('forgets partial input on reset', () => {
    const events: ServerSentEvent[] = [];
    const parser = createSseParser({ onEvent: (e) => events.push(e) });
    parser.feed('event: patch\ndata: half');
    parser.reset();
    parser.feed('data: whole\n\n');
    expect(events).toEqual([{ event: 'message', id: '', data: 'whole' }]);
  });
});
