/** Latency buckets (seconds) of `switchyard_http_request_duration_seconds`. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Where a route's accumulator hangs on its Fastify route config. */
export const ROUTE_STATS = Symbol('switchyard.routeStats');

/** One route's request counts by status and its latency histogram, as plain numbers. */
export class RouteStats {
  readonly statuses = new Map<number, number>();
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(
    readonly method: string,
    readonly route: string,
  ) {}

  record(status: number, seconds: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
    this.buckets[bucket]!++;
    this.sum += seconds;
    this.count++;
  }
}

interface MetricValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * Request counts and latency per method and route, accumulated where requests are answered and
 * turned into Prometheus series only when scraped.
 */
export class RequestStats {
  private readonly byRoute = new Map<string, RouteStats>();

  private readonly byRouteMethod = new Map<string, Map<string, RouteStats>>();

  /** The accumulator of one method and route (created on first use, then one map lookup). */
  route(method: string, route: string): RouteStats {
    let methods = this.byRouteMethod.get(route);
    if (!methods) this.byRouteMethod.set(route, (methods = new Map()));
    let stats = methods.get(method);
    if (!stats) {
      methods.set(method, (stats = new RouteStats(method, route)));
      this.byRoute.set(`${method} ${route}`, stats);
    }
    return stats;
  }

  routes(): Iterable<RouteStats> {
    return this.byRoute.values();
  }

  /**
   * A histogram as prom-client's registry reads metrics (`get()` → name, help, type, values): the
   * same series a prom-client Histogram with LATENCY_BUCKETS would expose.
   */
  latencyMetric(name: string, help: string) {
    const get = async () => {
      const values: MetricValue[] = [];
      for (const route of this.byRoute.values()) {
        if (route.count === 0) continue;
        const labels = { method: route.method, route: route.route };
        let cumulative = 0;
        LATENCY_BUCKETS.forEach((le, i) => {
          cumulative += route.buckets[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { le, ...labels }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: route.count });
        values.push({ metricName: `${name}_sum`, labels, value: route.sum });
        values.push({ metricName: `${name}_count`, labels, value: route.count });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    };
    return { name, help, type: 'histogram', aggregator: 'sum', get, reset: () => undefined };
  }
}
