import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Revocation } from '../domain/credentials.js';
import { AppError } from '../domain/errors.js';
import type { DashboardEvent, DashboardEvents } from '../services/dashboard-events.js';
import type { Principal } from './plugins/auth.js';

export const DEFAULT_EVENTS_HEARTBEAT_MS = 15_000;
/** A person's tabs: a browser opens at most 6 HTTP/1.1 connections to one host anyway. */
export const DEFAULT_MAX_DASHBOARD_STREAMS = 10;
const RETRY_AFTER_SECONDS = 30;
/** setTimeout's longest delay (~24.8 days); sessions live 12 hours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface EventsOptions {
  /** Fed by the change feed: writes made through any replica. */
  dashboard: DashboardEvents;
  heartbeatMs?: number;
  /** Open streams per API token or dashboard session on this replica; more get 429. */
  maxStreams?: number;
}

type ApiPrincipal = Extract<Principal, { kind: 'api' }>;

/** One open stream: who opened it (to end it when that credential goes), and how to end it. */
interface OpenStream {
  tokenId: number;
  sessionHash: string | undefined;
  end(reason: string): void;
}

/** What a stream counts against: the session it was opened with, else the bearer token. */
const credentialOf = (p: ApiPrincipal) => (p.sessionHash ? `session:${p.sessionHash}` : `token:${p.tokenId}`);

const revokes = (revocation: Revocation, stream: OpenStream): boolean =>
  revocation.kind === 'api' ? stream.tokenId === revocation.id : revocation.kind === 'session' && stream.sessionHash === revocation.sessionHash;

/**
 * `GET /api/events`: Server-Sent Events for the dashboard (any role), one `change` event per
 * committed write to a flag, segment or environment (from any writer: API, CLI, GitOps), including
 * changes SDKs never see (a description, a tag), plus `heartbeat` events. Made on any replica: the
 * events come from the change feed.
 *
 * A stream lives no longer than its credential: revoking the token or signing out the session —
 * on any replica, through the change feed — or the session expiring sends a `revoked` event and
 * ends it.
 */
async function events(app: FastifyInstance, { dashboard: hub, heartbeatMs = DEFAULT_EVENTS_HEARTBEAT_MS, maxStreams = DEFAULT_MAX_DASHBOARD_STREAMS }: EventsOptions) {
  const open = new Set<OpenStream>();
  const perCredential = new Map<string, number>();

  app.onCredentialsRevoked((revocation) => {
    if (revocation.kind === 'sdk') return;
    const reason = revocation.kind === 'session' ? 'the session was signed out' : 'the API token was revoked';
    for (const stream of [...open]) if (revokes(revocation, stream)) stream.end(reason);
  });

  app.get('/api/events', {
    // A HEAD would get a never-ending body: the stream is GET only.
    exposeHeadRoute: false,
    schema: { tags: ['dashboard'], summary: 'Dashboard live updates (Server-Sent Events): `change` events and heartbeats; `revoked` when the credential goes' },
    onRequest: app.requireRole('viewer'),
  }, async (request, reply) => {
    const principal = request.principal as ApiPrincipal;
    const credential = credentialOf(principal);
    const count = perCredential.get(credential) ?? 0;
    if (count >= maxStreams) {
      void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      throw new AppError('rate_limited', `${principal.sessionHash ? 'this session' : `token "${principal.name}"`} already has ${maxStreams} open live-update streams on this server (the most allowed); close a dashboard tab`);
    }
    perCredential.set(credential, count + 1);

    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      // The security headers set on the reply (a hijacked reply does not send them by itself).
      ...(reply.getHeaders() as OutgoingHttpHeaders),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) => out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('ready', { heartbeatMs });
    const unsubscribe = hub.subscribe((event: DashboardEvent) => send('change', event));
    const timer = setInterval(() => send('heartbeat', { at: new Date().toISOString() }), heartbeatMs);
    const stream: OpenStream = {
      tokenId: principal.tokenId,
      sessionHash: principal.sessionHash,
      end(reason) {
        send('revoked', { reason });
        out.end();
        closed();
      },
    };
    open.add(stream);
    // A session's stream ends when the session does, as its requests would start failing then.
    const expiry = principal.sessionEndsAt === undefined ? undefined : setTimeout(() => stream.end('the session expired'), Math.min(MAX_TIMER_MS, Math.max(0, principal.sessionEndsAt - Date.now())));
    let done = false;
    function closed(): void {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(expiry);
      unsubscribe();
      open.delete(stream);
      const left = (perCredential.get(credential) ?? 1) - 1;
      if (left > 0) perCredential.set(credential, left);
      else perCredential.delete(credential);
    }
    out.once('close', closed);
  });
}

export const eventsPlugin = fp(events, { name: 'dashboard-events', dependencies: ['auth'] });
