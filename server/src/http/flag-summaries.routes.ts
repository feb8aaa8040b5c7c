import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseStageFilter, type FlagSummary } from '../domain/flag-summaries.js';
import { LIMITS, flagTypeSchema } from '../domain/flags.js';
import { LIFECYCLES } from '../domain/lifecycle.js';
import { PLAN_STATUSES } from '../domain/releases/plans.js';
import type { FlagSummariesService } from '../services/flag-summaries.service.js';
import { sendCompressibleJson } from './content-encoding.js';
import { iso } from './request-context.js';
import { errorResponses } from './responses.js';

const flagEnvironmentSummaryResponse = z.object({
  stage: z.string().describe('Derived release stage, as in the full flag: off, dogfood, N%, 100%, kill or custom'),
  stageSummary: z.string().describe('What the targeting is in short words, as in the full flag: the stage itself, or e.g. "dogfood + 1 rule", "killed (was 100%)"'),
  on: z.boolean(),
  killed: z.boolean(),
  ruleCount: z.int().describe('Rules in this environment, the dogfood rule a stage adds included'),
  guarded: z.boolean().describe('A guarded rollout is running (SDKs count exposures)'),
  releasePlan: z
    .object({ strategy: z.enum(['guarded', 'rolling']), status: z.enum(PLAN_STATUSES) })
    .nullable()
    .describe('The release plan under way here (running or paused) or a rolled-back one (until a new plan starts), or null'),
  lastEvaluatedAt: z.number().nullable().describe('When an SDK last reported evaluating the flag here (epoch ms; evaluation insights), or null'),
});

export const lifecycleSchema = z
  .enum(LIFECYCLES)
  .describe('new (created < 7 days ago, not evaluated yet), active, launched (one variation to everyone in every environment for 7 days), stale (archived, no evaluations for 30 days, or launched for 30 days), ready-to-remove (stale, and no scanned repository references it); the days are server settings');

export const flagSummaryResponse = z
  .object({
    key: z.string(),
    name: z.string(),
    tags: z.array(z.string()),
    owner: z.string(),
    type: flagTypeSchema,
    archived: z.boolean(),
    clientVisible: z.boolean(),
    managedBy: z.string().nullable().describe('The Git file that manages this flag, or null'),
    version: z.int(),
    updatedAt: z.string(),
    updatedBy: z.string(),
    environments: z.record(z.string(), flagEnvironmentSummaryResponse),
    lifecycle: lifecycleSchema,
  })
  .meta({ id: 'FlagSummary' });

export function toFlagSummaryResponse(summary: FlagSummary): z.infer<typeof flagSummaryResponse> {
  return { ...summary, updatedAt: iso(summary.updatedAt) };
}

const STAGE_FILTER_MESSAGE = 'use off, dogfood, kill, custom, 100%, a percentage such as 10% or 0.5%, or "rollout" for any percentage below 100%';

const environmentQuery = z
  .string()
  .min(1)
  .max(LIMITS.key)
  .optional()
  .describe('Only this environment in each summary (the list shows one at a time); with `stage`, the environment filtered on');

const listQuery = z.strictObject({
  q: z.string().max(LIMITS.name).optional().describe('Search in key, name and description'),
  tag: z.string().max(LIMITS.tag).optional(),
  archived: z.enum(['true', 'false', 'all']).default('false'),
  environment: environmentQuery,
  stage: z
    .string()
    .max(20)
    .refine((text) => parseStageFilter(text) !== undefined, { message: STAGE_FILTER_MESSAGE })
    .optional()
    .describe('off, dogfood, kill, custom, 100%, N%, or "rollout" for any percentage below 100% (in `environment`, else in any environment)'),
  lifecycle: z.enum(LIFECYCLES).optional().describe('Only flags at this point of their lifecycle'),
});

const keyParams = z.strictObject({ key: z.string().max(LIMITS.key) });

/**
 * `GET /api/flag-summaries`: the flag list as the dashboard draws it — per flag only what a row
 * shows, per environment its stage, kill state, rule count and release under way — compressed when
 * the client accepts it. `GET /api/flag-summaries/{key}`: one row, for a live `change` event
 * (`/api/events` names the flag and the environment), so one change never re-fetches the list.
 * The full flag stays at `GET /api/flags/{key}`.
 */
export const flagSummariesRoutes: FastifyPluginAsyncZod<{ summaries: FlagSummariesService }> = async (app, { summaries }) => {
  app.get('/api/flag-summaries', {
    schema: {
      tags: ['flags'],
      summary: 'List flags as summaries: what a list row shows (filters as on /api/flags)',
      querystring: listQuery,
      response: { 200: z.object({ items: z.array(flagSummaryResponse) }), ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request, reply) => {
    const { q, tag, archived, environment, stage, lifecycle } = request.query;
    const items = await summaries.list({ q: q || undefined, tag: tag || undefined, archived, environment, stage: stage === undefined ? undefined : parseStageFilter(stage), lifecycle });
    // Built from stored, validated data: sent as is (re-validating 5,000 rows would cost more than reading them).
    return sendCompressibleJson(request, reply, { items: items.map(toFlagSummaryResponse) });
  });

  app.get('/api/flag-summaries/:key', {
    schema: {
      tags: ['flags'],
      summary: "One flag's summary: the list row a live change event redraws",
      params: keyParams,
      querystring: z.strictObject({ environment: environmentQuery }),
      response: { 200: flagSummaryResponse, ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => toFlagSummaryResponse(await summaries.get(request.params.key, request.query.environment)));
};
