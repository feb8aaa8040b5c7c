import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError } from '../domain/errors.js';
import type { RuleSetCache } from '../services/rulesets.js';
import { SDK_ROUTE_LOG_LEVEL } from './request-context.js';

/** Polling: the whole rule set of the SDK key's environment, with ETag / If-None-Match → 304. */
export const rulesRoutes: FastifyPluginAsyncZod<{ ruleSets: RuleSetCache }> = async (app, { ruleSets }) => {
  app.get('/api/sdk/rules', {
    logLevel: SDK_ROUTE_LOG_LEVEL,
    schema: { tags: ['sdk'], summary: "The SDK key's environment rule set (304 when unchanged)" },
    onRequest: app.requireSdkKey,
  }, async (request, reply) => {
    const principal = request.principal as { environment: string };
    const snapshot = await ruleSets.json(principal.environment);
    if (!snapshot) throw new AppError('not_found', `environment "${principal.environment}" no longer exists`);
    const etag = `"${snapshot.version}"`;
    reply.header('etag', etag).header('cache-control', 'no-cache');
    const inm = request.headers['if-none-match'];
    if (inm !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) return reply.status(304).send();
    return reply.type('application/json').send(snapshot.body);
  });
};
