import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { auditContext, expectedVersion, iso } from './request-context.js';
import { errorResponses, rowIdSchema } from './responses.js';
import {
  APPROVER_ROLES,
  CHANGE_REQUEST_STATUSES,
  MAX_CHANGES,
  RELEASE_ACTIONS,
  policyBodySchema,
  renderDiff,
  requestedChangeSchema,
  type ChangeRequestStatus,
  type Person,
} from '../domain/change-requests.js';
import { AppError } from '../domain/errors.js';
import { LIMITS } from '../domain/flags.js';
import type { ChangeRequestView, ChangeRequestsService, PolicyView } from '../services/change-requests/change-requests.service.js';

const tags = ['change requests'];
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const reasonSchema = z.string().trim().min(1).max(LIMITS.description);

export const policyResponse = z
  .object({
    environment: z.string(),
    required: z.boolean(),
    approvals: z.int(),
    approverRoles: z.array(z.enum(APPROVER_ROLES)),
    adminBypass: z.boolean(),
    version: z.int().describe('0: no policy was ever set here (changes are written directly)'),
    updatedAt: z.string().nullable(),
    updatedBy: z.string().nullable(),
  })
  .meta({ id: 'ApprovalPolicy' });

const toPolicyResponse = (p: PolicyView): z.infer<typeof policyResponse> => ({
  environment: p.environment,
  required: p.required,
  approvals: p.approvals,
  approverRoles: p.approverRoles,
  adminBypass: p.adminBypass,
  version: p.version,
  updatedAt: isoOrNull(p.updatedAt),
  updatedBy: p.updatedBy,
});

const diffLine = z.object({ field: z.string(), before: z.unknown(), after: z.unknown(), text: z.string() });

export const changeRequestResponse = z
  .object({
    id: z.int(),
    title: z.string(),
    description: z.string(),
    environment: z.string(),
    status: z.enum(CHANGE_REQUEST_STATUSES).describe('open → approved → applied; or rejected, withdrawn'),
    author: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    version: z.int(),
    changes: z.array(
      z.object({
        type: z.enum(['targeting', 'stage', 'segment', 'release']),
        flag: z.string().optional(),
        segment: z.string().optional(),
        environment: z.string().optional(),
        stage: z.string().optional(),
        variation: z.string().optional(),
        config: z.record(z.string(), z.unknown()).optional(),
        promotedFrom: z.string().optional().describe('A targeting change opened by a promotion: the environment whose targeting it copies (applied, it is audited as `flag.promoted`)'),
        patch: z.record(z.string(), z.unknown()).optional(),
        action: z.enum(RELEASE_ACTIONS).optional().describe("A release change: start or resume the flag's saved release plan"),
        planVersion: z.int().optional().describe('A release change: the release plan version it was made against'),
        plan: z
          .object({ version: z.int(), status: z.string(), strategy: z.string(), steps: z.array(z.number()), guarded: z.boolean(), currentStep: z.int().nullable() })
          .optional()
          .describe('A release change: the plan as it was when the change was made (or rebased)'),
        baseVersion: z.int().describe('The version of the flag or segment it was made against: applying refuses when it moved since (rebase then)'),
        diff: z.array(diffLine).describe('What it changes, field by field, against its base version'),
      }),
    ),
    approvals: z.array(z.object({ actor: z.string(), role: z.string(), at: z.string() })),
    approvalsNeeded: z.int().describe('Under the policy that governs it now (0: no policy applies)'),
    approvalsCounted: z.int().describe('Approvals that count: from people other than the author, with an allowed role'),
    policy: z.object({ required: z.boolean(), approvals: z.int(), approverRoles: z.array(z.string()), adminBypass: z.boolean() }),
    comments: z.array(z.object({ actor: z.string(), at: z.string(), body: z.string() })),
    resolvedBy: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    reason: z.string().nullable().describe("A rejection's or a withdrawal's reason, or the admin's reason for bypassing approvals"),
    bypassed: z.boolean(),
  })
  .meta({ id: 'ChangeRequest' });

export function toChangeRequestResponse({ request: r, policy, counted }: ChangeRequestView): z.infer<typeof changeRequestResponse> {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    environment: r.environment,
    status: r.status,
    author: r.author,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    version: r.version,
    changes: r.changes.map(({ before: _b, after: _a, ...change }) => ({ ...change, diff: renderDiff({ ...change, before: _b, after: _a }) })),
    approvals: r.approvals.map((a) => ({ actor: a.actor, role: a.role, at: iso(a.at) })),
    approvalsNeeded: policy.required ? policy.approvals : 0,
    approvalsCounted: counted,
    policy,
    comments: r.comments.map((c) => ({ ...c, at: iso(c.at) })),
    resolvedBy: r.resolvedBy,
    resolvedAt: isoOrNull(r.resolvedAt),
    reason: r.reason,
    bypassed: r.bypassed,
  };
}

const createBody = z.strictObject({
  title: z.string().trim().min(1).max(LIMITS.name),
  description: z.string().max(LIMITS.description).optional(),
  environment: z.string().min(1).max(LIMITS.key).describe('The environment it changes (its policy governs it; a segment change is governed by every policy)'),
  changes: z.array(requestedChangeSchema).min(1).max(MAX_CHANGES),
});

const statusList = z
  .string()
  .max(100)
  .transform((text, ctx) => {
    const statuses = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = statuses.find((s) => !(CHANGE_REQUEST_STATUSES as readonly string[]).includes(s));
    if (unknown !== undefined) ctx.addIssue({ code: 'custom', message: `unknown status "${unknown}": use ${CHANGE_REQUEST_STATUSES.join(', ')} (comma-separated)` });
    return statuses as ChangeRequestStatus[];
  });

const listQuery = z.strictObject({
  status: statusList.optional().describe('Comma-separated: open, approved, applied, rejected, withdrawn'),
  environment: z.string().max(LIMITS.key).optional(),
  flag: z.string().max(LIMITS.key).optional().describe('Requests that change this flag'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const idParams = z.strictObject({ id: rowIdSchema });
const envParams = z.strictObject({ environment: z.string().max(LIMITS.key) });

/** Who is acting, as a change request knows them: the token's name (as the audit log records it), id and role. */
export function personOf(request: FastifyRequest): Person {
  const p = request.principal;
  if (p?.kind !== 'api') throw new AppError('forbidden', 'change requests need an API token');
  return { actor: p.name, tokenId: p.tokenId, role: p.role };
}

export const changeRequestsRoutes: FastifyPluginAsyncZod<{ changeRequests: ChangeRequestsService }> = async (app, { changeRequests }) => {
  app.get('/api/approval-policies', {
    schema: { tags, summary: 'The approval policy of every environment', response: { 200: z.object({ items: z.array(policyResponse) }), ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async () => ({ items: (await changeRequests.policies()).map(toPolicyResponse) }));

  app.get('/api/environments/:environment/approval-policy', {
    schema: { tags, summary: "An environment's approval policy", params: envParams, response: { 200: policyResponse, ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request) => toPolicyResponse(await changeRequests.policy(request.params.environment)));

  app.put('/api/environments/:environment/approval-policy', {
    schema: {
      tags,
      summary: "Set an environment's approval policy (admin; audited)",
      description:
        'With `required: true`, stage changes (but never the kill switch), targeting edits and — since segments reach every environment — segment edits need an approved change request (POST /api/change-requests); direct writes get 409 `approval_required`. `approvals` (1..5) must come from people other than the author with one of `approverRoles`; `adminBypass` lets an admin apply without them, giving a reason.',
      params: envParams,
      body: policyBodySchema,
      response: { 200: policyResponse, ...errorResponses },
    },
    onRequest: app.requireRole('admin'),
  }, async (request) => {
    const { version, ...settings } = request.body;
    const policy = await changeRequests.setPolicy(request.params.environment, settings, expectedVersion(request, version, false), auditContext(request));
    return toPolicyResponse(policy);
  });

  app.get('/api/change-requests', {
    schema: { tags, summary: 'List change requests, newest first', querystring: listQuery, response: { 200: z.object({ items: z.array(changeRequestResponse) }), ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const { status, environment, flag, limit } = request.query;
    const items = await changeRequests.list({ ...(status && status.length > 0 ? { statuses: status } : {}), ...(environment !== undefined ? { environment } : {}), ...(flag !== undefined ? { flag } : {}), limit });
    return { items: items.map(toChangeRequestResponse) };
  });

  app.post('/api/change-requests', {
    schema: {
      tags,
      summary: 'Propose changes: flag targeting, stage moves, segment edits, each with the version it was made against',
      description:
        'Each change is validated and its diff computed by applying it, at its base version, in a transaction that is rolled back; nothing changes until the request is applied. Stage and targeting changes belong to the request\'s environment.',
      body: createBody,
      response: { 201: changeRequestResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const created = await changeRequests.create(request.body, personOf(request), auditContext(request));
    return reply.status(201).send(toChangeRequestResponse(created));
  });

  app.get('/api/change-requests/:id', {
    schema: { tags, summary: 'A change request with a rendered diff per change', params: idParams, response: { 200: changeRequestResponse, ...errorResponses } },
    onRequest: app.requireRole('viewer'),
  }, async (request) => toChangeRequestResponse(await changeRequests.get(request.params.id)));

  app.post('/api/change-requests/:id/comments', {
    schema: { tags, summary: 'Comment on a change request', params: idParams, body: z.strictObject({ body: z.string().trim().min(1).max(LIMITS.description) }), response: { 201: changeRequestResponse, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const updated = await changeRequests.comment(request.params.id, request.body.body, personOf(request), auditContext(request));
    return reply.status(201).send(toChangeRequestResponse(updated));
  });

  app.post('/api/change-requests/:id/approve', {
    schema: {
      tags,
      summary: 'Approve (not your own; a role the policy allows)',
      description: 'Two approvals at once both count. The request becomes `approved` once it has the approvals its policy needs.',
      params: idParams,
      body: z.strictObject({ message: z.string().max(LIMITS.description).optional() }).nullish(),
      response: { 200: changeRequestResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request) => toChangeRequestResponse(await changeRequests.approve(request.params.id, personOf(request), auditContext(request, { message: request.body?.message }))));

  app.post('/api/change-requests/:id/reject', {
    schema: { tags, summary: 'Reject, with a reason', params: idParams, body: z.strictObject({ reason: reasonSchema }), response: { 200: changeRequestResponse, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request) => toChangeRequestResponse(await changeRequests.reject(request.params.id, request.body.reason, personOf(request), auditContext(request, { message: request.body.reason }))));

  app.post('/api/change-requests/:id/withdraw', {
    schema: { tags, summary: 'Withdraw a request (its author, or an admin)', params: idParams, body: z.strictObject({ reason: reasonSchema.optional() }).nullish(), response: { 200: changeRequestResponse, ...errorResponses } },
    onRequest: app.requireRole('editor'),
  }, async (request) => toChangeRequestResponse(await changeRequests.withdraw(request.params.id, request.body?.reason, personOf(request), auditContext(request))));

  app.post('/api/change-requests/:id/rebase', {
    schema: {
      tags,
      summary: 'Re-base onto the current versions: diffs are recomputed and approvals start over',
      description: 'For a request whose apply was refused because something it touches changed since. Any editor may rebase it: it is `open` again, with no approvals, so the new diff is approved before it applies.',
      params: idParams,
      response: { 200: changeRequestResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request) => toChangeRequestResponse(await changeRequests.rebase(request.params.id, personOf(request), auditContext(request))));

  app.post('/api/change-requests/:id/apply', {
    schema: {
      tags,
      summary: 'Apply every change at once, with the versions they were made against',
      description:
        'Needs the approvals the policy asks for — or, where the policy allows it, an admin giving `bypassReason` (audited). 409 naming the flag or segment when one changed since the request was made: rebase it (POST …/rebase).',
      params: idParams,
      body: z.strictObject({ bypassReason: reasonSchema.optional().describe('Admins only, where the policy has adminBypass: why the approvals are skipped') }).nullish(),
      response: { 200: changeRequestResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request) => toChangeRequestResponse(await changeRequests.apply(request.params.id, request.body?.bypassReason, personOf(request), auditContext(request))));
};
