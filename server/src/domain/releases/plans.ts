import { z } from 'zod';
import { variationKeySchema } from '../flags.js';
import { DEFAULT_GUARD } from './decision.js';

/**
 * Release plans: what a guarded canary or a rolling ramp does, step by step. Zod is the one source
 * of the API shapes; the runner and the store share these types.
 */

const MINUTE = 60_000;
/** A day: longer waits belong to a calendar, not a release step. */
const MAX_STEP_MS = 24 * 60 * MINUTE;

const percentageSchema = z
  .number()
  .gt(0, 'must be above 0%')
  .max(100, 'must be at most 100%')
  .refine((p) => Number.isInteger(Math.round(p * 1000)) && Math.abs(p * 1000 - Math.round(p * 1000)) < 1e-9, 'at most three decimals');

export const stepSchema = z.strictObject({
  percentage: percentageSchema,
  /** The step must last this long before the plan advances… */
  minDurationMs: z.int().min(0).max(MAX_STEP_MS),
  /** …and the new variation must have had this many exposures in it (guarded plans). */
  minExposures: z.int().min(0).max(100_000_000),
});
export type Step = z.infer<typeof stepSchema>;

export const DEFAULT_STEPS: readonly Step[] = Object.freeze([
  { percentage: 1, minDurationMs: 5 * MINUTE, minExposures: 200 },
  { percentage: 10, minDurationMs: 10 * MINUTE, minExposures: 1000 },
  { percentage: 50, minDurationMs: 10 * MINUTE, minExposures: 5000 },
  { percentage: 100, minDurationMs: 0, minExposures: 0 },
]);

export const guardSchema = z.strictObject({
  /** The event whose count per exposure is the error rate (`client.track('error', user)`). */
  errorEvent: z.string().min(1).max(100).default('error'),
  alpha: z.number().min(0.0001).max(0.5).default(DEFAULT_GUARD.alpha),
  minRelativeIncrease: z.number().min(0).max(10).default(DEFAULT_GUARD.minRelativeIncrease),
  minExposures: z.int().min(10).max(10_000_000).default(DEFAULT_GUARD.minExposures),
  tauRelative: z.number().gt(0).max(100).default(DEFAULT_GUARD.tauRelative),
  /** Optional p95 latency guard on a tracked value event (e.g. `latency_ms`). */
  latency: z
    .strictObject({
      event: z.string().min(1).max(100),
      maxRelativeIncrease: z.number().gt(0).max(100).default(0.2),
      minSamples: z.int().min(10).max(10_000_000).default(500),
    })
    .optional(),
  /** Pause when no exposures arrive for this long (SDKs down, metrics lost). */
  maxSilenceMs: z.int().min(1000).max(MAX_STEP_MS).default(5 * MINUTE),
});
export type Guard = z.infer<typeof guardSchema>;

const stepsSchema = z
  .array(stepSchema)
  .min(1)
  .max(20)
  .superRefine((steps, ctx) => {
    steps.forEach((step, i) => {
      if (i > 0 && step.percentage <= steps[i - 1]!.percentage) {
        ctx.addIssue({ code: 'custom', path: [i, 'percentage'], message: 'steps must increase (ramp-ups are monotonic)' });
      }
    });
  });

/** A guarded canary: explicit steps, judged by the guard. */
const guardedInput = z.strictObject({
  strategy: z.literal('guarded'),
  variation: variationKeySchema.optional(),
  steps: stepsSchema.default(() => DEFAULT_STEPS.map((s) => ({ ...s }))),
  guard: guardSchema.default(() => guardSchema.parse({})),
});

/** A rolling release: +incrementPercent every intervalMs up to capPercent, no guard. */
const rollingInput = z
  .strictObject({
    strategy: z.literal('rolling'),
    variation: variationKeySchema.optional(),
    incrementPercent: percentageSchema,
    intervalMs: z.int().min(100).max(MAX_STEP_MS),
    capPercent: percentageSchema.default(100),
  })
  .refine((r) => r.incrementPercent <= r.capPercent, { path: ['incrementPercent'], message: 'must not exceed capPercent' });

export const planInputSchema = z.discriminatedUnion('strategy', [guardedInput, rollingInput]);
export type PlanInput = z.infer<typeof planInputSchema>;

export const PLAN_STATUSES = ['ready', 'running', 'paused', 'completed', 'rolled_back', 'aborted'] as const;
export type PlanStatus = (typeof PLAN_STATUSES)[number];
export const ACTIVE_STATUSES: readonly PlanStatus[] = ['running', 'paused'];

/** What the store keeps: a plan normalised to steps (a rolling plan's steps are generated). */
export interface PlanSpec {
  strategy: 'guarded' | 'rolling';
  variation?: string;
  steps: Step[];
  guard: Guard | null;
  rolling?: { incrementPercent: number; intervalMs: number; capPercent: number };
}

export interface ReleasePlan {
  id: number;
  flagKey: string;
  environment: string;
  spec: PlanSpec;
  status: PlanStatus;
  /** Index into spec.steps; -1 before start. */
  currentStep: number;
  /** The variation being released, fixed at start. */
  variation: string | null;
  pauseReason: string | null;
  startedAt: number | null;
  stepStartedAt: number | null;
  /** When paused: the pause began (resuming moves stepStartedAt on by the paused time). */
  pausedAt: number | null;
  updatedAt: number;
  updatedBy: string;
  version: number;
}

export function toSpec(input: PlanInput): PlanSpec {
  if (input.strategy === 'guarded') return { strategy: 'guarded', variation: input.variation, steps: input.steps, guard: input.guard };
  const steps: Step[] = [];
  for (let p = input.incrementPercent; p < input.capPercent + 1e-9; p += input.incrementPercent) {
    steps.push({ percentage: Math.round(Math.min(p, input.capPercent) * 1000) / 1000, minDurationMs: input.intervalMs, minExposures: 0 });
  }
  if (steps[steps.length - 1]!.percentage < input.capPercent) steps.push({ percentage: input.capPercent, minDurationMs: input.intervalMs, minExposures: 0 });
  const { incrementPercent, intervalMs, capPercent } = input;
  return { strategy: 'rolling', variation: input.variation, steps, guard: null, rolling: { incrementPercent, intervalMs, capPercent } };
}

/** Decision-log kinds; each is also an audit action `release.<kind>`. */
export const RELEASE_EVENT_KINDS = ['created', 'started', 'advanced', 'completed', 'rolled_back', 'paused', 'resumed', 'aborted', 'skipped', 'checked', 'switched'] as const;
export type ReleaseEventKind = (typeof RELEASE_EVENT_KINDS)[number];

export interface ReleaseEvent {
  id: number;
  planId: number | null;
  flagKey: string;
  environment: string;
  at: number;
  kind: ReleaseEventKind;
  actor: string;
  message: string;
  evidence: unknown;
}

/** A plan's progress fields, changed by the runner and the manual actions. */
export type PlanProgress = Partial<Pick<ReleasePlan, 'status' | 'currentStep' | 'variation' | 'pauseReason' | 'startedAt' | 'stepStartedAt' | 'pausedAt'>>;

/** One decision-log entry. */
export interface EventInput {
  kind: ReleaseEventKind;
  message: string;
  evidence?: unknown;
}
