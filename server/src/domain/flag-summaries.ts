import { ownEntry, type Flag, type FlagEnvironment } from './flags.js';
import type { Lifecycle } from './lifecycle.js';
import { ACTIVE_STATUSES, type PlanStatus, type PlanSpec } from './releases/plans.js';
import { deriveStage, describeTargeting, parseStage, type DerivedStage } from './stages.js';

/**
 * What a row of the flag list shows, and nothing more: no description, variations, targets or
 * rules. At 5,000 flags the full list is megabytes the browser must parse before it can draw a
 * row; a summary is the row's data, and one summary is what a live event needs to redraw one row.
 */
export interface FlagSummary {
  key: string;
  name: string;
  tags: string[];
  owner: string;
  type: Flag['type'];
  archived: boolean;
  clientVisible: boolean;
  managedBy: string | null;
  version: number;
  updatedAt: number;
  updatedBy: string;
  environments: Record<string, FlagEnvironmentSummary>;
  /** Where the flag is between creation and removal from the code (domain/lifecycle.ts). */
  lifecycle: Lifecycle;
}

export interface FlagEnvironmentSummary {
  /** Derived from the targeting, as in the full flag: off, dogfood, N%, 100%, kill or custom. */
  stage: DerivedStage;
  /** What the targeting is in short words: the stage itself, or e.g. "dogfood + 1 rule". */
  stageSummary: string;
  on: boolean;
  killed: boolean;
  /** All rules, the dogfood rule a stage adds included. */
  ruleCount: number;
  /** A guarded rollout is running: SDKs count exposures. */
  guarded: boolean;
  /** The release plan under way (running or paused) or rolled back (until a new one starts), or null. */
  releasePlan: ReleasePlanSummary | null;
  /** When an SDK last reported evaluating the flag here (epoch ms; evaluation insights), or null. */
  lastEvaluatedAt: number | null;
}

/**
 * Plans a list row shows: running and paused ones, and a rolled-back canary (one per flag and
 * environment, so it stays until a new plan replaces it) — the news a PM scans the list for.
 */
export const LISTED_PLAN_STATUSES: readonly PlanStatus[] = [...ACTIVE_STATUSES, 'rolled_back'];

export interface ReleasePlanSummary {
  strategy: PlanSpec['strategy'];
  status: PlanStatus;
}

/** An active release plan, as much of it as a summary needs. */
export interface ActivePlan {
  flagKey: string;
  environment: string;
  spec: Pick<PlanSpec, 'strategy'>;
  status: PlanStatus;
}

/** The stage and what the targeting is in short words ("dogfood + 1 rule"), as the full flag says. */
function stageOf(config: FlagEnvironment): { stage: DerivedStage; stageSummary: string } {
  const { stage, summary } = describeTargeting(config);
  return { stage, stageSummary: summary };
}

export function summarizeEnvironment(config: FlagEnvironment, plan: ActivePlan | undefined): FlagEnvironmentSummary {
  return {
    ...stageOf(config),
    on: config.on,
    killed: config.killed,
    ruleCount: config.rules.length,
    guarded: config.guarded === true,
    releasePlan: plan ? { strategy: plan.spec.strategy, status: plan.status } : null,
    lastEvaluatedAt: null,
  };
}

/** Active plans by flag key, then environment. */
export function plansByFlag(plans: readonly ActivePlan[]): Map<string, Map<string, ActivePlan>> {
  const byFlag = new Map<string, Map<string, ActivePlan>>();
  for (const plan of plans) {
    let environments = byFlag.get(plan.flagKey);
    if (!environments) byFlag.set(plan.flagKey, (environments = new Map()));
    environments.set(plan.environment, plan);
  }
  return byFlag;
}

/**
 * A flag's summary. `environment`: only that environment's entry (the list shows one at a time);
 * otherwise every environment's.
 */
export function summarizeFlag(flag: Flag, managedBy: string | null, plans: ReadonlyMap<string, ActivePlan> | undefined, environment?: string): Omit<FlagSummary, 'lifecycle'> {
  const environments: Record<string, FlagEnvironmentSummary> = {};
  for (const [env, config] of Object.entries(flag.environments)) {
    if (environment === undefined || env === environment) environments[env] = summarizeEnvironment(config, plans?.get(env));
  }
  const { key, name, tags, owner, type, archived, clientVisible, version, updatedAt, updatedBy } = flag;
  return { key, name, tags, owner, type, archived, clientVisible, managedBy, version, updatedAt, updatedBy, environments };
}

/** What the list can be filtered on, as `GET /api/flags` filters it. */
export interface FlagFilter {
  /** Case-insensitive, in key, name and description. */
  q?: string;
  tag?: string;
  archived: 'true' | 'false' | 'all';
  /** With `stage`: the environment whose stage counts; otherwise any environment's. */
  environment?: string;
  /** A stage as `parseStageFilter` returns it. */
  stage?: StageFilter;
  /** Only flags at this point of their lifecycle (applied by the service, which knows it). */
  lifecycle?: Lifecycle;
}

/** A stage (normalised: `10.0%` → `10%`), `custom`, or `rollout` for any percentage below 100%. */
export type StageFilter = DerivedStage | 'rollout';

/** The stage filter for `text`, or undefined when it names no stage. */
export function parseStageFilter(text: string): StageFilter | undefined {
  const trimmed = text.trim();
  if (trimmed === 'custom' || trimmed === 'rollout') return trimmed;
  return parseStage(trimmed);
}

const isRollout = (stage: DerivedStage) => stage.endsWith('%') && stage !== '100%';

export function matchesFilter(flag: Flag, filter: FlagFilter): boolean {
  if (filter.archived !== 'all' && flag.archived !== (filter.archived === 'true')) return false;
  if (filter.tag !== undefined && !flag.tags.includes(filter.tag)) return false;
  const needle = filter.q?.toLowerCase();
  if (needle && ![flag.key, flag.name, flag.description].some((s) => s.toLowerCase().includes(needle))) return false;
  const { stage } = filter;
  if (stage !== undefined) {
    const configs = filter.environment === undefined ? Object.values(flag.environments) : [ownEntry(flag.environments, filter.environment)].filter((c) => c !== undefined);
    if (!configs.some((config) => (stage === 'rollout' ? isRollout(deriveStage(config)) : deriveStage(config) === stage))) return false;
  }
  return true;
}
