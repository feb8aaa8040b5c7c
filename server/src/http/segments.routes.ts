import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LIMITS } from '../domain/flags.js';
import { auditContext, expectedVersion, iso } from './request-context.js';
import { errorResponses } from './responses.js';
import type { Managed } from '../domain/flags.js';
import { segmentBodySchema, segmentPatchSchema, segmentResponseSchema, segmentUseSchema, type Segment } from '../domain/segments.js';
import type { SegmentsService } from '../services/segments.service.js';

const toResponse = ({ value: s }: Managed<Segment>) => ({ ...s, createdAt: iso(s.createdAt), updatedAt: iso(s.updatedAt) });
const params = z.strictObject({ key: z.string().max(LIMITS.key) });

export const segmentsRoutes: FastifyPluginAsyncZod<{ segments: SegmentsService }> = async (app, { segments }) => {
  app.get('/api/segments', {
    schema: { tags: ['segments'], summary: 'List segments (global, shared by all environments)', response: { 200: z.object({ items: z.array(segmentResponseSchema) }), ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async () => ({ items: (await segments.list()).map(toResponse) }));

  app.post('/api/segments', {
    schema: { tags: ['segments'], summary: 'Create a segment', body: segmentBodySchema, response: { 201: segmentResponseSchema, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => reply.status(201).send(toResponse(await segments.create(request.body, auditContext(request)))));

  app.get('/api/segments/:key', {
    schema: { tags: ['segments'], summary: 'Read a segment', params, response: { 200: segmentResponseSchema, ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request, reply) => {
    const segment = await segments.get(request.params.key);
    return reply.header('etag', `"${segment.value.version}"`).send(toResponse(segment));
  });

  app.get('/api/segments/:key/usage', {
    schema: {
      tags: ['segments'],
      summary: 'Which flags use a segment: one item per flag, environment and rule whose clauses name it (in_segment or not_in_segment) — what keeps it from being deleted',
      description:
        'Answers `{ items: [{ flagKey, flagName, flagArchived, environment, ruleId, ruleDescription, ruleIndex, operator }] }`, ordered by flag key, environment (in the environments\' order) and rule position. Archived flags count: their rules still refer to the segment. 404 when there is no such segment.',
      params,
      response: { 200: z.object({ items: z.array(segmentUseSchema) }), ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => ({ items: await segments.usage(request.params.key) }));

  app.patch('/api/segments/:key', {
    schema: { tags: ['segments'], summary: 'Change a segment (e.g. add dogfood users to "internal")', params, body: segmentPatchSchema, response: { 200: segmentResponseSchema, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { version, ...patch } = request.body;
    const segment = await segments.update(request.params.key, expectedVersion(request, version), patch, auditContext(request));
    return reply.header('etag', `"${segment.value.version}"`).send(toResponse(segment));
  });

  app.delete('/api/segments/:key', {
    schema: { tags: ['segments'], summary: 'Delete a segment no flag uses', params, body: z.strictObject({ version: z.int().min(1).optional() }).nullish(), response: { 200: segmentResponseSchema, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request) => toResponse(await segments.remove(request.params.key, expectedVersion(request, request.body?.version), auditContext(request))));
};
