import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Environment } from '../domain/environments.js';
import { MAX_CHANGES } from '../domain/change-requests.js';
import { LIMITS, flagEnvironmentSchema } from '../domain/flags.js';
import { KEPT_FIELDS, PROMOTED_FIELDS } from '../domain/promotion.js';
import { AppError } from '../domain/errors.js';
import type { PromotionBypass, PromotionPreview, PromotionRequest, PromotionResult, PromotionsService } from '../services/promotions.service.js';
import { changeRequestResponse, personOf, toChangeRequestResponse } from './change-requests.routes.js';
import { flagResponse, toFlagResponse } from './flags.routes.js';
import { auditContext, expectedVersion } from './request-context.js';
import { errorResponses } from './responses.js';

/**
 * Promotion between environments: compare a flag's targeting (or every flag's) in two
 * environments and make the target's what the source's is, as one audited change per flag.
 */

const environmentKey = z.string().min(1).max(LIMITS.key);
const flagKey = z.string().min(1).max(LIMITS.key);
const versionField = z.int().min(1).optional().describe('The flag version the preview showed (or send If-Match): a change since is refused with 409');
const messageField = z.string().max(LIMITS.description).optional().describe('Why: recorded in the audit log');

const bypassField = z
  .string()
  .trim()
  .min(1, 'give the reason for bypassing approval (it is recorded in the audit log)')
  .max(LIMITS.description)
  .optional()
  .describe("Admins only, where the target's approval policy allows admin bypass: promote directly anyway; the reason is recorded in the audit log");
const descriptionField = z.string().max(LIMITS.description).optional().describe('With ?changeRequest=true: the change request\'s description (default: the summary of each flag\'s changes)');
/** Where the target has an approval policy: propose the promotion as a change request (202) instead of writing it. */
const changeRequestQuery = z.strictObject({
  changeRequest: z.enum(['true', 'false']).optional().describe("true: open one change request holding the promotion (202, the request) instead of writing it — where the target's approval policy requires one"),
});
const GOVERNED =
  " Where the target's approval policy requires review, a direct promotion is refused with 409 `approval_required`: send `?changeRequest=true` to open ONE change request holding the promoted configuration (202; `message` is its title), pinned to the versions it was planned from, so applying it is atomic and refused if a flag changed since; or, as an admin where the policy allows it, `bypassApproval` with the reason (audited).";

function bypassOf(request: FastifyRequest, reason: string | undefined, changeRequest: boolean): PromotionBypass | undefined {
  if (reason === undefined) return undefined;
  if (changeRequest) throw AppError.invalid('body.bypassApproval', 'send either "bypassApproval" or ?changeRequest=true, not both');
  return { reason, role: request.principal?.kind === 'api' ? request.principal.role : 'viewer' };
}

const environmentRef = z.object({ key: z.string(), name: z.string(), critical: z.boolean() });
const blockerResponse = z.object({
  code: z.enum(['managed_by_git', 'source_killed', 'target_killed', 'release_running']),
  message: z.string(),
});

export const promotionResponse = z
  .object({
    flag: z.string(),
    version: z.int().describe("The flag's version this was planned against (after a promotion: the new version)"),
    managedBy: z.string().nullable().describe('The Git file that manages the flag: promote it there instead'),
    from: environmentRef,
    to: environmentRef,
    upToDate: z.boolean().describe('Nothing to promote: the target already has the source\'s targeting'),
    summary: z.string().describe('A few words: "off → 10%, 1 rule"; empty when up to date'),
    stage: z.object({ before: z.string(), after: z.string() }).describe("The target's stage summary now and after the promotion"),
    changes: z
      .array(
        z.object({
          field: z.enum(PROMOTED_FIELDS),
          kind: z.enum(['changed', 'added', 'removed', 'reordered']),
          label: z.string(),
          before: z.string().optional(),
          after: z.string().optional(),
          text: z.string().describe('One readable line of the diff'),
        }),
      )
      .describe(`What changes in the target. Promoted: ${PROMOTED_FIELDS.join(', ')}`),
    kept: z.array(z.object({ field: z.enum(KEPT_FIELDS), text: z.string() })).describe(`Target-only settings that differ and stay: ${KEPT_FIELDS.join(', ')}`),
    blockers: z.array(blockerResponse).describe('Why promoting now would be refused (empty: it can be applied)'),
    before: flagEnvironmentSchema.describe("The target's configuration now"),
    after: flagEnvironmentSchema.describe("The target's configuration after the promotion"),
  })
  .meta({ id: 'Promotion' });

const resultResponse = z.object({
  changed: z.boolean().describe('False when there was nothing to promote (or a dry run): nothing was written'),
  promotion: promotionResponse,
  flag: flagResponse.optional().describe('The flag after the promotion (absent for a dry run)'),
});

const envName = (e: Environment) => ({ key: e.key, name: e.name, critical: e.critical });

function toPromotionResponse(p: PromotionPreview): z.infer<typeof promotionResponse> {
  return {
    flag: p.plan.flag,
    version: p.version,
    managedBy: p.managedBy,
    from: envName(p.from),
    to: envName(p.to),
    upToDate: p.plan.upToDate,
    summary: p.summary,
    stage: p.plan.stage,
    changes: p.plan.changes,
    kept: p.plan.kept,
    blockers: p.blockers,
    before: p.plan.before,
    after: p.plan.after,
  };
}

const toResult = (r: PromotionResult) => ({ changed: r.changed, promotion: toPromotionResponse(r.preview), flag: toFlagResponse(r.flag.value, r.flag.managedBy) });

const pairQuery = z.strictObject({ from: environmentKey.describe('The environment whose targeting moves'), to: environmentKey.describe('The environment that gets it') });

export const promotionsRoutes: FastifyPluginAsyncZod<{ promotions: PromotionsService }> = async (app, { promotions }) => {
  app.get('/api/flags/:key/promote', {
    schema: {
      tags: ['flags'],
      summary: "Preview promoting a flag's targeting from one environment to another",
      description: 'The diff the promotion would make in `to`, the target-only settings that stay, and what would refuse it now. Writes nothing.',
      params: z.strictObject({ key: flagKey }),
      querystring: pairQuery,
      response: { 200: promotionResponse, ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request, reply) => {
    const preview = await promotions.preview({ flag: request.params.key, ...request.query });
    return reply.header('etag', `"${preview.version}"`).send(toPromotionResponse(preview));
  });

  app.post('/api/flags/:key/promote', {
    schema: {
      tags: ['flags'],
      summary: "Promote a flag's targeting from one environment to another",
      description:
        "Makes `to`'s targeting (on, rules in order, default rule, off variation, individual targets, bucket-by) what `from`'s is, in one audited change (`flag.promoted`) that SDKs receive at once. `to` keeps its salt, kill switch and release-guard marker. Refused: a Git-managed flag (423), a stale `version` (409), a killed source or target, or a release plan running in the target (409, naming it). Nothing to promote → 200 with `changed: false`, nothing written (and no request opened). `dryRun: true` answers like GET." +
        GOVERNED,
      params: z.strictObject({ key: flagKey }),
      querystring: changeRequestQuery,
      body: z.strictObject({
        from: environmentKey,
        to: environmentKey,
        version: versionField,
        message: messageField,
        description: descriptionField,
        dryRun: z.boolean().optional().describe('Only preview; write nothing'),
        bypassApproval: bypassField,
      }),
      response: { 200: resultResponse, 202: changeRequestResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { from, to, version, message, description, dryRun, bypassApproval } = request.body;
    const proposing = request.query.changeRequest === 'true';
    const bypass = bypassOf(request, bypassApproval, proposing);
    if (description !== undefined && !proposing) throw AppError.invalid('body.description', '"description" is the change request\'s: it goes with ?changeRequest=true');
    const promotion: PromotionRequest = { flag: request.params.key, from, to, version: expectedVersion(request, version, false) };
    if (dryRun) {
      const preview = await promotions.preview(promotion);
      return reply.header('etag', `"${preview.version}"`).send({ changed: false, promotion: toPromotionResponse(preview) });
    }
    if (proposing) {
      const { previews, request: opened } = await promotions.propose(from, to, [promotion], { title: message, description }, personOf(request), auditContext(request));
      if (opened) return reply.status(202).send(toChangeRequestResponse(opened));
      const preview = previews[0]!;
      return reply.header('etag', `"${preview.version}"`).send({ changed: false, promotion: toPromotionResponse(preview) });
    }
    const result = await promotions.promote(promotion, auditContext(request, { message }), bypass);
    return reply.header('etag', `"${result.flag.value.version}"`).send(toResult(result));
  });

  app.get('/api/compare', {
    schema: {
      tags: ['environments'],
      summary: 'Compare every flag between two environments',
      description: 'Each active flag: whether promoting `from` to `to` would change it, in a few words, the diff lines, and what would refuse it.',
      querystring: pairQuery,
      response: {
        200: z.object({
          from: environmentRef,
          to: environmentRef,
          differing: z.int(),
          items: z.array(
            z.object({
              key: z.string(),
              name: z.string(),
              version: z.int(),
              managedBy: z.string().nullable(),
              differs: z.boolean(),
              summary: z.string(),
              changes: z.array(z.string()),
              stage: z.object({ from: z.string(), to: z.string() }),
              blockers: z.array(blockerResponse),
            }),
          ),
        }),
        ...errorResponses,
      },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const { from, to, items } = await promotions.compare(request.query.from, request.query.to);
    return {
      from: envName(from),
      to: envName(to),
      differing: items.filter((i) => i.differs).length,
      items: items.map(({ flag, ...rest }) => ({ key: flag.key, name: flag.name, version: flag.version, ...rest })),
    };
  });

  app.post('/api/environments/:from/promote/:to', {
    schema: {
      tags: ['environments'],
      summary: 'Promote several flags from one environment to another, all or nothing',
      description:
        'One transaction: every listed flag is promoted, or (on the first refusal, which names its flag) none is. An audit entry per changed flag; flags with nothing to promote are reported with `changed: false`.' +
        GOVERNED.replace('ONE change request', `ONE change request (at most ${MAX_CHANGES} differing flags)`).replace('pinned to the versions', "with every flag's change, pinned to the versions"),
      params: z.strictObject({ from: environmentKey, to: environmentKey }),
      querystring: changeRequestQuery,
      body: z.strictObject({
        flags: z
          .array(z.union([flagKey, z.strictObject({ key: flagKey, version: z.int().min(1).optional() })]))
          .min(1)
          .max(500)
          .describe('Flag keys, or { key, version } to pin each to the version you previewed'),
        message: messageField,
        description: descriptionField,
        bypassApproval: bypassField,
      }),
      response: { 200: z.object({ items: z.array(resultResponse) }), 202: changeRequestResponse, ...errorResponses },
    },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    const { from, to } = request.params;
    const { message, description, bypassApproval } = request.body;
    const proposing = request.query.changeRequest === 'true';
    const bypass = bypassOf(request, bypassApproval, proposing);
    if (description !== undefined && !proposing) throw AppError.invalid('body.description', '"description" is the change request\'s: it goes with ?changeRequest=true');
    const requests = request.body.flags.map((f) => (typeof f === 'string' ? { flag: f } : { flag: f.key, version: f.version }));
    if (proposing) {
      const { previews, request: opened } = await promotions.propose(from, to, requests, { title: message, description }, personOf(request), auditContext(request));
      if (opened) return reply.status(202).send(toChangeRequestResponse(opened));
      return { items: previews.map((preview) => ({ changed: false, promotion: toPromotionResponse(preview) })) };
    }
    const results = await promotions.promoteMany(from, to, requests, auditContext(request, { message }), bypass);
    return { items: results.map(toResult) };
  });
};
