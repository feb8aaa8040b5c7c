import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditContext, iso } from './request-context.js';
import { errorResponses, rowIdSchema } from './responses.js';
import { WEBHOOK_EVENTS, newWebhookSecret, type WebhookDelivery } from '../domain/releases/webhooks.js';
import type { WebhookDispatcher } from '../services/releases/webhooks.js';

/** Shapes are documented by the request schemas and the plan types; responses are built from validated data. */
const ok = { 200: z.unknown(), 201: z.unknown(), 204: z.null(), ...errorResponses };
const tags = ['webhooks'];
const idParams = z.strictObject({ id: rowIdSchema });
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

const urlSchema = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2000);

const toDelivery = (d: WebhookDelivery) => ({ ...d, createdAt: iso(d.createdAt), nextAttemptAt: isoOrNull(d.nextAttemptAt), deliveredAt: isoOrNull(d.deliveredAt) });

/** Webhooks for stage changes and release decisions; admin only (their secrets sign payloads). */
export const webhooksRoutes: FastifyPluginAsyncZod<{ webhooks: WebhookDispatcher }> = async (app, { webhooks }) => {
  app.get('/api/webhooks', {
    schema: { tags, summary: 'List webhooks (never their secrets)', response: ok },
    onRequest: app.requireRole('admin'),
  }, async () => ({ items: (await webhooks.list()).map((hook) => ({ ...hook, createdAt: iso(hook.createdAt) })) }));

  app.post('/api/webhooks', {
    schema: {
      tags,
      summary: 'Add a webhook; the signing secret is shown once',
      body: z.strictObject({ url: urlSchema, events: z.array(z.enum([...WEBHOOK_EVENTS, '*'])).min(1).max(WEBHOOK_EVENTS.length + 1).default(['*']) }),
      response: ok,
    },
    onRequest: app.requireRole('admin'),
  }, async (request, reply) => {
    const secret = newWebhookSecret();
    const hook = await webhooks.create({ url: request.body.url, events: [...new Set(request.body.events)], secret }, auditContext(request));
    return reply.status(201).send({ ...hook, createdAt: iso(hook.createdAt), secret });
  });

  app.delete('/api/webhooks/:id', {
    schema: { tags, summary: 'Remove a webhook and its delivery log', params: idParams, response: ok },
    onRequest: app.requireRole('admin'),
  }, async (request, reply) => {
    await webhooks.remove(request.params.id, auditContext(request));
    return reply.status(204).send(null);
  });

  app.get('/api/webhooks/:id/deliveries', {
    schema: { tags, summary: 'Delivery log of a webhook, newest first', params: idParams, querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50) }), response: ok },
    onRequest: app.requireRole('admin'),
  }, async (request) => {
    return { items: (await webhooks.deliveries(request.params.id, request.query.limit)).map(toDelivery) };
  });
};
