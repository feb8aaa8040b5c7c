import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LIMITS } from '../domain/flags.js';
import type { RuleSetCache } from '../services/rulesets.js';
import { EXPOSURE_METRIC, type MetricCount } from '../domain/releases/metrics.js';
import type { ReleasesService } from '../services/releases/releases.service.js';

const MAX_ENTRIES = 2000;
const count = z.int().min(0).max(1_000_000_000);
const name = z.string().min(1).max(LIMITS.key);

/** What an SDK uploads: counts aggregated since its last flush (see sdk/src/metrics.ts). */
export const metricsBody = z.strictObject({
  exposures: z.array(z.strictObject({ flag: name, variation: name, count })).max(MAX_ENTRIES).default([]),
  events: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(100),
        flag: name,
        variation: name,
        count,
        sum: z.number().finite().default(0),
        /** Value histogram (latency): quarter-octave bucket → count. */
        buckets: z.record(z.string().regex(/^-?\d{1,4}$/, 'bucket indexes are integers'), count).optional(),
      }),
    )
    .max(MAX_ENTRIES)
    .default([]),
});

/**
 * `POST /api/sdk/metrics`: SDKs report exposures and tracked events for guarded flags. Only flags
 * under a guarded rollout in the key's environment are kept, so the table cannot be filled with
 * arbitrary keys; everything else is acknowledged and dropped.
 */
export const metricsRoutes: FastifyPluginAsyncZod<{ releases: ReleasesService; ruleSets: RuleSetCache; onMetrics: (environment: string, flagKey: string) => void }> = async (
  app,
  { releases, ruleSets, onMetrics },
) => {
  app.post('/api/sdk/metrics', {
    schema: {
      tags: ['sdk'],
      summary: 'Upload exposure and event counts for guarded flags (SDK key)',
      body: metricsBody,
      response: { 202: z.object({ accepted: z.int(), dropped: z.int() }) },
    },
    preHandler: app.requireSdkKey,
  }, async (request, reply) => {
    const principal = request.principal;
    if (principal?.kind !== 'sdk') throw new Error('unreachable: requireSdkKey');
    const environment = principal.environment;
    const ruleSet = await ruleSets.get(environment);
    const guarded = (flag: string) => ruleSet?.flags[flag]?.guarded === true;
    const counts: MetricCount[] = [];
    let dropped = 0;
    for (const e of request.body.exposures) {
      if (guarded(e.flag) && e.count > 0) counts.push({ flagKey: e.flag, variation: e.variation, metric: EXPOSURE_METRIC, count: e.count, sum: 0 });
      else dropped++;
    }
    for (const e of request.body.events) {
      if (guarded(e.flag) && e.count > 0 && e.name !== EXPOSURE_METRIC) counts.push({ flagKey: e.flag, variation: e.variation, metric: e.name, count: e.count, sum: e.sum, histogram: e.buckets });
      else dropped++;
    }
    if (counts.length > 0) {
      await releases.addMetrics(environment, counts);
      for (const flag of new Set(counts.map((c) => c.flagKey))) onMetrics(environment, flag);
    }
    return reply.status(202).send({ accepted: counts.length, dropped });
  });
};
