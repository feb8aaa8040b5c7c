import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditContext, expectedVersion, iso } from './request-context.js';
import { errorResponses, rowIdSchema } from './responses.js';
import { LIMITS } from '../domain/flags.js';
import { IF_CHANGED_POLICIES, LATE_POLICIES, MAX_GRACE_MS, SCHEDULE_STATUSES, type Schedule, type ScheduleStatus } from '../domain/schedules.js';
import type { SchedulesService } from '../services/schedules/schedules.service.js';

const tags = ['schedules'];
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

const atSchema = z
  .string()
  .min(1)
  .max(64)
  .describe('When, as ISO-8601 with a zone: `2026-12-08T09:00Z` or `2026-12-08T10:00:00+01:00` (stored in UTC). A time without a zone, an impossible date or a time in the past is a 400.');

const actionSchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('stage'),
      stage: z.string().min(1).max(20).describe('off | dogfood | 10% | 0.5% | 100% (kill is the kill action)'),
      variation: z.string().max(64).optional().describe('Variation to release (non-boolean flags), as for the stage route'),
    }),
    z.strictObject({ type: z.literal('kill') }),
  ])
  .describe('What to do: move to a release stage (as POST …/stage would), or the kill switch (as POST …/kill would). To apply an approved change request at a time, use POST /api/change-requests/{id}/schedule.');

const onLateSchema = z
  .enum(LATE_POLICIES)
  .describe('When the server was not running at the time and finds it more than `graceSeconds` late: `run` it anyway (default), or `skip` it. Either way the lateness is recorded (`lateBySeconds`, the audit entry, the server log).');
const graceSchema = z
  .int()
  .min(0)
  .max(MAX_GRACE_MS / 1000)
  .describe('How late a run may be and still count as on time; default 300 (5 minutes)');
const ifChangedSchema = z
  .enum(IF_CHANGED_POLICIES)
  .describe(
    'When the fields the action touches in this environment (for a stage: on, killed, default rule, dogfood rule, off variation; for a kill: on, killed) changed since it was scheduled: `fail` (default) records a failure with the reason and overwrites nothing; `apply` applies it anyway. Other changes (other rules, other environments, the name) never conflict, nor does the run of an earlier schedule of the same flag and environment that was made against the same state (a ramp scheduled step by step: 10% Monday, 50% Tuesday).',
  );
const messageSchema = z.string().max(LIMITS.description);

export const scheduleResponse = z
  .object({
    id: z.int(),
    flag: z.string().describe("The flag it changes (a change request's schedule: the request's first flag; empty when it touches only segments)"),
    environment: z.string(),
    at: z.string().describe('When it is due (UTC)'),
    action: z.union([
      z.object({ type: z.literal('stage'), stage: z.string(), variation: z.string().optional() }),
      z.object({ type: z.literal('kill') }),
      z.object({ type: z.literal('change_request'), requestId: z.int().describe('The approved change request it applies') }),
    ]),
    message: z.string().nullable(),
    onLate: z.enum(LATE_POLICIES),
    graceSeconds: z.number(),
    ifChanged: z.enum(IF_CHANGED_POLICIES),
    baseVersion: z.int().describe('The flag version it was made against (or its action last edited against)'),
    status: z.enum(SCHEDULE_STATUSES).describe('pending, then executed, skipped (late, with onLate "skip") or failed; or cancelled'),
    createdAt: z.string(),
    createdBy: z.string(),
    updatedAt: z.string(),
    updatedBy: z.string(),
    version: z.int().describe('Send it back (or If-Match) to edit or cancel only what you read'),
    executedAt: z.string().nullable().describe('When it ran, was skipped or failed'),
    lateBySeconds: z.number().nullable().describe('How late it ran or was skipped, when more than graceSeconds'),
    outcome: z.string().nullable().describe('What it did, or why it failed or was skipped'),
    resultVersion: z.int().nullable().describe("The flag's version after it ran"),
    auditId: z.int().nullable().describe('The audit entry of the flag change it made'),
  })
  .meta({ id: 'Schedule' });

export function toScheduleResponse(s: Schedule): z.infer<typeof scheduleResponse> {
  return {
    id: s.id,
    flag: s.flagKey,
    environment: s.environment,
    at: iso(s.at),
    action: s.action,
    message: s.message,
    onLate: s.onLate,
    graceSeconds: s.graceMs / 1000,
    ifChanged: s.ifChanged,
    baseVersion: s.baseVersion,
    status: s.status,
    createdAt: iso(s.createdAt),
    createdBy: s.createdBy,
    updatedAt: iso(s.updatedAt),
    updatedBy: s.updatedBy,
    version: s.version,
    executedAt: isoOrNull(s.executedAt),
    lateBySeconds: s.lateByMs === null ? null : Math.round(s.lateByMs / 1000),
    outcome: s.outcome,
    resultVersion: s.resultVersion,
    auditId: s.auditId,
  };
}

const createBody = z.strictObject({
  at: atSchema,
  action: actionSchema,
  message: messageSchema.optional().describe('Why: recorded in the audit entries, with who scheduled it'),
  onLate: onLateSchema.optional(),
  graceSeconds: graceSchema.optional(),
  ifChanged: ifChangedSchema.optional(),
});

const patchBody = z
  .strictObject({
    version: z.int().min(1).optional().describe('The version you last read (or send If-Match)'),
    at: atSchema.optional(),
    action: actionSchema.optional().describe('A new action is checked, and recorded against the flag as it is now'),
    message: messageSchema.nullable().optional(),
    onLate: onLateSchema.optional(),
    graceSeconds: graceSchema.optional(),
    ifChanged: ifChangedSchema.optional(),
  })
  .refine((body) => Object.keys(body).some((k) => k !== 'version'), { message: 'nothing to change: send at, action, message, onLate, graceSeconds or ifChanged' });

const statusList = z
  .string()
  .max(200)
  .transform((text, ctx) => {
    const statuses = text.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = statuses.filter((s) => !(SCHEDULE_STATUSES as readonly string[]).includes(s));
    if (unknown.length > 0 || statuses.length === 0) {
      ctx.addIssue({ code: 'custom', message: `unknown status ${JSON.stringify(unknown[0] ?? text)}: use ${SCHEDULE_STATUSES.join(', ')} (comma-separated for several)` });
      return z.NEVER;
    }
    return statuses as ScheduleStatus[];
  });

const listQuery = z.strictObject({
  flag: z.string().max(LIMITS.key).optional(),
  environment: z.string().max(LIMITS.key).optional(),
  status: statusList.optional().describe('pending (upcoming changes), executed, skipped, failed, cancelled; comma-separated for several; default all'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const requestScheduleBody = z.strictObject({
  at: atSchema,
  message: messageSchema.optional().describe('Why: recorded in the audit entries, with who scheduled it'),
  onLate: onLateSchema.optional(),
  graceSeconds: graceSchema.optional(),
});

const envParams = z.strictObject({ key: z.string().max(LIMITS.key), environment: z.string().max(LIMITS.key) });
const idParams = z.strictObject({ id: rowIdSchema });

/**
 * Scheduled changes: a stage move or a kill of one flag in one environment at a time, run once by
 * the leader's scheduler and audited as `scheduler`. Editors create, edit and cancel; viewers list.
 */
export const schedulesRoutes: FastifyPluginAsyncZod<{ schedules: SchedulesService }> = async (app, { schedules }) => {
  app.post('/api/flags/:key/environments/:environment/schedules', {
    schema: {
      tags,
      summary: 'Schedule a stage move or a kill of a flag in an environment',
      description:
        'Runs once, at `at` (within a few seconds), on one replica, as the `scheduler` (the audit entry says who scheduled it). A flag managed by Git cannot be scheduled to move (423, as for a manual change), but a kill can be, as the kill switch can. See `onLate` and `ifChanged` for what happens after downtime and after other edits.',
      params: envParams,
      body: createBody,
      response: { 201: scheduleResponse, ...errorResponses, 423: errorResponses[409] },
    },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { key, environment } = request.params;
    const { message, ...input } = request.body;
    const ctx = auditContext(request, { message });
    const schedule = await schedules.create(key, environment, { ...input, ...(ctx.message !== undefined ? { message: ctx.message } : {}) }, ctx);
    return reply.status(201).header('etag', `"${schedule.version}"`).send(toScheduleResponse(schedule));
  });

  app.post('/api/change-requests/:id/schedule', {
    schema: {
      tags,
      summary: 'Schedule the apply of an approved change request',
      description:
        'Only an approved request can be scheduled, and only once at a time (409 otherwise). When due it is applied as POST /api/change-requests/{id}/apply would apply it, by the `scheduler` (the audit entries say who scheduled it), once, on one replica. If by then it is no longer approved (rejected, withdrawn, rebased so its approvals started over, or applied by hand) or anything it touches changed since it was made, the run fails with the reason in `outcome` (audited) and changes nothing. `ifChanged` is always `fail`.',
      params: idParams,
      body: requestScheduleBody,
      response: { 201: scheduleResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { message, ...input } = request.body;
    const ctx = auditContext(request, { message });
    const schedule = await schedules.scheduleRequest(request.params.id, { ...input, ...(ctx.message !== undefined ? { message: ctx.message } : {}) }, ctx);
    return reply.status(201).header('etag', `"${schedule.version}"`).send(toScheduleResponse(schedule));
  });

  app.get('/api/schedules', {
    schema: {
      tags,
      summary: 'List scheduled changes, soonest first (upcoming ones: status=pending)',
      querystring: listQuery,
      response: { 200: z.object({ items: z.array(scheduleResponse) }), ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const { flag, environment, status, limit } = request.query;
    const items = await schedules.list({ flagKey: flag, environment, statuses: status, limit });
    return { items: items.map(toScheduleResponse) };
  });

  app.get('/api/schedules/:id', {
    schema: { tags, summary: 'Read a scheduled change', params: idParams, response: { 200: scheduleResponse, ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request, reply) => {
    const schedule = await schedules.get(request.params.id);
    return reply.header('etag', `"${schedule.version}"`).send(toScheduleResponse(schedule));
  });

  app.patch('/api/schedules/:id', {
    schema: {
      tags,
      summary: 'Edit a pending scheduled change (time, action, message, policies)',
      description: '409 once it ran, failed, was skipped or cancelled. `version` (or If-Match) is optional: send it to refuse an edit of a schedule changed since you read it.',
      params: idParams,
      body: patchBody,
      response: { 200: scheduleResponse, ...errorResponses, 423: errorResponses[409] },
    },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { version, ...patch } = request.body;
    const schedule = await schedules.update(request.params.id, patch, expectedVersion(request, version, false), auditContext(request));
    return reply.header('etag', `"${schedule.version}"`).send(toScheduleResponse(schedule));
  });

  app.delete('/api/schedules/:id', {
    schema: {
      tags,
      summary: 'Cancel a pending scheduled change (kept in the list as cancelled)',
      params: idParams,
      body: z.strictObject({ version: z.int().min(1).optional(), message: messageSchema.optional() }).nullish(),
      response: { 200: scheduleResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const schedule = await schedules.cancel(request.params.id, expectedVersion(request, request.body?.version, false), auditContext(request, { message: request.body?.message }));
    return toScheduleResponse(schedule);
  });
};
