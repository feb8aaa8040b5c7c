import { BUCKETS } from '@switchyard/sdk';
import type { Serve } from '@switchyard/sdk';
import { ownEntry, type Flag, type FlagEnvironment } from './flags.js';

/**
 * A flag's lifecycle: where it is on the way from being written to being deleted from the code.
 *
 *   new              created less than `newForDays` ago and not evaluated yet
 *   active           in use: being rolled out, targeted, or simply not settled
 *   launched         every environment is on and serves the same single variation to everyone,
 *                    and has for `launchedAfterDays`
 *   stale            archived; or no evaluations anywhere for `staleAfterDays`; or launched for
 *                    `staleAfterDays` (a launched flag is technical debt: the code can use the value)
 *   ready-to-remove  stale, and scanned repositories hold no reference to it any more
 *
 * Pure: the caller reads when each environment reached what it serves (from the audit log), the
 * last evaluations and the code references, and passes the clock.
 */
export const LIFECYCLES = ['new', 'active', 'launched', 'stale', 'ready-to-remove'] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];

export interface LifecycleThresholds {
  /** A flag younger than this, never evaluated, is new. */
  newForDays: number;
  /** Serving one variation to everyone everywhere for this long makes a flag launched. */
  launchedAfterDays: number;
  /** No evaluations for this long, or launched for this long, makes a flag stale. */
  staleAfterDays: number;
}

export const DEFAULT_LIFECYCLE_THRESHOLDS: Readonly<LifecycleThresholds> = Object.freeze({ newForDays: 7, launchedAfterDays: 7, staleAfterDays: 30 });

export const DAY_MS = 86_400_000;

/** What one environment serves: nothing but the off variation (off or killed), one variation to everyone, or it depends on the context. */
export type Serving = { kind: 'off'; variation: string } | { kind: 'single'; variation: string } | { kind: 'mixed' };

/** The single variation a serve gives everyone, if it does (a rollout with one weighted variation does). */
function singleVariation(serve: Serve): string | undefined {
  if ('variation' in serve) return serve.variation;
  const weighted = serve.rollout.variations.filter((v) => v.weight > 0);
  return weighted.length === 1 && weighted[0]!.weight === BUCKETS ? weighted[0]!.variation : undefined;
}

/** What `config` serves. Rules and targets that serve what the default serves change nothing (the 100% stage keeps its dogfood rule). */
export function servingOf(config: FlagEnvironment): Serving {
  if (!config.on) return { kind: 'off', variation: config.offVariation };
  const served = [singleVariation(config.defaultServe), ...config.rules.map((r) => singleVariation(r.serve)), ...config.targets.filter((t) => t.values.length > 0).map((t) => t.variation)];
  const first = served[0];
  return first !== undefined && served.every((v) => v === first) ? { kind: 'single', variation: first } : { kind: 'mixed' };
}

function sameServing(a: Serving | undefined, b: Serving | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.kind === b.kind && (a.kind === 'mixed' || a.variation === (b as Exclude<Serving, { kind: 'mixed' }>).variation);
}

/** An audit entry as far as the lifecycle reads it: flag writes record the whole flag before and after. */
export interface FlagHistoryEntry {
  at: number;
  environment: string | null;
  before: unknown;
  after: unknown;
}

function configOf(value: unknown, environment: string): FlagEnvironment | undefined {
  if (value === null || typeof value !== 'object' || !('environments' in value)) return undefined;
  const environments = (value as { environments: unknown }).environments;
  if (environments === null || typeof environments !== 'object') return undefined;
  return ownEntry(environments as Record<string, FlagEnvironment>, environment);
}

const isFlagShaped = (value: unknown) => value !== null && typeof value === 'object' && 'environments' in value;

/**
 * When `environment` started serving what it serves now: the newest entry (of `history`, newest
 * first) whose write changed that, or undefined when none of them did. Entries that are not flag
 * writes (release events, incidents) are skipped; a creation counts as a change.
 */
export function servingChangedAt(history: readonly FlagHistoryEntry[], environment: string): number | undefined {
  for (const entry of history) {
    if (entry.environment !== null && entry.environment !== environment) continue;
    if (!isFlagShaped(entry.after)) continue;
    if (entry.before === null) return entry.at;
    if (!isFlagShaped(entry.before)) continue;
    const [before, after] = [configOf(entry.before, environment), configOf(entry.after, environment)];
    if (before === undefined || after === undefined) {
      if (before !== after) return entry.at;
      continue;
    }
    if (!sameServing(servingOf(before), servingOf(after))) return entry.at;
  }
  return undefined;
}

export interface LifecycleInput {
  flag: Pick<Flag, 'archived' | 'createdAt' | 'environments'>;
  /** Per environment, when it reached what it serves now; an environment not named: since the flag was created. */
  servingSince: Readonly<Record<string, number>>;
  /** Last evaluation per environment (missing: never). Undefined when evaluations are not tracked: then "unused" is never concluded. */
  lastEvaluatedAt: Readonly<Record<string, number>> | undefined;
  /** References in scanned repositories; undefined when no repository was ever scanned (then nothing is ready to remove). */
  codeRefs: { references: number } | undefined;
  now: number;
  thresholds: LifecycleThresholds;
}

/** How long every environment has served one variation (the same one) to everyone, if it does. */
export function launchedFor(input: Pick<LifecycleInput, 'flag' | 'servingSince' | 'now'>): number | undefined {
  const { flag, servingSince, now } = input;
  const environments = Object.entries(flag.environments);
  if (environments.length === 0) return undefined;
  let variation: string | undefined;
  let since = -Infinity;
  for (const [env, config] of environments) {
    const serving = servingOf(config);
    if (serving.kind !== 'single' || (variation !== undefined && serving.variation !== variation)) return undefined;
    variation = serving.variation;
    since = Math.max(since, ownEntry(servingSince, env) ?? flag.createdAt);
  }
  return Math.max(0, now - since);
}

export function lifecycleOf(input: LifecycleInput): Lifecycle {
  const { flag, lastEvaluatedAt, codeRefs, now, thresholds } = input;
  const evaluations = lastEvaluatedAt === undefined ? [] : Object.values(lastEvaluatedAt);
  const lastEvaluated = evaluations.length === 0 ? undefined : Math.max(...evaluations);
  const launched = launchedFor(input);
  const unused = lastEvaluatedAt !== undefined && now - (lastEvaluated ?? flag.createdAt) >= thresholds.staleAfterDays * DAY_MS;
  const launchedLongAgo = launched !== undefined && launched >= thresholds.staleAfterDays * DAY_MS;
  if (flag.archived || unused || launchedLongAgo) return codeRefs !== undefined && codeRefs.references === 0 ? 'ready-to-remove' : 'stale';
  if (launched !== undefined && launched >= thresholds.launchedAfterDays * DAY_MS) return 'launched';
  if (now - flag.createdAt < thresholds.newForDays * DAY_MS && lastEvaluated === undefined) return 'new';
  return 'active';
}
