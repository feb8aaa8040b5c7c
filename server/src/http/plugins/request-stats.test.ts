import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS, RequestStats } from './request-stats.js';

describe('request stats', () => {
  it('counts per method, route and status', () => {
    const stats = new RequestStats();
    stats.route('GET', '/a').record(200, 0.001);
    stats.route('GET', '/a').record(200, 0.002);
    stats.route('GET', '/a').record(404, 0.001);
    stats.route('POST', '/a').record(201, 0.001);
    const rows = [...stats.routes()].map((r) => [r.method, r.route, Object.fromEntries(r.statuses)]);
    expect(rows).toEqual([
      ['GET', '/a', { 200: 2, 404: 1 }],
      ['POST', '/a', { 201: 1 }],
    ]);
    expect(stats.route('GET', '/a')).toBe(stats.route('GET', '/a'));
  });

  it('exposes the same histogram series prom-client would for the same observations', async () => {
    const observations = [0.0001, 0.0005, 0.0007, 0.003, 0.04, 0.7, 3, 10];
    const stats = new RequestStats();
    const reference = new Histogram({ name: 'ref', help: 'h', labelNames: ['method', 'route'], buckets: LATENCY_BUCKETS, registers: [] });
    for (const seconds of observations) {
      stats.route('GET', '/x').record(200, seconds);
      reference.observe({ method: 'GET', route: '/x' }, seconds);
    }
    const ours = await stats.latencyMetric('ref', 'h').get();
    const theirs = await reference.get();
    const normalise = (values: { metricName?: string; labels: object; value: number }[]) =>
      values.map((v) => ({ metricName: v.metricName, labels: { ...v.labels }, value: v.value })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(normalise(ours.values)).toEqual(normalise(theirs.values as never));
  });

  it('prints through a prom-client registry', async () => {
    const registry = new Registry();
    const stats = new RequestStats();
    stats.route('POST', '/ofrep/v1/evaluate/flags/:key').record(200, 0.0004);
    registry.registerMetric(stats.latencyMetric('lat_seconds', 'latency') as never);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE lat_seconds histogram');
    expect(text).toContain('lat_seconds_bucket{le="0.0005",method="POST",route="/ofrep/v1/evaluate/flags/:key"} 1');
    expect(text).toContain('lat_seconds_count{method="POST",route="/ofrep/v1/evaluate/flags/:key"} 1');
  });
});
