import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FlagsService } from '../../services/flags.service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-app registry: other plugins register their own metrics here (e.g. stream connections). */
    metrics: Registry;
  }
}

/** Prometheus metrics at /metrics: request counts and latency by route, flag count, process stats. */
export const metricsPlugin = fp(
  async (app: FastifyInstance, opts: { flags: FlagsService; defaultMetrics?: boolean }) => {
    const registry = new Registry();
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'switchyard_' });
    const requests = new Counter({
      name: 'switchyard_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'switchyard_http_request_duration_seconds',
      help: 'HTTP request latency by method and route',
      labelNames: ['method', 'route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
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

    // Labelled children are cached: hashing the label object on every request cost more than
    // the evaluation behind the hottest endpoints (OFREP). Keys are bounded by routes × statuses.
    const requestCounters = new Map<string, { inc(): void }>();
    const latencyHistograms = new Map<string, { observe(value: number): void }>();
    app.addHook('onResponse', (request, reply, done) => {
      // Unmatched URLs share one label so scanners cannot blow up label cardinality.
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      const status = reply.statusCode;
      const routeKey = `${method} ${route}`;
      const countKey = `${routeKey} ${status}`;
      let counter = requestCounters.get(countKey);
      if (counter === undefined) requestCounters.set(countKey, (counter = requests.labels(method, route, String(status))));
      counter.inc();
      let histogram = latencyHistograms.get(routeKey);
      if (histogram === undefined) latencyHistograms.set(routeKey, (histogram = latency.labels(method, route)));
      histogram.observe(reply.elapsedTime / 1000);
      done();
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    });
  },
  { name: 'metrics' },
);
