import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { CompiledFlag } from '@switchyard/sdk/ruleset';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { OFREP_BODY_LIMIT, OFREP_SINGLE_ROUTE, checkOfrepBody, evaluateOne } from './ofrep.routes.js';
import type { SdkPrincipal } from './plugins/auth.js';
import type { RouteStats } from './plugins/request-stats.js';
import { SDK_RESPONSE_HEADERS } from './plugins/sdk-cors.js';

/**
 * Takes a request before Fastify routes it and answers it itself (true), or leaves it alone
 * (false: nothing of it has been read).
 */
export type FastLane = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * Fastify's `serverFactory`: the HTTP server Fastify would make (same timeouts), whose requests
 * go to `lane()` first and to Fastify when it does not take them. `lane` is read per request, as
 * it is set up after the routes it stands in for.
 */
export function fastLaneServer(lane: () => FastLane | undefined) {
  return (handler: (request: IncomingMessage, response: ServerResponse) => void, options: FastifyServerOptions): Server => {
    const server = createServer((request, response) => {
      if (!lane()?.(request, response)) handler(request, response);
    });
    // What Fastify sets on the server it makes itself (lib/server.js).
    if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
    if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
    if (options.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
    if (options.maxRequestsPerSocket) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    return server;
  };
}

/** `/ofrep/v1/evaluate/flags/`: the route's path up to its key. */
const PREFIX = OFREP_SINGLE_ROUTE.slice(0, -':key'.length);
/** Keys the lane takes: unreserved URL characters only, so the path needs no decoding. */
const PLAIN_KEY = /^[A-Za-z0-9._~-]{1,200}$/;
/** Bodies that Fastify's JSON parser (secure-json-parse) refuses or treats specially go through Fastify. */
const GUARDED = /__proto__|constructor/;

export interface OfrepFastLaneOptions {
  /** The environment's compiled flags, if compiled (no promise); undefined: Fastify answers (it waits for them). */
  flagsOf(environment: string): Map<string, CompiledFlag> | undefined;
  /** The cached SDK key of an Authorization header; undefined: Fastify answers (it looks the key up, or refuses). */
  sdkKey(authorization: string | undefined): SdkPrincipal | undefined;
  stats: RouteStats;
  /** The request, with the body the lane has read, answered by Fastify after all. */
  replay(request: IncomingMessage, response: ServerResponse, body: Buffer): void;
  /** The server is shutting down: Fastify answers (503, Connection: close). */
  closing(): boolean;
}

const isJson = (type: string | undefined) => type === 'application/json' || (type !== undefined && /^application\/json\s*(?:;|$)/i.test(type));

/** Eligible on its head alone: a server key already cached, compiled rules, a plain JSON body within the limit. */
function eligible(headers: IncomingHttpHeaders, options: OfrepFastLaneOptions): Map<string, CompiledFlag> | undefined {
  const length = headers['content-length'];
  if (length === undefined || headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined || !isJson(headers['content-type'])) return undefined;
  const bytes = Number(length);
  if (!(bytes > 0 && bytes <= OFREP_BODY_LIMIT)) return undefined;
  const principal = options.sdkKey(headers.authorization);
  if (principal === undefined || principal.client) return undefined;
  return options.flagsOf(principal.environment);
}

/**
 * OFREP single evaluation, the hottest route, answered without Fastify's per-request machinery
 * (request and reply objects, hook runners, response listeners): ~15% of its CPU per request.
 * Only the plain case: a POST with a JSON body to `/ofrep/v1/evaluate/flags/{key}` from a server
 * SDK key this replica has cached, for an environment whose rules are compiled, while the server
 * runs. Everything else goes to the Fastify route untouched; a body that fails to parse or check is
 * replayed through it, so every error answers exactly as the route does. The answer is the
 * route's (`evaluateOne`), with its headers, and counts in the route's request metrics.
 */
export function ofrepFastLane(options: OfrepFastLaneOptions): FastLane {
  return (request, response) => {
    const url = request.url;
    if (request.method !== 'POST' || url === undefined || !url.startsWith(PREFIX) || options.closing()) return false;
    const key = url.slice(PREFIX.length);
    if (!PLAIN_KEY.test(key)) return false;
    const flags = eligible(request.headers, options);
    if (flags === undefined) return false;
    const started = performance.now();
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      let answer: { status: number; body: object };
      let payload: string;
      try {
        const text = body.toString('utf8');
        const parsed: unknown = GUARDED.test(text) ? undefined : JSON.parse(text);
        const checked = parsed === undefined ? undefined : checkOfrepBody(parsed);
        if (checked === undefined || 'error' in checked) return options.replay(request, response, body);
        answer = evaluateOne(flags, key, checked.value.context);
        payload = JSON.stringify(answer.body);
      } catch {
        // Unparsable JSON — or anything unexpected, which the route then answers (and logs) as it would.
        return options.replay(request, response, body);
      }
      response.writeHead(answer.status, {
        ...SDK_RESPONSE_HEADERS,
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
      });
      response.end(payload);
      options.stats.record(answer.status, (performance.now() - started) / 1000);
    });
    // A client that goes away mid-body: Node closes the socket; there is nothing to answer.
    request.on('error', () => {});
    return true;
  };
}

/** Headers of an injected answer that belong to its fake connection, not to the answer. */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

/** `replay` for a Fastify app: the request again through `app.inject`, its answer copied onto the real response. */
export function replayThrough(app: FastifyInstance): OfrepFastLaneOptions['replay'] {
  return (request, response, body) => {
    app
      .inject({ method: 'POST', url: request.url!, headers: request.headers, payload: body, remoteAddress: request.socket.remoteAddress })
      .then((answer) => {
        const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !CONNECTION_HEADERS.has(name)));
        response.writeHead(answer.statusCode, headers as Record<string, string | string[] | number>);
        response.end(answer.rawPayload);
      })
      .catch((error: unknown) => response.destroy(error as Error));
  };
}
