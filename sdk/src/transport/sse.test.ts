import { describe, expect, it } from 'vitest';
import { createSseParser, type ServerSentEvent } from './sse.js';

function parseChunks(chunks: string[]): ServerSentEvent[] {
  const events: ServerSentEvent[] = [];
  const feed = createSseParser((event, data, id) => events.push({ event, data, id }));
  for (const chunk of chunks) feed(chunk);
  return events;
}

const STREAM =
  ': heartbeat\r\n' +
  'event: snapshot\r\nid: 7\r\ndata: {"version":7,\r\ndata:"x":"é ✓"}\r\n\r\n' +
  'event:patch\nid:8\ndata:{"version":8}\n\n' +
  'data\n\n' +
  'retry: 2500\nid: a\0b\nevent: patch\ndata: one\rdata: two\r\r' +
  'event: ignored-without-data\n\n' +
  'data: \uFEFFkept\n\n' +
  'data: trailing event is never dispatched';

const EXPECTED: ServerSentEvent[] = [
  { event: 'snapshot', id: '7', data: '{"version":7,\n"x":"é ✓"}' },
  { event: 'patch', id: '8', data: '{"version":8}' },
  { event: 'message', id: '8', data: '' },
  { event: 'patch', id: '8', data: 'one\ntwo' },
  { event: 'message', id: '8', data: '\uFEFFkept' },
];

describe('createSseParser', () => {
  it('parses a whole stream', () => {
    expect(parseChunks([STREAM])).toEqual(EXPECTED);
  });

  it('gives the same events however the stream is split in two or three', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      expect(parseChunks([STREAM.slice(0, i), STREAM.slice(i)]), `split at ${i}`).toEqual(EXPECTED);
      for (let j = i; j <= STREAM.length; j += 7) {
        expect(parseChunks([STREAM.slice(0, i), STREAM.slice(i, j), '', STREAM.slice(j)]), `split at ${i}, ${j}`).toEqual(EXPECTED);
      }
    }
  });

  it('gives the same events fed one character at a time', () => {
    expect(parseChunks([...STREAM])).toEqual(EXPECTED);
  });

  it('reads a stream through TextDecoder, which drops a leading BOM', () => {
    const bytes = new TextEncoder().encode(`\uFEFFdata: x\n\n`);
    const events: ServerSentEvent[] = [];
    const feed = createSseParser((event, data, id) => events.push({ event, data, id }));
    const decoder = new TextDecoder();
    for (const byte of bytes) feed(decoder.decode(new Uint8Array([byte]), { stream: true }));
    expect(events).toEqual([{ event: 'message', id: '', data: 'x' }]);
  });

  it('dispatches a CR-terminated event without waiting for the next chunk', () => {
    expect(parseChunks(['data: x\r\r'])).toEqual([{ event: 'message', id: '', data: 'x' }]);
  });

  it('keeps a line break that follows a CR-ended chunk and a chunk without breaks', () => {
    expect(parseChunks(['data: a\r', 'data: b', '\n', '\n'])).toEqual([{ event: 'message', id: '', data: 'a\nb' }]);
  });
});
