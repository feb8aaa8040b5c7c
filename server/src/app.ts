import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { auditRoutes } from './http/audit.routes.js';
import { rulesRoutes } from './http/rules.routes.js';
import { streamRoutes } from './http/stream.routes.js';
import { environmentsRoutes } from './http/environments.routes.js';
import { eventsPlugin } from './http/events.routes.js';
import { flagsRoutes } from './http/flags.routes.js';
import { FlagsService } from './services/flags.service.js';
import { gitopsRoutes } from './http/gitops.routes.js';
import { GitOpsService } from './services/gitops/gitops.service.js';
import { ManagedResources } from './services/gitops/managed.js';
import { ofrepRoutes } from './http/ofrep.routes.js';
import { authPlugin } from './http/plugins/auth.js';
import { errorsPlugin } from './http/plugins/errors.js';
import { metricsPlugin } from './http/plugins/metrics.js';
import { sdkCorsPlugin } from './http/plugins/sdk-cors.js';
import { openapiPlugin } from './http/plugins/openapi.js';
import { registerReleases, type ReleasesOptions } from './http/releases.plugin.js';
import { RuleSetCache } from './services/rulesets.js';
import { segmentsRoutes } from './http/segments.routes.js';
import { sessionsRoutes } from './http/sessions.routes.js';
import type { SessionStore } from './services/sessions.js';
import { SegmentsService } from './services/segments.service.js';
import type { Store } from './store/ports.js';
import { tokensRoutes } from './http/tokens.routes.js';

export const VERSION = '0.1.0';

/** Where the built dashboard lives (dashboard/dist), relative to server/src or server/dist. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

export interface AppOptions {
  store: Store;
  logger?: FastifyServerOptions['logger'];
  heartbeatMs?: number;
  /** Serve the dashboard's static files from here (default: dashboard/dist when it was built). */
  dashboardDir?: string | null;
  /** Process-level metrics (off in tests that build many apps). */
  defaultMetrics?: boolean;
  /** `serve --sync`: reconcile from this Git-tracked file or directory; what it manages is read-only. */
  syncPath?: string;
  /** Dashboard sessions (default: the store's own database). */
  sessions?: SessionStore;
  /** Release runner options: clock, tick, webhook transport (tests compress time with them). */
  releases?: Pick<ReleasesOptions, 'now' | 'tickMs' | 'fetch' | 'autoStart'>;
}

export interface Services {
  store: Store;
  ruleSets: RuleSetCache;
  flags: FlagsService;
  segments: SegmentsService;
  /** Guarded releases: the service, its runner and the webhook dispatcher. */
  releases: Awaited<ReturnType<typeof registerReleases>>;
}

/** Build the whole server without listening: `main` listens, tests use `app.inject`. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance & { services: Services }> {
  const app = Fastify({
    logger: options.logger ?? false,
    forceCloseConnections: true,
    bodyLimit: 1024 * 1024,
    // Router-level failures (malformed URL, over-long path parameter) get the one error shape too.
    frameworkErrors: (error, _request, reply) => {
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      void (reply as FastifyReply).status(status).send({ error: { code: 'bad_request', message: `malformed request URL: ${error.message}` } });
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const { store } = options;
  const ruleSets = new RuleSetCache(store);
  const managed = new ManagedResources();
  const services = { store, ruleSets, flags: new FlagsService(store, ruleSets, managed), segments: new SegmentsService(store, ruleSets, managed) } as Services;
  app.decorate('services', services);

  await app.register(errorsPlugin);
  await app.register(metricsPlugin, { store, defaultMetrics: options.defaultMetrics });
  await app.register(authPlugin, { store });
  await app.register(sdkCorsPlugin);
  await app.register(openapiPlugin, { version: VERSION });
  await app.register(sessionsRoutes, { store, sessions: options.sessions ?? store.sessions, now: Date.now });
  await app.register(eventsPlugin, { ruleSets, heartbeatMs: options.heartbeatMs });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      await store.listEnvironments();
      return { status: 'ready' };
    } catch {
      return reply.status(503).send({ error: { code: 'unavailable', message: 'storage is not reachable' } });
    }
  });

  await app.register(environmentsRoutes, { store, ruleSets });
  await app.register(flagsRoutes, { flags: services.flags });
  await app.register(segmentsRoutes, { segments: services.segments });
  await app.register(auditRoutes, { store, flags: services.flags });
  await app.register(tokensRoutes, { store });
  await app.register(rulesRoutes, { ruleSets });
  await app.register(streamRoutes, { ruleSets, heartbeatMs: options.heartbeatMs ?? 15_000 });
  await app.register(ofrepRoutes, { ruleSets });
  services.releases = await registerReleases(app, { store, ruleSets, flags: services.flags, ...options.releases });
  await app.register(gitopsRoutes, { gitops: new GitOpsService(store, ruleSets), managed, syncPath: options.syncPath });

  const dashboardDir = options.dashboardDir === undefined ? DASHBOARD_DIR : options.dashboardDir;
  if (dashboardDir && existsSync(dashboardDir)) {
    await app.register(fastifyStatic, { root: dashboardDir, prefix: '/', wildcard: false, index: 'index.html' });
    // SPA fallback: deep links (/flags/x) get index.html; API-ish paths and missing files stay 404.
    app.get('/*', { schema: { hide: true } }, async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (/^\/(api|ofrep|docs|openapi\.json|metrics)(\/|$)/.test(path) || /\.[a-z0-9]+$/i.test(path)) {
        return reply.status(404).send({ error: { code: 'not_found', message: `no route GET ${path}` } });
      }
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    });
  }

  return app as unknown as FastifyInstance & { services: Services };
}
