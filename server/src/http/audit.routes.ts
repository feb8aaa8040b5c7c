import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LIMITS } from '../domain/flags.js';
import { segmentResponseSchema } from '../domain/segments.js';
import type { FlagsService } from '../services/flags.service.js';
import { flagResponse, toFlagResponse } from './flags.routes.js';
import { auditContext, expectedVersion, iso } from './request-context.js';
import { errorResponses, pageQuery, rowIdSchema } from './responses.js';
import { AUDIT_RESOURCES, AUDIT_SOURCES, type AuditQuery } from '../domain/audit.js';
import type { AuditService, DescribedAuditEntry } from '../services/audit.service.js';

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
  summary: z.string().describe('The change as one readable sentence, e.g. "10% → 100% in Production" or "added 3 members to internal" (a flag entry leaves the flag out: it is resourceKey)'),
});

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$/i;
const DAY_MS = 86_400_000;

/** Whether year-month-day names a real day (Date.parse takes 2026-02-31 for March 3). */
function realDay(year: string, month: string, day: string): boolean {
  const d = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return d.getUTCFullYear() === Number(year) && d.getUTCMonth() === Number(month) - 1 && d.getUTCDate() === Number(day);
}

/**
 * A time bound of the audit log: an ISO 8601 time with its zone (`2026-12-01T09:00:00Z`,
 * `…+01:00`), or a day (`2026-12-01`, UTC), which as `until` means the end of that day so
 * `since=D&until=D` is the whole day. A time without a zone would depend on the server's.
 */
const timeBound = (bound: 'since' | 'until') =>
  z
    .string()
    .max(40)
    .transform((value, ctx) => {
      const day = DATE.exec(value);
      if (day && realDay(day[1]!, day[2]!, day[3]!)) return Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])) + (bound === 'until' ? DAY_MS : 0);
      const time = DATE_TIME.exec(value);
      if (time && !time[7]) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} has no time zone: add Z or an offset such as +01:00` });
        return z.NEVER;
      }
      const ms = time && realDay(time[1]!, time[2]!, time[3]!) && Number(time[4]) < 24 && Number(time[5]) < 60 && Number(time[6] ?? 0) < 60 ? Date.parse(value) : NaN;
      if (Number.isNaN(ms)) {
        ctx.addIssue({ code: 'custom', message: `expected an ISO 8601 day or time such as 2026-12-01 or 2026-12-01T09:00:00Z, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return ms;
    })
    .describe(
      bound === 'since'
        ? 'Entries at or after this time: ISO 8601 with a zone (2026-12-01T09:00:00Z) or a day (2026-12-01, from its start, UTC)'
        : 'Entries before this time: ISO 8601 with a zone, or a day (2026-12-01: up to the end of that day, UTC)',
    );

const pageResponse = z.object({ items: z.array(auditEntryResponse), nextCursor: z.int().nullable() });

const fieldRef = { environment: z.string().nullable().describe("The flag environment the field belongs to (null: the flag's or segment's own field)"), field: z.string() };

export const revertPreviewResponse = z.object({
  entry: auditEntryResponse,
  operation: z.enum(['update', 'delete', 'recreate']).describe('update: set the fields back; delete: undo a creation; recreate: undo a deletion'),
  version: z.int().nullable().describe("The resource's current version (null: it does not exist): send it with POST …/revert"),
  changes: z.array(z.object({ ...fieldRef, current: z.unknown(), reverted: z.unknown(), text: z.string().describe('Readable, e.g. "production: defaultServe on → on 10% / off 90%"') })),
  stages: z.array(z.object({ environment: z.string(), current: z.string(), reverted: z.string() })).describe('Release stages the revert moves, e.g. 100% → 10%'),
  summary: z.array(z.string()),
  conflicts: z.array(z.object({
    entry: z.object({ id: z.int(), actor: z.string(), at: z.string(), action: z.string() }).nullable().describe('The later entry (null: a change the log no longer holds)'),
    fields: z.array(z.object(fieldRef)).describe('Fields both changed (empty: the later change created or deleted the whole resource)'),
  })),
  canApply: z.boolean(),
  refusal: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }).nullable().describe('The error POST …/revert would answer with now'),
});

const revertResponse = z.object({
  flag: flagResponse.nullable().optional().describe('The flag after the revert (null: it was deleted); for flag entries'),
  segment: segmentResponseSchema.nullable().optional().describe('The segment after the revert (null: it was deleted); for segment entries'),
});

const toResponse = (e: DescribedAuditEntry) => ({ ...e, at: iso(e.at) });

async function page(audit: AuditService, query: AuditQuery) {
  const items = await audit.list(query);
  return { items: items.map(toResponse), nextCursor: items.length === query.limit ? items[items.length - 1]!.id : null };
}

/** `flags` is still passed by the wiring; reverts now go through AuditService (which writes flags through FlagsService). */
export const auditRoutes: FastifyPluginAsyncZod<{ audit: AuditService; flags?: FlagsService }> = async (app, { audit }) => {
  app.get('/api/audit', {
    schema: {
      tags: ['audit'],
      summary: 'Global audit log, newest first (cursor pagination)',
      querystring: pageQuery.extend({
        resourceType: z.enum(AUDIT_RESOURCES).optional(),
        resourceKey: z.string().max(LIMITS.key).optional(),
        environment: z.string().max(LIMITS.key).optional(),
        actor: z.string().max(LIMITS.name).optional(),
        since: timeBound('since').optional(),
        until: timeBound('until').optional(),
      }).refine((q) => q.since === undefined || q.until === undefined || q.since < q.until, { path: ['until'], message: 'must be later than since' }),
      response: { 200: pageResponse, ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => page(audit, request.query));

  app.get('/api/flags/:key/audit', {
    schema: { tags: ['audit'], summary: "A flag's history, newest first", params: z.strictObject({ key: z.string().max(LIMITS.key) }), querystring: pageQuery, response: { 200: pageResponse, ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request) => page(audit, { ...request.query, resourceType: 'flag', resourceKey: request.params.key }));

  const revertParams = z.strictObject({ id: rowIdSchema });

  app.get('/api/audit/:id/revert', {
    schema: {
      tags: ['audit'],
      summary: 'Preview reverting this entry: the fields it would set back, their values now and after, and any later change that blocks it (writes nothing)',
      params: revertParams,
      response: { 200: revertPreviewResponse, ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const preview = await audit.previewRevert(request.params.id);
    return {
      ...preview,
      entry: toResponse(preview.entry),
      canApply: preview.refusal === null,
      conflicts: preview.conflicts.map((c) => ({ ...c, entry: c.entry && { ...c.entry, at: iso(c.entry.at) } })),
    };
  });

  app.post('/api/audit/:id/revert', {
    schema: {
      tags: ['audit'],
      summary: 'Undo exactly what this entry changed (its fields, in its environment), unless a later change touched the same fields (409); itself audited',
      params: revertParams,
      body: z
        .strictObject({
          version: z.int().min(1).optional().describe("The flag's or segment's current version (the preview's \"version\"); required while it exists"),
          message: z.string().max(LIMITS.description).optional().describe('Why: recorded after "revert of audit entry #id: "'),
        })
        .nullish(),
      response: { 200: revertResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const result = await audit.revert(request.params.id, expectedVersion(request, request.body?.version, false), auditContext(request, { message: request.body?.message }));
    if (result.resourceType === 'flag') return { flag: result.value ? toFlagResponse(result.value.value, result.value.managedBy) : null };
    const segment = result.value?.value;
    return { segment: segment ? { ...segment, createdAt: iso(segment.createdAt), updatedAt: iso(segment.updatedAt) } : null };
  });
};
