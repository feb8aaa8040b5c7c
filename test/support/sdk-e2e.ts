import { EventEmitter } from 'node:events';
import { createServer, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { bucket, percentageToBuckets, type ClientEvents, type Listener, type SwitchyardClient } from '@switchyard/sdk';
import { api, type ServerProcess } from './server-process.js';

/**
 * Helpers for the SDK end-to-end tests: waiting for client events with a timeout (never a fixed
 * sleep), REST shortcuts, picking users inside/outside a rollout, a raw SSE reader and a small HTTP
 * proxy that can swallow the stream or cut every connection.
 */

/** How long any single expected event may take on a busy machine. Generous on purpose. */
export const WAIT_MS = 15_000;

export type Api = ReturnType<typeof api>;

/**
 * Resolves with the payload of the next `event` whose payload satisfies `predicate`; rejects after
 * `timeoutMs`. Call it BEFORE the action that causes the event, await it after.
 */
export function nextEvent<E extends keyof ClientEvents>(
  client: SwitchyardClient,
  event: E,
  predicate: (payload: ClientEvents[E]) => boolean = () => true,
  timeoutMs = WAIT_MS,
): Promise<ClientEvents[E]> {
  let unsubscribe = () => {};
  const promise = new Promise<ClientEvents[E]>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no "${event}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    const listener = (payload: ClientEvents[E]) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(payload);
    };
    unsubscribe = client.on(event, listener as Listener<ClientEvents[E]>);
  });
  promise.catch(() => {}); // a test that fails before awaiting it must not add an unhandled rejection
  return promise;
}

/** The next `change` event that names `flagKey`. */
export function nextChange(client: SwitchyardClient, flagKey: string, timeoutMs = WAIT_MS): Promise<readonly string[]> {
  return nextEvent(client, 'change', (keys) => keys.includes(flagKey), timeoutMs);
}

/**
 * Resolves once `check()` is true, re-checking whenever `emitter` emits `signal`; rejects after
 * `timeoutMs` with `what` in the message.
 */
export function until(emitter: EventEmitter, signal: string, check: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onSignal = () => {
      if (!check()) return;
      clearTimeout(timer);
      emitter.off(signal, onSignal);
      resolve();
    };
    const timer = setTimeout(() => {
      emitter.off(signal, onSignal);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`));
    }, timeoutMs);
    timer.unref();
    emitter.on(signal, onSignal);
  });
}

/** An admin API client and an SDK key for `environment` on `server`. */
export async function sdkSetup(server: ServerProcess, environment = 'production'): Promise<{ call: Api; sdkKey: string }> {
  const call = api(server.url, server.adminToken);
  const key = await call<{ key: string }>('POST', '/api/sdk-keys', { name: `e2e-${environment}-${Date.now()}`, environment });
  if (key.status !== 201) throw new Error(`creating an SDK key failed: ${key.status} ${JSON.stringify(key.body)}`);
  return { call, sdkKey: key.body.key };
}

async function ok<T>(response: Promise<{ status: number; body: T }>, what: string, expected = [200, 201]): Promise<T> {
  const { status, body } = await response;
  if (!expected.includes(status)) throw new Error(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
  return body;
}

export interface FlagResponse {
  key: string;
  version: number;
  environments: Record<string, { stage: string; salt: string }>;
}

/** Create a flag (boolean unless `body` says otherwise). */
export function createFlag(call: Api, key: string, body: Record<string, unknown> = {}): Promise<FlagResponse> {
  return ok(call<FlagResponse>('POST', '/api/flags', { key, ...body }), `create flag ${key}`);
}

/** Move a flag to a release stage in `environment`, with the flag's current version. */
export async function setStage(call: Api, key: string, stage: string, options: { environment?: string; variation?: string } = {}): Promise<FlagResponse> {
  const environment = options.environment ?? 'production';
  const flag = await ok(call<FlagResponse>('GET', `/api/flags/${key}`), `read flag ${key}`);
  const body = { stage, version: flag.version, ...(options.variation === undefined ? {} : { variation: options.variation }) };
  const moved = await ok(call<FlagResponse>('POST', `/api/flags/${key}/environments/${environment}/stage`, body), `stage ${key} → ${stage}`);
  if (moved.environments[environment]?.stage !== stage) throw new Error(`stage ${key}: expected ${stage}, got ${moved.environments[environment]?.stage}`);
  return moved;
}

/** Put `userIds` (and only them) into the `internal` (dogfood) segment. */
export async function setDogfooders(call: Api, userIds: string[]): Promise<void> {
  const segment = await ok(call<{ version: number }>('GET', '/api/segments/internal'), 'read segment internal');
  await ok(call('PATCH', '/api/segments/internal', { version: segment.version, included: userIds }), 'update segment internal');
}

/** The environment's rule-set version, as polling reports it. */
export async function ruleSetVersion(url: string, sdkKey: string): Promise<number> {
  const response = await fetch(`${url}/api/sdk/rules`, { headers: { authorization: `Bearer ${sdkKey}` } });
  if (response.status !== 200) throw new Error(`GET /api/sdk/rules: HTTP ${response.status}`);
  return ((await response.json()) as { version: number }).version;
}

/** A user ID whose bucket for `salt` is inside (or outside) a `percentage` rollout. */
export function userAt(salt: string, percentage: number, inside: boolean, prefix = 'user'): string {
  const limit = percentageToBuckets(percentage);
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (bucket(salt, id) < limit === inside) return id;
  }
}

// ---------------------------------------------------------------------------------------------
// Server-Sent Events

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

export interface SseItems {
  events: SseEvent[];
  comments: string[];
}

/** Parse complete SSE blocks out of `buffer`; returns the unparsed rest. */
export function parseSse(buffer: string, into: SseItems): string {
  const blocks = buffer.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    let isEvent = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        into.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      isEvent = true;
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (isEvent) into.events.push({ event, id, data: data.join('\n') });
  }
  return rest;
}

/**
 * Open `/api/sdk/stream` with a raw fetch (optionally with `Last-Event-ID`) and read until `done`
 * says so; then disconnect and return everything read.
 */
export async function readStream(
  url: string,
  sdkKey: string,
  options: { lastEventId?: number | string; done: (items: SseItems) => boolean; timeoutMs?: number },
): Promise<SseItems & { status: number }> {
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs ?? WAIT_MS;
  const timer = setTimeout(() => controller.abort(new Error(`stream: not done within ${timeoutMs} ms`)), timeoutMs);
  const items: SseItems = { events: [], comments: [] };
  try {
    const headers: Record<string, string> = { authorization: `Bearer ${sdkKey}`, accept: 'text/event-stream' };
    if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
    const response = await fetch(`${url}/api/sdk/stream`, { headers, signal: controller.signal });
    if (response.status !== 200 || !response.body) return { ...items, status: response.status };
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    while (!options.done(items)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = parseSse(buffer + decoder.decode(value, { stream: true }), items);
    }
    return { ...items, status: response.status };
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

// ---------------------------------------------------------------------------------------------
// Proxy

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Upstream status, once the upstream answered (never for a swallowed stream). */
  status?: number;
  /** For `/api/sdk/stream`: every byte forwarded to the client, as text. */
  body: string;
  swallowed: boolean;
}

export interface ProxyOptions {
  /** Accept `/api/sdk/stream` requests and never send a byte back. */
  swallowStream?: boolean;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

/**
 * A small HTTP proxy in front of `target`. It records every request (and the stream bytes it
 * forwards); emits `update` on every recorded fact. `cut()` drops every connection and refuses new
 * ones until `restore()`.
 */
export class TestProxy extends EventEmitter {
  readonly requests: ProxiedRequest[] = [];
  url = '';
  #target: URL;
  #options: ProxyOptions;
  #cut = false;
  readonly #sockets = new Set<Socket>();
  readonly #upstreams = new Set<ClientRequest>();
  readonly #server = createServer((req, res) => {
    const entry: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: '', swallowed: false };
    this.requests.push(entry);
    const isStream = entry.path.startsWith('/api/sdk/stream');
    if (isStream && this.#options.swallowStream) {
      entry.swallowed = true; // accepted, never answered: the socket stays open and silent
      this.emit('update');
      return;
    }
    const upstream = httpRequest(
      { host: this.#target.hostname, port: this.#target.port, method: req.method, path: req.url, headers: { ...req.headers, host: this.#target.host }, agent: false },
      (upstreamRes) => {
        entry.status = upstreamRes.statusCode;
        const headers: OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
        res.writeHead(upstreamRes.statusCode ?? 502, headers);
        res.flushHeaders();
        this.emit('update');
        upstreamRes.on('data', (chunk: Buffer) => {
          if (isStream) {
            entry.body += chunk.toString('utf8');
            this.emit('update');
          }
          res.write(chunk);
        });
        upstreamRes.on('end', () => res.end());
        upstreamRes.on('error', () => res.destroy());
      },
    );
    this.#upstreams.add(upstream);
    upstream.on('close', () => this.#upstreams.delete(upstream));
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });

  constructor(target: string, options: ProxyOptions = {}) {
    super();
    this.#target = new URL(target);
    this.#options = options;
    this.#server.on('connection', (socket: Socket) => {
      if (this.#cut) {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy: no port');
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  /** Requests whose path starts with `prefix`. */
  requestsTo(prefix: string): ProxiedRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  /** Resolves once `check()` holds, re-checked on every proxied fact. */
  until(check: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    return until(this, 'update', check, what, timeoutMs);
  }

  /** Drop every open connection (client and upstream side) and refuse new ones. */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
    for (const upstream of this.#upstreams) upstream.destroy();
  }

  restore(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export async function startProxy(target: string, options: ProxyOptions = {}): Promise<TestProxy> {
  return new TestProxy(target, options).listen();
}
