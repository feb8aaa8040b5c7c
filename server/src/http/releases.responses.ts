import { z } from 'zod';
import { errorResponses } from './responses.js';
import { PLAN_STATUSES, RELEASE_EVENT_KINDS } from '../domain/releases/plans.js';

/** Response shapes of the release routes (OpenAPI is generated from them). */

export const planResponse = z
  .object({
    id: z.int(),
    flagKey: z.string(),
    environment: z.string(),
    spec: z.unknown().describe('The plan: strategy, steps, guard (see the PUT body)'),
    status: z.enum(PLAN_STATUSES),
    currentStep: z.int().describe('Index into spec.steps; -1 before start'),
    variation: z.string().nullable(),
    pauseReason: z.string().nullable(),
    startedAt: z.string().nullable(),
    stepStartedAt: z.string().nullable(),
    pausedAt: z.string().nullable(),
    updatedAt: z.string(),
    updatedBy: z.string(),
    version: z.int(),
  })
  .meta({ id: 'ReleasePlan' });

export const eventResponse = z.object({
  id: z.int(),
  planId: z.int().nullable(),
  at: z.string(),
  kind: z.enum(RELEASE_EVENT_KINDS),
  actor: z.string(),
  message: z.string(),
  evidence: z.unknown().describe('Counts, rates and the statistic behind an automatic decision'),
});

export const planViewResponse = z.object({
  plan: planResponse.nullable(),
  stage: z.string(),
  stageSummary: z.string().describe('What the targeting is, as the flag reports it: "dogfood" after a rollback (the split is only the default rule\'s: dogfood users keep the new variation), "10% + 1 rule"'),
  guarded: z.boolean(),
  split: z.array(z.object({ variation: z.string(), percentage: z.number() })),
  live: z.string().describe('The variation everyone outside targets and rules gets at 100% (blue/green side)'),
  evidence: z.unknown().describe('What the guard sees now: errors (mSPRT evidence), latency, exposures'),
  events: z.array(eventResponse),
});

export const withErrors = <T extends Record<number, z.ZodType>>(ok: T) => ({ ...ok, ...errorResponses });
