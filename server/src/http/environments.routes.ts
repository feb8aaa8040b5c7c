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

  app.delete('/api/environments/:environment', {
    schema: { tags: ['environments'], summary: 'Delete an environment that has no SDK keys', params, response: { 200: environmentResponse, ...errorResponses } },
    onRequest: app.requireRole('admin'),
  }, async (request) => {
    return toResponse(await environments.remove(request.params.environment, auditContext(request)));
  });
};
