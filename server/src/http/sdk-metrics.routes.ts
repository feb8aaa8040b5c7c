import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import { LIMITS } from '../domain/flags.js';
import type { RuleSetCache } from '../services/rulesets.js';
import { EXPOSURE_METRIC, MAX_UPLOAD_COUNT } from '../domain/releases/metrics.js';
import { REJECT_REASONS, screenUpload, type UploadedCount } from '../domain/releases/uploads.js';
import type { ReleasesService } from '../services/releases/releases.service.js';
import { SDK_ROUTE_LOG_LEVEL } from './request-context.js';

const MAX_ENTRIES = 2000;
const overCap = `at most ${MAX_UPLOAD_COUNT} per upload (more than one SDK instance counts between two flushes)`;
const count = z.int().min(0).max(MAX_UPLOAD_COUNT, overCap);
const name = z.string().min(1).max(LIMITS.key);

/** What an SDK uploads: counts aggregated since its last flush (see sdk/src/metrics.ts). */
export const metricsBody = z
  .strictObject({
    exposures: z.array(z.strictObject({ flag: name, variation: name, count })).max(MAX_ENTRIES).default([]),
    events: z
      .array(
        z
          .strictObject({
            name: z.string().min(1).max(100),
            flag: name,
            variation: name,
            count,
            sum: z.number().finite().default(0),
            /** Value histogram (latency): quarter-octave bucket → count. */
            buckets: z.record(z.string().regex(/^-?\d{1,4}$/, 'bucket indexes are integers'), count).optional(),
          })
          .refine((e) => Object.values(e.buckets ?? {}).reduce((sum, n) => sum + n, 0) <= e.count, { path: ['buckets'], message: 'holds more values than count' }),
      )
      .max(MAX_ENTRIES)
      .default([]),
  })
  // One flag variation named twice adds up: the cap holds for the sum.
  .superRefine((body, ctx) => {
    const sums = new Map<string, number>();
    const check = (list: 'exposures' | 'events', i: number, key: string, n: number) => {
      const sum = (sums.get(key) ?? 0) + n;
      sums.set(key, sum);
      if (sum > MAX_UPLOAD_COUNT && sum - n <= MAX_UPLOAD_COUNT) ctx.addIssue({ code: 'custom', path: [list, i, 'count'], message: `${overCap}; this flag variation adds up to ${sum}` });
    };
    body.exposures.forEach((e, i) => check('exposures', i, JSON.stringify([e.flag, e.variation, EXPOSURE_METRIC]), e.count));
    body.events.forEach((e, i) => check('events', i, JSON.stringify([e.flag, e.variation, e.name]), e.count));
  });

const rejection = z.object({ flag: z.string(), variation: z.string(), metric: z.string(), reason: z.enum(REJECT_REASONS) });

/**
 * `POST /api/sdk/metrics`: SDKs report exposures and tracked events for guarded flags. SDK keys are
 * public, so nothing here is trusted: the key's uploads are rate-limited (429 with Retry-After, over
 * all replicas), each count is capped per upload (400 naming the field), and only counts for a flag
 * under a running guarded plan in the key's environment, for a variation it serves, are kept; the
 * rest is dropped and listed in `rejected`. An upload with nothing an honest SDK could have sent is
 * refused (422). Counts are recorded per SDK key, so the guard can cap any one key's share.
 */
export const metricsRoutes: FastifyPluginAsyncZod<{ releases: ReleasesService; ruleSets: RuleSetCache; onMetrics: (environment: string, flagKey: string) => void }> = async (
  app,
  { releases, ruleSets, onMetrics },
) => {
  app.post('/api/sdk/metrics', {
    logLevel: SDK_ROUTE_LOG_LEVEL,
    schema: {
      tags: ['sdk'],
      summary: 'Upload exposure and event counts for guarded flags (SDK key)',
      body: metricsBody,
      response: { 202: z.object({ accepted: z.int(), dropped: z.int(), rejected: z.array(rejection) }) },
    },
    onRequest: app.requireSdkKey,
  }, async (request, reply) => {
    const principal = request.principal;
    if (principal?.kind !== 'sdk') throw new Error('unreachable: requireSdkKey');
    const limited = await releases.admitUpload(principal.keyId);
    if (limited) {
      const seconds = Math.max(1, Math.ceil(limited.retryAfterMs / 1000));
      void reply.header('retry-after', String(seconds));
      throw new AppError('rate_limited', `too many metrics uploads with SDK key "${principal.name}" this minute; retry in ${seconds} s`);
    }
    const environment = principal.environment;
    const [ruleSet, guarded] = await Promise.all([ruleSets.get(environment), releases.guardedFlags(environment)]);
    const uploaded: UploadedCount[] = [
      ...request.body.exposures.map((e) => ({ flagKey: e.flag, variation: e.variation, metric: EXPOSURE_METRIC, count: e.count, sum: 0 })),
      ...request.body.events.map((e) => ({ flagKey: e.flag, variation: e.variation, metric: e.name, count: e.count, sum: e.sum, histogram: e.buckets, event: true })),
    ];
    const { accepted, rejected, garbage } = screenUpload(uploaded, ruleSet?.flags ?? {}, guarded);
    if (garbage) {
      throw new AppError('validation_failed', `no count in this upload is for a flag with a running guarded release plan in ${environment}, on a variation it serves`, rejected.slice(0, 100));
    }
    if (accepted.length > 0) {
      await releases.addMetrics(environment, accepted, { keyId: principal.keyId, keyName: principal.name });
      for (const flag of new Set(accepted.map((c) => c.flagKey))) onMetrics(environment, flag);
    }
    return reply.status(202).send({ accepted: accepted.length, dropped: uploaded.length - accepted.length, rejected });
  });
};
