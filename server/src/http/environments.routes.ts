import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LIMITS, keySchema } from '../domain/flags.js';
import { auditContext, iso } from './request-context.js';
import { errorResponses } from './responses.js';
import type { Environment } from '../domain/environments.js';
import type { EnvironmentsService } from '../services/environments.service.js';

const environmentResponse = z.object({
  key: z.string(),
  name: z.string(),
  critical: z.boolean().describe('Shown as dangerous in the dashboard; stage changes ask for confirmation'),
  clientSecureMode: z.boolean().describe('Client keys must send user keys signed by your server (HMAC-SHA256 with the secure-mode secret)'),
  sortOrder: z.int(),
  version: z.int().describe('Rule-set version SDKs see'),
  createdAt: z.string(),
});

const toResponse = (e: Environment) => ({ ...e, createdAt: iso(e.createdAt) });
const params = z.strictObject({ environment: z.string().max(LIMITS.key) });

/** Environments: keys are immutable identifiers; "rename" changes the display name. */
export const environmentsRoutes: FastifyPluginAsyncZod<{ environments: EnvironmentsService }> = async (app, { environments }) => {
  app.get('/api/environments', {
    schema: { tags: ['environments'], summary: 'List environments', response: { 200: z.object({ items: z.array(environmentResponse) }), ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async () => ({ items: (await environments.list()).map(toResponse) }));

  app.post('/api/environments', {
    schema: {
      tags: ['environments'],
      summary: 'Create an environment (every flag starts off in it)',
      body: z.strictObject({ key: keySchema, name: z.string().min(1).max(LIMITS.name).optional(), critical: z.boolean().default(false) }),
      response: { 201: environmentResponse, ...errorResponses },
    },
    onRequest: app.requireRole('admin'),
  }, async (request, reply) => {
    const { key, name, critical } = request.body;
    const created = await environments.create({ key, name: name ?? key, critical }, auditContext(request));
    return reply.status(201).send(toResponse(created));
  });

  app.patch('/api/environments/:environment', {
    schema: {
      tags: ['environments'],
      summary: 'Rename an environment or change its order / critical marker',
      params,
      body: z.strictObject({ name: z.string().min(1).max(LIMITS.name).optional(), critical: z.boolean().optional(), sortOrder: z.int().min(0).max(10_000).optional() }),
      response: { 200: environmentResponse, ...errorResponses },
    },
    onRequest: app.requireRole('admin'),
  }, async (request) => {
    const patch = Object.fromEntries(Object.entries(request.body).filter(([, v]) => v !== undefined));
    return toResponse(await environments.update(request.params.environment, patch, auditContext(request)));
  });

  app.post('/api/environments/:environment/secure-mode', {
    schema: {
      tags: ['environments'],
      summary: 'Turn secure mode on for client keys, or rotate its secret (the old one stops working at once); the secret is shown once',
      params,
      response: {
        200: environmentResponse.extend({
          secret: z.string().describe('Shown once: give it to your application server, which signs each user key as hex HMAC-SHA256(secret, targetingKey)'),
        }),
        ...errorResponses,
      },
    },
    onRequest: app.requireRole('admin'),
  }, async (request) => {
    const { environment, secret } = await environments.rotateClientSecret(request.params.environment, auditContext(request));
    return { ...toResponse(environment), secret };
  });

  app.delete('/api/environments/:environment/secure-mode', {
    schema: { tags: ['environments'], summary: 'Turn secure mode off: client keys may ask for any user key again', params, response: { 200: environmentResponse, ...errorResponses } },
    onRequest: app.requireRole('admin'),
  }, async (request) => {
    return toResponse(await environments.disableSecureMode(request.params.environment, auditContext(request)));
  });

  app.delete('/api/environments/:environment', {
    schema: { tags: ['environments'], summary: 'Delete an environment that has no SDK keys', params, response: { 200: environmentResponse, ...errorResponses } },
    onRequest: app.requireRole('admin'),
  }, async (request) => {
    return toResponse(await environments.remove(request.params.environment, auditContext(request)));
  });
};
