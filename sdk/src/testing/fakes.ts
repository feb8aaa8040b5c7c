/** Test doubles for the client: a manual clock and an in-memory Switchyard server behind `fetch`. */
import type { Clock, FetchLike } from '../options.js';
import type { FlagConfig, RuleSet, Segment } from '../types.js';

/** Let promise chains and stream reads settle (no timers are involved, nothing sleeps). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface FakeTimer {
  at: number;
  seq: number;
  callback: () => void;
}

export class FakeClock implements Clock {
  private current = 1_000_000;
  private seq = 0;
  private readonly timers = new Map<number, FakeTimer>();

  now = (): number => this.current;

  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.current + Math.max(0, ms), seq: id, callback });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** Timers not yet fired nor cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Delays of the pending timers from now, soonest first. */
  delays(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.current).sort((a, b) => a - b);
  }

  /** Move time forward, firing due timers in order and letting async work settle after each. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await settle(); // work already under way may schedule timers that fall inside this window
    for (;;) {
      let next: [number, FakeTimer] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq))) next = entry;
      }
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.current = next[1].at;
      next[1].callback();
      await settle();
    }
    this.current = target;
    await settle();
  }
}

export interface FakeRequest {
  url: string;
  path: string;
  headers: Record<string, string>;
  signal: AbortSignal;
}

/** One open SSE response; write to it like the server would. */
export class FakeStream {
  closed = false;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly body: ReadableStream<Uint8Array>;

  constructor(readonly request: FakeRequest) {
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
      cancel: () => {
        this.closed = true;
      },
    });
    request.signal.addEventListener('abort', () => this.fail(new DOMException('aborted', 'AbortError')));
  }

  write(text: string): void {
    if (!this.closed) this.controller.enqueue(new TextEncoder().encode(text));
  }

  event(type: string, data: unknown, id?: number): void {
    this.write(`event: ${type}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`);
  }

  heartbeat(): void {
    this.write(': heartbeat\n\n');
  }

  /** The server ends the response. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.close();
  }

  fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.error(error);
  }
}

export type Route = (request: FakeRequest) => Response | Promise<Response> | 'hang';

/**
 * An in-memory server speaking the delivery protocol: `/api/sdk/rules` (ETag, 304) and
 * `/api/sdk/stream` (snapshot on connect unless Last-Event-ID is current). Override `rules` or
 * `stream` to misbehave.
 */
export class FakeServer {
  ruleSet: RuleSet;
  readonly requests: FakeRequest[] = [];
  readonly streams: FakeStream[] = [];
  /** Requests that never answered (`'hang'`) and have not been aborted. */
  hanging = 0;

  rules: Route = (request) => {
    const etag = `"v${this.ruleSet.version}"`;
    if (request.headers['If-None-Match'] === etag) return new Response(null, { status: 304, headers: { ETag: etag } });
    return new Response(JSON.stringify(this.ruleSet), { status: 200, headers: { ETag: etag, 'Content-Type': 'application/json' } });
  };

  stream: Route = (request) => {
    const stream = this.openStream(request);
    if (request.headers['Last-Event-ID'] !== String(this.ruleSet.version)) stream.event('snapshot', this.ruleSet, this.ruleSet.version);
    return new Response(stream.body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  };

  constructor(ruleSet: RuleSet) {
    this.ruleSet = ruleSet;
  }

  openStream(request: FakeRequest): FakeStream {
    const stream = new FakeStream(request);
    this.streams.push(stream);
    return stream;
  }

  get lastStream(): FakeStream | undefined {
    return this.streams[this.streams.length - 1];
  }

  get openStreams(): number {
    return this.streams.filter((s) => !s.closed).length;
  }

  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  fetch: FetchLike = async (url, init) => {
    const request: FakeRequest = { url, path: new URL(url).pathname, headers: init.headers, signal: init.signal };
    this.requests.push(request);
    if (init.signal.aborted) throw new DOMException('aborted', 'AbortError');
    const route = request.path === '/api/sdk/stream' ? this.stream : request.path === '/api/sdk/rules' ? this.rules : () => new Response(null, { status: 404 });
    const response = await route(request);
    if (response !== 'hang') return response;
    this.hanging++;
    return new Promise<Response>((_, reject) => {
      init.signal.addEventListener('abort', () => {
        this.hanging--;
        reject(new DOMException('aborted', 'AbortError'));
      });
    });
  };
}

export function booleanFlag(key: string, on: boolean, version = 1, extra: Partial<FlagConfig> = {}): FlagConfig {
  return {
    key,
    type: 'boolean',
    variations: [
      { key: 'off', value: false },
      { key: 'on', value: true },
    ],
    on,
    offVariation: 'off',
    targets: [],
    rules: [],
    defaultServe: { variation: 'on' },
    salt: key,
    bucketBy: 'userId',
    version,
    ...extra,
  };
}

export function segment(key: string, included: string[], version = 1): Segment {
  return { key, included, excluded: [], rules: [], version };
}

export function ruleSet(version: number, flags: FlagConfig[], segments: Segment[] = []): RuleSet {
  return {
    environment: 'production',
    version,
    flags: Object.fromEntries(flags.map((f) => [f.key, f])),
    segments: Object.fromEntries(segments.map((s) => [s.key, s])),
  };
}
