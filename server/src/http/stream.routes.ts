import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Gauge } from 'prom-client';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import type { FeedFollower } from '../services/feed.js';
import type { RuleSetCache } from '../services/rulesets.js';
import type { StreamHub, StreamStart } from '../services/stream-hub.js';
import { SDK_ROUTE_LOG_LEVEL } from './request-context.js';

export interface StreamRoutesOptions {
  ruleSets: RuleSetCache;
  /** Fed by the change feed (see services/index.ts). */
  streams: StreamHub;
  feed: FeedFollower;
  /** Open streams one SDK key may hold on this replica; more get 429 (default 1,000). */
  maxStreamsPerKey?: number;
}

export const DEFAULT_MAX_STREAMS_PER_KEY = 1_000;
/** What a refused stream is told to wait: long enough for its SDK to poll meanwhile rather than hammer. */
export const STREAM_RETRY_AFTER_SECONDS = 30;

/**
 * The response head, written straight to the socket. The body is delimited by the connection
 * closing (no chunked framing), so every client gets the very same event bytes and nothing is
 * built per client. `x-accel-buffering: no` stops nginx from buffering the stream.
 */
const HEAD = Buffer.from(
  'HTTP/1.1 200 OK\r\n' +
    'Content-Type: text/event-stream\r\n' +
    'Cache-Control: no-cache\r\n' +
    'X-Accel-Buffering: no\r\n' +
    'Access-Control-Allow-Origin: *\r\n' +
    'Connection: close\r\n' +
    '\r\n',
);

/** Tries to read a snapshot the hub can bring up to date (see `StreamHub.start`). */
const SNAPSHOT_ATTEMPTS = 3;

const headers = z.looseObject({
  'last-event-id': z.string().optional().describe('The version the client holds: resume from the change log when possible'),
});

/** `Last-Event-ID` as a version; anything else means "no usable ID" (a full snapshot). */
function parseLastEventId(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d{1,15}\s*$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Server-Sent Events: a snapshot (or the missed changes) on connect, then one patch per change.
 * Event ids are change-feed positions, the same on every replica, so `Last-Event-ID` resumes
 * against any of them.
 */
export const streamRoutes: FastifyPluginAsyncZod<StreamRoutesOptions> = async (app, { ruleSets, streams: hub, feed, maxStreamsPerKey = DEFAULT_MAX_STREAMS_PER_KEY }) => {
  // A revoked SDK key — on whichever replica — loses its open streams here at once, not at its next reconnect.
  const socketsByKey = new Map<number, Set<Socket>>();
  app.onCredentialsRevoked((revocation) => {
    if (revocation.kind !== 'sdk') return;
    for (const socket of socketsByKey.get(revocation.id) ?? []) socket.destroy();
    socketsByKey.delete(revocation.id);
  });

  /**
   * One key holding thousands of streams (~15 KB of buffers each) would starve the replica: past
   * the bound, 429 in the error shape with Retry-After. Counted per replica (streams are local).
   */
  function refuseOverLimit(keyId: number, name: string, reply: FastifyReply): void {
    if ((socketsByKey.get(keyId)?.size ?? 0) < maxStreamsPerKey) return;
    void reply.header('retry-after', String(STREAM_RETRY_AFTER_SECONDS));
    throw new AppError('rate_limited', `SDK key "${name}" already holds ${maxStreamsPerKey} open streams on this server (the most allowed per key); close some, or poll /api/sdk/rules`);
  }

  new Gauge({
    name: 'switchyard_stream_connections',
    help: 'Open SDK streams by environment',
    labelNames: ['environment'] as const,
    registers: [app.metrics],
    collect() {
      for (const [environment, count] of hub.connections()) this.set({ environment }, count);
    },
  });

  // Before the server stops accepting: end streams politely so SDKs reconnect elsewhere at once
  // and `close()` does not wait on connections that would never end by themselves.
  app.addHook('preClose', async () => hub.close());

  app.get('/api/sdk/stream', {
    logLevel: SDK_ROUTE_LOG_LEVEL,
    // A HEAD would get a never-ending body: the stream is GET only.
    exposeHeadRoute: false,
    schema: {
      tags: ['sdk'],
      summary: 'Server-Sent Events: a snapshot on connect, then one patch per change (id = version); heartbeat comments',
      headers,
    },
    onRequest: app.requireSdkKey,
  }, async (request, reply) => {
    const { environment, keyId, name } = request.principal as { environment: string; keyId: number; name: string };
    refuseOverLimit(keyId, name, reply);
    const lastEventId = parseLastEventId(request.headers['last-event-id']);
    // A client ahead of this replica most likely saw the change on a quicker one: catch up first.
    if (lastEventId !== undefined && lastEventId > feed.position) await feed.reached(lastEventId);
    let start: StreamStart | undefined;
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS && !start; attempt++) {
      const snapshot = await ruleSets.json(environment);
      if (!snapshot) throw new AppError('not_found', `environment "${environment}" no longer exists`);
      start = hub.start(environment, snapshot, lastEventId);
    }
    if (!start) throw new AppError('unavailable', 'the rule set is changing too fast to snapshot; retry');
    // Again, now that nothing is awaited before the stream is counted: concurrent connects raced the first look.
    refuseOverLimit(keyId, name, reply);

    // From here on, synchronous: no change can be published between `start` and `subscribe`.
    reply.hijack();
    const socket: Socket = request.raw.socket;
    if (socket.destroyed || !socket.writable) return reply;
    socket.setNoDelay(true);
    socket.cork();
    socket.write(HEAD);
    const unsubscribe = hub.subscribe(environment, socket, start.frames);
    socket.uncork();
    const sockets = socketsByKey.get(keyId) ?? new Set<Socket>();
    socketsByKey.set(keyId, sockets.add(socket));
    socket.once('close', () => {
      unsubscribe();
      sockets.delete(socket);
      if (sockets.size === 0 && socketsByKey.get(keyId) === sockets) socketsByKey.delete(keyId);
    });
    return reply;
  });
};
