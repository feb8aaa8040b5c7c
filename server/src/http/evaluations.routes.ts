import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Counter } from 'prom-client';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import { MAX_INSIGHT_HOURS } from '../domain/evaluations.js';
import { LIMITS } from '../domain/flags.js';
import type { EvaluationsService } from '../services/evaluations.service.js';
import type { ReleasesService } from '../services/releases/releases.service.js';
import { SDK_ROUTE_LOG_LEVEL } from './request-context.js';
import { errorResponses } from './responses.js';

/** Flag variations in one summary: an SDK keeps at most 10,000 counters between uploads. */
export const MAX_EVALUATION_ENTRIES = 10_000;
/** Per flag variation and summary: no SDK instance evaluates a billion times between two uploads (sdk/src/insights.ts). */
export const MAX_EVALUATION_COUNT = 1_000_000_000;
/** 10,000 entries of long keys fit; more is refused with a 413 before it is parsed. */
const BODY_LIMIT = 2 * 1024 * 1024;

const name = z.string().min(1).max(LIMITS.key);
/** SDK names and versions: short, printable, no spaces (they are shown and used as labels). */
const label = (what: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w.+\-@/]+$/, `${what}: letters, digits and . + - _ @ / only`);

/** What an SDK uploads: evaluation counts since its last summary (see sdk/src/insights.ts). */
export const evaluationsBody = z.strictObject({
  sdk: label('sdk').describe('SDK name, e.g. switchyard-node'),
  version: label('version').describe('SDK version, e.g. 0.1.0'),
  evaluations: z
    .array(z.strictObject({ flag: name, variation: name, count: z.int().min(0).max(MAX_EVALUATION_COUNT, `at most ${MAX_EVALUATION_COUNT} per summary`) }))
    .max(MAX_EVALUATION_ENTRIES),
});

const insightsResponse = z
  .object({
    environment: z.string(),
    lastEvaluatedAt: z.number().nullable().describe('When an SDK last reported evaluating the flag here (epoch ms), or null'),
    hours: z
      .array(z.object({ hour: z.number().describe('Start of the hour (epoch ms, UTC)'), total: z.int(), variations: z.record(z.string(), z.int()) }))
      .describe('Every hour of the window, oldest first (zeros included)'),
  })
  .meta({ id: 'FlagInsights' });

const connectionResponse = z.object({
  keyId: z.int(),
  keyName: z.string(),
  environment: z.string(),
  sdk: z.string(),
  version: z.string(),
  firstSeenAt: z.number().describe('epoch ms'),
  lastSeenAt: z.number().describe('epoch ms'),
});

const environmentQuery = z.string().min(1).max(LIMITS.key);

/**
 * Evaluation insights. `POST /api/sdk/evaluations`: SDKs (server keys) and browser clients (client
 * keys) upload per-flag, per-variation evaluation counts; keys are public, so each upload is
 * rate-limited with the key's metrics uploads (429 with Retry-After), counts are capped (400 naming
 * the field), and only flags of the key's environment (visible to client keys, for a client key) on
 * a variation they have are kept. `GET /api/flags/{key}/insights` and `GET /api/sdk-connections`
 * read them back; `/metrics` gains `switchyard_flag_evaluations_total`.
 */
export const evaluationsRoutes: FastifyPluginAsyncZod<{ evaluations: EvaluationsService; releases: ReleasesService }> = async (app, { evaluations, releases }) => {
  new Counter({
    name: 'switchyard_flag_evaluations_total',
    help: 'Evaluations SDKs reported to this replica, by flag, environment and variation (flag variations that exist only)',
    labelNames: ['flag', 'environment', 'variation'] as const,
    registers: [app.metrics],
    async collect() {
      await evaluations.forgetGone();
      this.reset();
      for (const [id, count] of evaluations.accepted) {
        const [environment, flag, variation] = JSON.parse(id) as [string, string, string];
        this.inc({ flag, environment, variation }, count);
      }
    },
  });

  app.post('/api/sdk/evaluations', {
    logLevel: SDK_ROUTE_LOG_LEVEL,
    bodyLimit: BODY_LIMIT,
    schema: {
      tags: ['sdk'],
      summary: 'Upload evaluation counts per flag and variation (SDK key or client key)',
      body: evaluationsBody,
      response: { 202: z.object({ accepted: z.int(), dropped: z.int().describe('Entries for flags or variations this key does not see') }) },
    },
    onRequest: app.requireEvaluationKey,
  }, async (request, reply) => {
    const principal = request.principal;
    if (principal?.kind !== 'sdk') throw new Error('unreachable: requireEvaluationKey');
    const limited = await releases.admitUpload(principal.keyId);
    if (limited) {
      const seconds = Math.max(1, Math.ceil(limited.retryAfterMs / 1000));
      void reply.header('retry-after', String(seconds));
      throw new AppError('rate_limited', `too many uploads with key "${principal.name}" this minute; retry in ${seconds} s`);
    }
    const result = await evaluations.record({ keyId: principal.keyId, keyName: principal.name, environment: principal.environment, client: principal.client }, request.body);
    return reply.status(202).send(result);
  });

  app.get('/api/flags/:key/insights', {
    schema: {
      tags: ['flags'],
      summary: "A flag's evaluations per hour and variation in one environment, and when it was last evaluated",
      params: z.strictObject({ key: z.string().max(LIMITS.key) }),
      querystring: z.strictObject({
        environment: environmentQuery,
        hours: z.coerce.number().int().min(1).max(MAX_INSIGHT_HOURS).default(24).describe(`Hours to return, the current one included (1 to ${MAX_INSIGHT_HOURS}; default 24)`),
      }),
      response: { 200: insightsResponse, ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => evaluations.insights(request.params.key, request.query.environment, request.query.hours));

  app.get('/api/sdk-connections', {
    schema: {
      tags: ['tokens'],
      summary: 'SDKs seen using each key in the last 30 days (name, version, last seen), most recent first',
      querystring: z.strictObject({ environment: environmentQuery.optional() }),
      response: { 200: z.object({ items: z.array(connectionResponse) }), ...errorResponses },
    },
    onRequest: app.requireRole('viewer'),
  }, async (request) => ({ items: await evaluations.connections(request.query.environment) }));
};
