import type { FastifyInstance } from 'fastify';
import type { FlagEnvironment } from '../domain/flags.js';
import type { FlagsService } from '../services/flags.service.js';
import { deriveStage } from '../domain/stages.js';
import type { RuleSetCache } from '../services/rulesets.js';
import type { Store } from '../store/ports.js';
import { metricsRoutes } from './sdk-metrics.routes.js';
import { releasesRoutes } from './releases.routes.js';
import { ReleasesService } from '../services/releases/releases.service.js';
import { ReleaseRunner } from '../services/releases/runner.js';
import { webhooksRoutes } from './webhooks.routes.js';
import { WebhookDispatcher } from '../services/releases/webhooks.js';

export interface ReleasesOptions {
  store: Store;
  ruleSets: RuleSetCache;
  flags: FlagsService;
  /** Clock for the runner and metric windows (tests compress time with it). */
  now?: () => number;
  tickMs?: number;
  /** Webhook transport (tests inject one). */
  fetch?: typeof fetch;
  /** Off in tests that drive the runner by hand (no timers, no looks on metrics uploads). */
  autoStart?: boolean;
}

const STAGE_ACTIONS = new Set(['flag.stage_changed', 'flag.killed', 'flag.switched']);

/**
 * Guarded releases: the plans' routes, the SDK metrics endpoint, webhooks, and the runner, which
 * starts when the server is ready (resuming plans left running) and stops when it closes.
 */
export async function registerReleases(app: FastifyInstance, options: ReleasesOptions): Promise<{ service: ReleasesService; runner: ReleaseRunner; webhooks: WebhookDispatcher }> {
  const now = options.now ?? Date.now;
  const log = (message: string, error?: unknown) => app.log.warn({ err: error }, message);
  const webhooks = new WebhookDispatcher(options.store.releases, { fetch: options.fetch, now, log });
  const service = new ReleasesService({ store: options.store, ruleSets: options.ruleSets, flags: options.flags, webhooks, now });
  const runner = new ReleaseRunner(service, { tickMs: options.tickMs, log });

  // Every stage change, whoever made it (dashboard, CLI, GitOps, the guard), reaches the webhooks.
  options.ruleSets.on('write', (entry) => {
    if (entry.resourceType !== 'flag' || !STAGE_ACTIONS.has(entry.action) || entry.environment === null) return;
    const config = (entry.after as { environments?: Record<string, unknown> } | null)?.environments?.[entry.environment] as FlagEnvironment | undefined;
    void webhooks
      .emit('flag.stage_changed', { flag: entry.resourceKey, environment: entry.environment, action: entry.action, actor: entry.actor, source: entry.source, message: entry.message, stage: config ? deriveStage(config) : null, auditId: entry.id })
      .catch((error: unknown) => log('queueing a webhook failed', error));
  });

  await app.register(releasesRoutes, { releases: service });
  await app.register(webhooksRoutes, { store: options.store.releases, onChange: () => webhooks.webhooksChanged() });
  await app.register(metricsRoutes, { store: options.store.releases, ruleSets: options.ruleSets, now, onMetrics: (env, flag) => {
    if (options.autoStart !== false) runner.poke(env, flag);
  } });

  if (options.autoStart !== false) {
    app.addHook('onReady', async () => {
      runner.start();
      webhooks.start();
    });
  }
  app.addHook('onClose', async () => {
    await runner.stop();
    await webhooks.stop();
  });
  return { service, runner, webhooks };
}
