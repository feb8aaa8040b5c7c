/** Shapes of the release-plan API (server/src/http/releases.routes.ts). */

export interface Step {
  percentage: number;
  minDurationMs: number;
  minExposures: number;
}

/** The guard's decision rule (server/src/domain/releases/plans.ts `guardSchema`). */
export interface Guard {
  errorEvent: string;
  alpha: number;
  minRelativeIncrease: number;
  /** No verdict before each arm (new variation, everyone else) has this many exposures. */
  minExposures: number;
  latency?: { event: string; maxRelativeIncrease: number; minSamples: number };
}

export type PlanStatus = 'ready' | 'running' | 'paused' | 'completed' | 'rolled_back' | 'aborted';

export interface ReleasePlan {
  id: number;
  status: PlanStatus;
  currentStep: number;
  variation: string | null;
  pauseReason: string | null;
  startedAt: string | null;
  stepStartedAt: string | null;
  spec: { strategy: 'guarded' | 'rolling'; steps: Step[]; guard: Guard | null };
  version: number;
}

export interface Arm {
  exposures: number;
  errors: number;
  rate: number;
}

export interface Evidence {
  errors: { verdict: string; control: Arm; treatment: Arm; logLikelihoodRatio: number; boundary: number; pValue: number } | null;
  latency: { verdict: string; controlP95: number | null; treatmentP95: number | null; controlSamples: number; treatmentSamples: number } | null;
  stepExposures: number;
  exposures: Record<string, number>;
}

export interface ReleaseEvent {
  id: number;
  at: string;
  kind: string;
  actor: string;
  message: string;
  /** Counts, rates and the statistic behind an automatic decision (the Evidence shape), or null. */
  evidence: unknown;
}

export interface PlanView {
  plan: ReleasePlan | null;
  stage: string;
  /** What the targeting is, in short words ("dogfood", "10% + 1 rule"). */
  stageSummary: string;
  guarded: boolean;
  split: { variation: string; percentage: number }[];
  live: string;
  evidence: Evidence | null;
  events: ReleaseEvent[];
}
