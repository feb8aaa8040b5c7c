import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { auditRoutes } from './http/audit.routes.js';
import { dashboardRoutes } from './http/dashboard.routes.js';
import { environmentsRoutes } from './http/environments.routes.js';
import { evaluationsRoutes } from './http/evaluations.routes.js';
import { eventsPlugin } from './http/events.routes.js';
import { registerClusterMetrics } from './http/plugins/cluster-metrics.js';
import { flagSummariesRoutes } from './http/flag-summaries.routes.js';
import { flagsRoutes } from './http/flags.routes.js';
import { gitopsRoutes } from './http/gitops.routes.js';
import { fastLaneServer, ofrepFastLane, replayThrough, type FastLane } from './http/ofrep-fast-lane.js';
import { OFREP_SINGLE_ROUTE, ofrepRoutes } from './http/ofrep.routes.js';
import { authPlugin } from './http/plugins/auth.js';
import { clientErrorHandler, errorsPlugin } from './http/plugins/errors.js';
import { metricsPlugin } from './http/plugins/metrics.js';
import { openapiPlugin } from './http/plugins/openapi.js';
import { storableTextPlugin } from './http/plugins/storable-text.js';
import { isSdkPath, sdkCorsPlugin } from './http/plugins/sdk-cors.js';
import { securityHeadersPlugin } from './http/plugins/security-headers.js';
import { promotionsRoutes } from './http/promotions.routes.js';
import { releasesRoutes } from './http/releases.routes.js';
import { rulesRoutes } from './http/rules.routes.js';
import { schedulesRoutes } from './http/schedules.routes.js';
import { changeRequestsRoutes } from './http/change-requests.routes.js';
import { codeRefsRoutes } from './http/code-refs.routes.js';
import { metricsRoutes } from './http/sdk-metrics.routes.js';
import { segmentsRoutes } from './http/segments.routes.js';
import { sessionsRoutes } from './http/sessions.routes.js';
import { streamRoutes } from './http/stream.routes.js';
import { tokensRoutes } from './http/tokens.routes.js';
import { webhooksRoutes } from './http/webhooks.routes.js';
import { AuditService } from './services/audit.service.js';
import { FlagSummariesService } from './services/flag-summaries.service.js';
import { PromotionsService } from './services/promotions.service.js';
import { createServices, startServices, stopServices, type Services, type ServicesOptions } from './services/index.js';
import type { Database } from './store/ports.js';

export const VERSION = '0.1.0';

/** Where the built dashboard lives (dashboard/dist), relative to server/src or server/dist. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

export interface AppOptions extends Omit<ServicesOptions, 'log'> {
  db: Database;
  logger?: FastifyServerOptions['logger'];
  /** Serve the dashboard's static files from here (default: dashboard/dist when it was built). */
  dashboardDir?: string | null;
  /** Process-level metrics (off in tests that build many apps). */
  defaultMetrics?: boolean;
  /**
   * Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (Fastify's `trustProxy`): the
   * session cookie is Secure when a trusted proxy says https, and rate limits see the client's
   * address. Default: nobody (the headers are ignored).
   */
  trustProxy?: boolean | string[];
  /** Open SDK streams per server SDK key, per replica. */
  maxStreamsPerKey?: number;
  /** Open OFREP notification streams of client keys per client address (IPv6: /64), per replica. */
  maxStreamsPerAddress?: number;
  /** Open dashboard `/api/events` streams per API token or session, per replica. */
  maxDashboardStreams?: number;
  /** Failed authentications per client address and minute, per replica, before 429s. */
  authFailuresPerMinute?: number;
}

export type { Services };

/**
 * Build one replica without listening: `main` listens, tests use `app.inject`. Its background work
 * (following the change feed, webhooks, and the leader's release runner and Git sync) starts when
 * the app is ready and stops when it closes.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance & { services: Services }> {
  // SDK routes log at their own level: a per-request child at a level other than the server's
  // rebuilds every log method of that child (pino), which cost OFREP more than evaluating. They
  // share one child per level instead (their lines carry no request id; they are warnings and errors).
  const sdkLoggers = new Map<string, FastifyBaseLogger>();
  const childLoggerFactory: FastifyServerOptions['childLoggerFactory'] = function (logger, bindings, opts, rawRequest) {
    if (opts.level === undefined || !isSdkPath(rawRequest.url ?? '')) return logger.child(bindings, opts);
    let shared = sdkLoggers.get(opts.level);
    if (!shared) sdkLoggers.set(opts.level, (shared = logger.child({ sdk: true }, opts)));
    return shared;
  };
  // OFREP single evaluation, the hottest route, skips Fastify's per-request machinery when it can (see the lane).
  const lane: { current?: FastLane } = {};
  const app = Fastify({
    serverFactory: fastLaneServer(() => lane.current),
    childLoggerFactory,
    logger: options.logger ?? false,
    forceCloseConnections: true,
    bodyLimit: 1024 * 1024,
    trustProxy: options.trustProxy ?? false,
    // Requests Node's parser rejects (oversized headers, malformed request lines) get the one error shape.
    clientErrorHandler,
    // Router-level failures (malformed URL, over-long path parameter) get the one error shape too.
    frameworkErrors: (error, _request, reply) => {
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      void (reply as FastifyReply).status(status).send({ error: { code: 'bad_request', message: `malformed request URL: ${error.message}` } });
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const services = createServices(options.db, { ...options, log: app.log });
  app.decorate('services', services);
  const { flags, ruleSets, releases, runner } = services;

  await app.register(errorsPlugin);
  await app.register(storableTextPlugin);
  await app.register(metricsPlugin, { flags, defaultMetrics: options.defaultMetrics });
  // Security headers on the dashboard, the management API and /docs (see the plugin).
  await app.register(securityHeadersPlugin);
  await app.register(authPlugin, { credentials: services.credentials, authFailuresPerMinute: options.authFailuresPerMinute });
  // Revocations on any replica reach this one's credential cache and open streams.
  services.feed.subscribe({ onEntry: (entry) => entry.revoked.forEach((r) => app.credentialsRevoked(r)) });
  await app.register(sdkCorsPlugin);
  await app.register(openapiPlugin, { version: VERSION });
  await app.register(sessionsRoutes, { credentials: services.credentials });
  await app.register(eventsPlugin, { dashboard: services.dashboard, heartbeatMs: options.heartbeatMs, maxStreams: options.maxDashboardStreams });

  registerClusterMetrics(app, services);
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  // Ready once this replica follows the change feed (and its last read succeeded): until then its
  // caches could serve rules older than what other replicas serve.
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const reachable = await services.db.ping().then(() => true, () => false);
    await services.feed.catchUp();
    if (reachable && services.feed.ready) return { status: 'ready', position: services.feed.position, leader: services.db.leadership.isLeader() };
    return reply.status(503).send({ error: { code: 'unavailable', message: 'not caught up with the change feed: the database is unreachable (or the replica is starting)' } });
  });

  await app.register(environmentsRoutes, { environments: services.environments });
  await app.register(flagsRoutes, { flags, changeRequests: services.changeRequests, lifecycle: services.lifecycle });
  await app.register(flagSummariesRoutes, { summaries: new FlagSummariesService(services.writes, services.lifecycle) });
  await app.register(codeRefsRoutes, { codeRefs: services.codeRefs });
  await app.register(segmentsRoutes, { segments: services.segments });
  await app.register(promotionsRoutes, { promotions: new PromotionsService(services.writes, flags, services.changeRequests) });
  await app.register(auditRoutes, { audit: new AuditService(services.writes), flags });
  await app.register(tokensRoutes, { credentials: services.credentials });
  await app.register(rulesRoutes, { ruleSets });
  await app.register(streamRoutes, { ruleSets, streams: services.streams, feed: services.feed, maxStreamsPerKey: options.maxStreamsPerKey });
  await app.register(ofrepRoutes, { ruleSets, feed: services.feed, credentials: services.credentials, maxStreamsPerKey: options.maxStreamsPerKey, maxStreamsPerAddress: options.maxStreamsPerAddress, heartbeatMs: options.heartbeatMs });
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  lane.current = ofrepFastLane({
    flagsOf: (environment) => ruleSets.compiledNow(environment),
    sdkKey: (authorization) => app.cachedSdkKey(authorization),
    stats: app.requestStats.route('POST', OFREP_SINGLE_ROUTE),
    replay: replayThrough(app),
    closing: () => closing,
  });
  await app.register(releasesRoutes, { releases, changeRequests: services.changeRequests });
  await app.register(webhooksRoutes, { webhooks: services.webhooks });
  await app.register(metricsRoutes, { releases, ruleSets, onMetrics: (environment, flag) => runner.poke(environment, flag) });
  await app.register(evaluationsRoutes, { evaluations: services.evaluations, releases });
  await app.register(gitopsRoutes, { gitops: services.gitops, sync: services.sync });
  await app.register(schedulesRoutes, { schedules: services.schedules });
  await app.register(changeRequestsRoutes, { changeRequests: services.changeRequests });

  const dashboardDir = options.dashboardDir === undefined ? DASHBOARD_DIR : options.dashboardDir;
  if (dashboardDir && existsSync(dashboardDir)) {
    // Hashed assets cached for a year, index.html revalidated, all compressed once at startup.
    await app.register(dashboardRoutes, { root: dashboardDir });
  }

  app.addHook('onReady', () => startServices(services));
  app.addHook('onClose', () => stopServices(services));
  return app as unknown as FastifyInstance & { services: Services };
}
