/** Shapes of the release-plan API (server/src/http/releases.routes.ts). */

export interface Step {
  percentage: number;
  minDurationMs: number;
  minExposures: number;
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
  spec: { strategy: 'guarded' | 'rolling'; steps: Step[]; guard: { errorEvent: string; alpha: number; minRelativeIncrease: number } | null };
  version: number;
}

export interface Arm {
  exposures: number;
  errors: number;
  rate: number;
}

export interface Evidence {
  errors: { verdict: string; control: Arm; treatment: Arm; logLikelihoodRatio: number; boundary: number; pValue: number } | null;
  stepExposures: number;
  exposures: Record<string, number>;
}

export interface ReleaseEvent {
  id: number;
  at: string;
  kind: string;
  actor: string;
  message: string;
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
