import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { FlagsService } from '../../services/flags.service.js';
import { ROUTE_STATS, RequestStats, type RouteStats } from './request-stats.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-app registry: other plugins register their own metrics here (e.g. stream connections). */
    metrics: Registry;
    /** Request counts and latency by route, for answers sent outside Fastify's lifecycle (the OFREP fast lane). */
    requestStats: RequestStats;
  }
}

/** Prometheus metrics at /metrics: request counts and latency by route, flag count, process stats. */
export const metricsPlugin = fp(
  async (app: FastifyInstance, opts: { flags: FlagsService; defaultMetrics?: boolean }) => {
    const registry = new Registry();
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'switchyard_' });
    const stats = new RequestStats();
    new Counter({
      name: 'switchyard_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const route of stats.routes()) for (const [status, count] of route.statuses) this.inc({ method: route.method, route: route.route, status: String(status) }, count);
      },
    });
    registry.registerMetric(stats.latencyMetric('switchyard_http_request_duration_seconds', 'HTTP request latency by method and route') as unknown as Metric);
    new Gauge({
      name: 'switchyard_flags',
      help: 'Flags by archived state',
      labelNames: ['archived'] as const,
      registers: [registry],
      async collect() {
        const flags = await opts.flags.list();
        const archived = flags.filter((f) => f.value.archived).length;
        this.set({ archived: 'false' }, flags.length - archived);
        this.set({ archived: 'true' }, archived);
      },
    });
    app.decorate('metrics', registry);
    app.decorate('requestStats', stats);

    // Each route gets its own accumulator once (when it is added); a request only adds to plain
    // numbers. prom-client's labelled children hash and validate their labels on every call, which
    // cost more than the evaluation behind the hottest endpoint (OFREP).
    app.addHook('onRoute', (route) => {
      const url = route.url ?? route.path;
      let last: RouteStats | undefined;
      const ofMethod = (method: string) => (last?.method === method ? last : (last = stats.route(method, url)));
      route.config = { ...route.config, [ROUTE_STATS]: ofMethod } as typeof route.config;
    });
    app.addHook('onResponse', (request, reply, done) => {
      const ofMethod = (request.routeOptions.config as { [ROUTE_STATS]?: (method: string) => RouteStats } | undefined)?.[ROUTE_STATS];
      // Unmatched URLs share one accumulator so scanners cannot blow up label cardinality.
      (ofMethod ? ofMethod(request.method) : stats.route(request.method, 'unmatched')).record(reply.statusCode, reply.elapsedTime / 1000);
      done();
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    });
  },
  { name: 'metrics' },
);
