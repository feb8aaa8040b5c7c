import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import type { Services } from '../../services/index.js';

/**
 * What an operator of several replicas alerts on, per replica, at /metrics: whether it leads,
 * whether it is ready, how far it has applied the change feed and how far behind the database's
 * head that is, and the webhook deliveries waiting or given up on (the same on every replica: they
 * live in the database). Database figures are read at scrape time; a failed read leaves them out
 * of that scrape rather than failing it.
 */
export function registerClusterMetrics(app: FastifyInstance, services: Pick<Services, 'db' | 'feed' | 'writes' | 'webhooks'>): void {
  const registers = [app.metrics];
  const { db, feed, writes, webhooks } = services;
  new Gauge({
    name: 'switchyard_leader',
    help: '1 on the replica that runs work done once (release plans, Git sync, housekeeping), else 0',
    registers,
    collect() {
      this.set(db.leadership.isLeader() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'switchyard_ready',
    help: '1 while this replica follows the change feed (GET /readyz answers 200), else 0',
    registers,
    collect() {
      this.set(feed.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'switchyard_change_feed_position',
    help: 'The last change-feed position this replica has applied to its caches and streams',
    registers,
    collect() {
      this.set(feed.position);
    },
  });
  const head = () => writes.read((tx) => writes.repos.feed.head(tx));
  new Gauge({
    name: 'switchyard_change_feed_lag',
    help: 'Committed changes this replica has not applied yet (database head minus this replica\'s position)',
    registers,
    async collect() {
      this.reset();
      const now = await head().catch(() => undefined);
      if (now !== undefined) this.set(Math.max(0, now - feed.position));
    },
  });
  new Gauge({
    name: 'switchyard_webhook_deliveries',
    help: 'Webhook deliveries by status: pending (waiting to be sent, retries included) and failed (given up on), over every replica',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      this.reset();
      const backlog = await webhooks.backlog().catch(() => undefined);
      if (!backlog) return;
      this.set({ status: 'pending' }, backlog.pending);
      this.set({ status: 'failed' }, backlog.failed);
    },
  });
}
