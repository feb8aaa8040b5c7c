import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { RuleSetCache } from '../rulesets/rulesets.js';
import type { AuditResource, Store } from '../store/store.js';
import { DashboardEvents, changedResources, resourceOfRequest, type DashboardEvent } from './events.hub.js';

export const DEFAULT_EVENTS_HEARTBEAT_MS = 15_000;

export interface EventsOptions {
  store: Store;
  ruleSets: RuleSetCache;
  heartbeatMs?: number;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function parseEtag(value: unknown): number | null {
  const m = typeof value === 'string' ? /^(?:W\/)?"(\d+)"$/.exec(value) : null;
  return m ? Number(m[1]) : null;
}

/**
 * `GET /api/events`: Server-Sent Events for the dashboard (any role), one `change` event per write
 * to a flag, segment or environment — from the rule-set cache (every writer, HTTP or not) and from
 * successful write responses (changes SDKs do not see) — plus `heartbeat` events.
 */
async function events(app: FastifyInstance, { store, ruleSets, heartbeatMs = DEFAULT_EVENTS_HEARTBEAT_MS }: EventsOptions) {
  const hub = new DashboardEvents();

  async function latestActor(type: AuditResource, key: string): Promise<string | null> {
    try {
      return (await store.listAudit({ resourceType: type, resourceKey: key, limit: 1 }))[0]?.actor ?? null;
    } catch {
      return null;
    }
  }

  const onChange = (change: Parameters<typeof changedResources>[0]) => {
    for (const resource of changedResources(change)) {
      void latestActor(resource.type, resource.key).then((actor) => hub.publish({ ...resource, actor }));
    }
  };
  ruleSets.on('change', onChange);
  app.addHook('onClose', async () => {
    ruleSets.off('change', onChange);
  });

  app.addHook('onResponse', async (request, reply) => {
    if (!UNSAFE.has(request.method) || reply.statusCode >= 300 || hub.size === 0) return;
    const resource = resourceOfRequest(request.routeOptions.url, (request.params ?? {}) as Record<string, unknown>, request.body);
    if (!resource) return;
    const version = resource.type === 'environment' ? null : parseEtag(reply.getHeader('etag'));
    const actor = request.principal?.name ?? null;
    hub.publish({ ...resource, version, actor });
  });

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
