import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { DashboardEvent, DashboardEvents } from '../services/dashboard-events.js';

export const DEFAULT_EVENTS_HEARTBEAT_MS = 15_000;

export interface EventsOptions {
  /** Fed by the change feed: writes made through any replica. */
  dashboard: DashboardEvents;
  heartbeatMs?: number;
}

/**
 * `GET /api/events`: Server-Sent Events for the dashboard (any role), one `change` event per
 * committed write to a flag, segment or environment (from any writer: API, CLI, GitOps), including
 * changes SDKs never see (a description, a tag), plus `heartbeat` events. Made on any replica: the
 * events come from the change feed.
 */
async function events(app: FastifyInstance, { dashboard: hub, heartbeatMs = DEFAULT_EVENTS_HEARTBEAT_MS }: EventsOptions) {
  app.get('/api/events', {
    schema: { tags: ['dashboard'], summary: 'Dashboard live updates (Server-Sent Events): `change` events and heartbeats' },
    preHandler: app.requireRole('viewer'),
  }, async (request, reply) => {
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) => out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('ready', { heartbeatMs });
    const unsubscribe = hub.subscribe((event: DashboardEvent) => send('change', event));
    const timer = setInterval(() => send('heartbeat', { at: new Date().toISOString() }), heartbeatMs);
    request.raw.once('close', () => {
      clearInterval(timer);
      unsubscribe();
    });
  });
}

export const eventsPlugin = fp(events, { name: 'dashboard-events', dependencies: ['auth'] });
