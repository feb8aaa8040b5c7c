import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BUCKETS } from '@switchyard/sdk';
import { LIMITS, variationKeySchema, type FlagEnvironment } from '../domain/flags.js';
import { toFlagResponse } from './flags.routes.js';
import { deriveStage, describeTargeting } from '../domain/stages.js';
import { auditContext, expectedVersion, iso } from './request-context.js';
import { errorResponses } from './responses.js';
import { METRICS_WINDOW_MS } from '../domain/releases/metrics.js';
import { planInputSchema, type ReleaseEvent, type ReleasePlan } from '../domain/releases/plans.js';
import { eventResponse, planResponse, planViewResponse, withErrors } from './releases.responses.js';
import { liveSide, type ReleasesService } from '../services/releases/releases.service.js';
import type { ChangeRequestsService } from '../services/change-requests/change-requests.service.js';
import { AppError } from '../domain/errors.js';
import { changeRequestResponse, personOf, toChangeRequestResponse } from './change-requests.routes.js';
import { changeRequestQuery } from './flags.routes.js';

const envParams = z.strictObject({ key: z.string().max(LIMITS.key), environment: z.string().max(LIMITS.key) });
/** Shapes are documented by the request schemas and the plan types; responses are built from validated data. */
const ok = { 200: z.unknown(), 201: z.unknown(), 204: z.null(), ...errorResponses };
const tags = ['releases'];
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function toPlanResponse(plan: ReleasePlan) {
  return {
    ...plan,
    startedAt: isoOrNull(plan.startedAt),
    stepStartedAt: isoOrNull(plan.stepStartedAt),
    pausedAt: isoOrNull(plan.pausedAt),
    updatedAt: iso(plan.updatedAt),
  };
}

const toEventResponse = (e: ReleaseEvent) => ({ ...e, at: iso(e.at) });

/** The traffic split everyone outside targets and rules sees, e.g. [{on, 10}, {off, 90}]. */
export function trafficSplit(config: FlagEnvironment): { variation: string; percentage: number }[] {
  if (!config.on) return [{ variation: config.offVariation, percentage: 100 }];
  const serve = config.defaultServe;
  if ('variation' in serve) return [{ variation: serve.variation, percentage: 100 }];
  return serve.rollout.variations.filter((v) => v.weight > 0).map((v) => ({ variation: v.variation, percentage: (v.weight * 100) / BUCKETS }));
}

/**
 * Release plans (guarded canaries, rolling ramps), their manual controls, the decision log and the
 * metrics behind it, and the blue/green switch.
 */
export const releasesRoutes: FastifyPluginAsyncZod<{ releases: ReleasesService; changeRequests: ChangeRequestsService }> = async (app, { releases, changeRequests }) => {
  const base = '/api/flags/:key/environments/:environment';

  app.get(`${base}/release-plan`, {
    schema: { tags, summary: 'The release plan with its live split, evidence and recent decisions', params: envParams, response: withErrors({ 200: planViewResponse }) },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const { key, environment } = request.params;
    const { config } = await releases.configOf(key, environment);
    const plan = await releases.findPlan(key, environment);
    const evidence = plan ? await releases.evidence(plan) : null;
    const events = await releases.events(key, environment, 50);
    return {
      plan: plan ? toPlanResponse(plan) : null,
      stage: deriveStage(config),
      // The split is only the default rule's: "100% off" after a rollback, while dogfood users keep it.
      stageSummary: describeTargeting(config).summary,
      guarded: Boolean(config.guarded),
      split: trafficSplit(config),
      live: liveSide(config),
      evidence,
      events: events.map(toEventResponse),
    };
  });

  app.put(`${base}/release-plan`, {
    schema: { tags, summary: 'Create or replace the release plan (not while it runs)', params: envParams, body: planInputSchema, response: withErrors({ 200: planResponse }) },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const { key, environment } = request.params;
    return toPlanResponse(await releases.putPlan(key, environment, request.body, auditContext(request)));
  });

  app.delete(`${base}/release-plan`, {
    schema: { tags, summary: 'Delete an inactive release plan', params: envParams, response: ok },
    onRequest: app.requireRole('editor'),
  }, async (request, reply) => {
    await releases.deletePlan(request.params.key, request.params.environment, auditContext(request));
    return reply.status(204).send(null);
  });

  // Start and resume: where an approval policy applies, ?changeRequest=true proposes the action as a
  // change request (202, the request) pinned to the plan's and the flag's versions, instead of doing it.
  const requestable = {
    start: { summary: 'Start the plan: the flag moves to the first step (?changeRequest=true: propose it as a change request)', run: releases.start.bind(releases), title: 'Start the release plan of' },
    resume: { summary: 'Resume a paused plan (its step is re-applied if the flag moved; ?changeRequest=true: propose it as a change request)', run: releases.resume.bind(releases), title: 'Resume the release plan of' },
  } as const;
  const requestBody = z
    .strictObject({
      version: z.int().min(1).optional().describe('With ?changeRequest=true: the flag version the request is made against (or If-Match)'),
      planVersion: z.int().min(1).optional().describe('With ?changeRequest=true: the release plan version the request is made against (GET …/release-plan)'),
      title: z.string().trim().min(1).max(LIMITS.name).optional().describe("With ?changeRequest=true: the request's title"),
      description: z.string().max(LIMITS.description).optional().describe("With ?changeRequest=true: the request's description"),
    })
    .nullish();
  for (const [name, action] of Object.entries(requestable) as [keyof typeof requestable, (typeof requestable)[keyof typeof requestable]][]) {
    app.post(`${base}/release-plan/${name}`, {
      schema: { tags, summary: action.summary, params: envParams, querystring: changeRequestQuery, body: requestBody, response: withErrors({ 200: planResponse, 202: changeRequestResponse }) },
      onRequest: app.requireRole('editor'),
    }, async (request, reply) => {
      const { key, environment } = request.params;
      const body = request.body ?? {};
      if (request.query.changeRequest === 'true') {
        if (body.planVersion === undefined) throw AppError.invalid('body.planVersion', 'a change request is pinned to the release plan version it was made against: give planVersion (the "version" of GET …/release-plan)');
        const baseVersion = expectedVersion(request, body.version)!;
        const change = { type: 'release' as const, flag: key, action: name, planVersion: body.planVersion, baseVersion };
        const title = body.title ?? `${action.title} ${key} in ${environment}`.slice(0, LIMITS.name);
        const proposed = await changeRequests.create({ title, ...(body.description !== undefined ? { description: body.description } : {}), environment, changes: [change] }, personOf(request), auditContext(request));
        return reply.status(202).send(toChangeRequestResponse(proposed));
      }
      const stray = (['version', 'planVersion', 'title', 'description'] as const).find((field) => body[field] !== undefined);
      if (stray !== undefined) throw AppError.invalid(`body.${stray}`, 'only with ?changeRequest=true (a direct start or resume takes no body)');
      return toPlanResponse(await action.run(key, environment, auditContext(request)));
    });
  }

  app.post(`${base}/release-plan/skip`, {
    schema: { tags, summary: 'Advance to the next step now', params: envParams, body: z.strictObject({}).nullish(), response: withErrors({ 200: planResponse }) },
    onRequest: app.requireRole('editor'),
  }, async (request) => toPlanResponse(await releases.skip(request.params.key, request.params.environment, auditContext(request))));

  app.post(`${base}/release-plan/pause`, {
    schema: { tags, summary: 'Pause a running plan (the flag stays where it is)', params: envParams, body: z.strictObject({ reason: z.string().min(1).max(500).optional() }).nullish(), response: withErrors({ 200: planResponse }) },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const { key, environment } = request.params;
    return toPlanResponse(await releases.pause(key, environment, auditContext(request), request.body?.reason));
  });

  app.post(`${base}/release-plan/abort`, {
    schema: {
      tags,
      summary: 'Stop the plan; rolls back to dogfood (0%) unless rollback is false',
      params: envParams,
      body: z.strictObject({ rollback: z.boolean().default(true) }).nullish(),
      response: withErrors({ 200: planResponse }),
    },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const { key, environment } = request.params;
    return toPlanResponse(await releases.abort(key, environment, auditContext(request), request.body?.rollback ?? true));
  });

  app.get(`${base}/release-plan/events`, {
    schema: { tags, summary: 'The decision log, newest first', params: envParams, querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(100) }), response: withErrors({ 200: z.object({ items: z.array(eventResponse) }) }) },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const { key, environment } = request.params;
    await releases.configOf(key, environment);
    return { items: (await releases.events(key, environment, request.query.limit)).map(toEventResponse) };
  });

  app.get(`${base}/release-plan/metrics`, {
    schema: {
      tags,
      summary: 'Exposures and tracked events per variation per time window (for the chart)',
      params: envParams,
      querystring: z.strictObject({ since: z.coerce.number().int().min(0).optional().describe('Unix ms; default: the plan start, or the last hour') }),
      response: ok,
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => {
    const { key, environment } = request.params;
    await releases.configOf(key, environment);
    const plan = await releases.findPlan(key, environment);
    const since = request.query.since ?? plan?.startedAt ?? releases.now() - 60 * 60_000;
    return { windowMs: METRICS_WINDOW_MS, since, points: await releases.metricSeries(environment, key, since - METRICS_WINDOW_MS) };
  });

  app.post(`${base}/switch`, {
    schema: {
      tags,
      summary: 'Blue/green: send 100% of traffic to one side of a two-variation flag (default: the other side)',
      params: envParams,
      body: z.strictObject({ to: variationKeySchema.optional(), version: z.int().min(1).optional() }).nullish(),
      response: ok,
    },
    onRequest: app.requireRole('editor'),
  }, async (request) => {
    const { key, environment } = request.params;
    const version = expectedVersion(request, request.body?.version ?? undefined, false);
    const result = await releases.switchSide(key, environment, request.body?.to, version, auditContext(request));
    return { live: result.live, previous: result.previous, flag: toFlagResponse(result.flag.value, result.flag.managedBy) };
  });
};
