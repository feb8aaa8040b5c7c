import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LIMITS } from '../domain/flags.js';
import type { FlagsService } from '../services/flags.service.js';
import { toFlagResponse } from './flags.routes.js';
import { auditContext, expectedVersion, iso } from './request-context.js';
import { errorResponses, pageQuery, rowIdSchema } from './responses.js';
import { AUDIT_RESOURCES, AUDIT_SOURCES, type AuditEntry, type AuditQuery } from '../domain/audit.js';
import type { AuditService } from '../services/audit.service.js';

export const auditEntryResponse = z.object({
  id: z.int(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  resourceType: z.enum(AUDIT_RESOURCES),
  resourceKey: z.string(),
  environment: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  source: z.enum(AUDIT_SOURCES),
  message: z.string().nullable(),
  commit: z.string().nullable(),
});

const pageResponse = z.object({ items: z.array(auditEntryResponse), nextCursor: z.int().nullable() });

const toResponse = (e: AuditEntry) => ({ ...e, at: iso(e.at) });

async function page(audit: AuditService, query: AuditQuery) {
  const items = await audit.list(query);
  return { items: items.map(toResponse), nextCursor: items.length === query.limit ? items[items.length - 1]!.id : null };
}

export const auditRoutes: FastifyPluginAsyncZod<{ audit: AuditService; flags: FlagsService }> = async (app, { audit, flags }) => {
  app.get('/api/audit', {
    schema: {
      tags: ['audit'],
      summary: 'Global audit log, newest first (cursor pagination)',
      querystring: pageQuery.extend({
        resourceType: z.enum(AUDIT_RESOURCES).optional(),
        resourceKey: z.string().max(LIMITS.key).optional(),
        environment: z.string().max(LIMITS.key).optional(),
        actor: z.string().max(LIMITS.name).optional(),
      }),
      response: { 200: pageResponse, ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => page(audit, request.query));

  app.get('/api/flags/:key/audit', {
    schema: { tags: ['audit'], summary: "A flag's history, newest first", params: z.strictObject({ key: z.string().max(LIMITS.key) }), querystring: pageQuery, response: { 200: pageResponse, ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request) => page(audit, { ...request.query, resourceType: 'flag', resourceKey: request.params.key }));

  app.post('/api/audit/:id/revert', {
    schema: {
      tags: ['audit'],
      summary: 'Restore a flag to its state before this entry (itself audited)',
      params: z.strictObject({ id: rowIdSchema }),
      body: z.strictObject({ version: z.int().min(1).optional().describe("The flag's current version, if it still exists"), message: z.string().max(LIMITS.description).optional() }).nullish(),
      response: { 200: z.object({ flag: z.unknown().nullable() }), ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const flag = await flags.revert(request.params.id, expectedVersion(request, request.body?.version, false), auditContext(request, { message: request.body?.message }));
    return { flag: flag ? toFlagResponse(flag.value, flag.managedBy) : null };
  });
};
