import { ownEntry, type Flag, type FlagEnvironment, type NewFlag } from '../flags.js';
import type { NewSegment } from '../segments.js';
import { defaultFlagEnvironment } from '../flag-defaults.js';
import { DOGFOOD_SEGMENT, deriveStage } from '../stages.js';
import { sameValue } from './canonical.js';
import type { DesiredState } from './desired.js';
import { compactEntry } from './entries.js';
import type { CurrentState } from './export.js';

/** One change of a flags-as-code apply; `expectedVersion` is the version the plan saw. */
export type BatchOp =
  | { kind: 'environment.create'; key: string; name: string; critical: boolean }
  | { kind: 'environment.update'; key: string; name: string; critical: boolean }
  | { kind: 'segment.create'; segment: NewSegment }
  | { kind: 'segment.update'; segment: NewSegment; expectedVersion: number }
  | { kind: 'segment.delete'; key: string; expectedVersion: number }
  | { kind: 'flag.create'; flag: NewFlag }
  | { kind: 'flag.update'; flag: NewFlag; expectedVersion: number }
  | { kind: 'flag.delete'; key: string; expectedVersion: number };

export type ResourceKind = 'environment' | 'segment' | 'flag';

export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

export interface PlannedChange {
  action: 'create' | 'update' | 'delete';
  resource: ResourceKind;
  key: string;
  fields: FieldChange[];
}

export interface Plan {
  changes: PlannedChange[];
  /** `flag:key` / `segment:key` → the version this plan saw (0: absent). Apply re-checks them. */
  versions: Record<string, number>;
  ops: BatchOp[];
}

export interface PlanOptions {
  /** Delete flags and segments the files do not name (never the `internal` segment). */
  prune?: boolean;
  /** Delete only these when the files no longer name them (sync mode: what the file managed before). */
  pruneOnly?: { flags: ReadonlySet<string>; segments: ReadonlySet<string> };
}

const FLAG_FIELDS = ['name', 'description', 'tags', 'owner', 'type', 'variations', 'archived', 'clientVisible'] as const;
const SEGMENT_FIELDS = ['name', 'description', 'unitAttribute', 'included', 'excluded', 'rules'] as const;
/** What a stage change rewrites: shown as one `stage: 10% → 50%` line instead. */
const STAGE_FIELDS = new Set(['on', 'killed', 'rules', 'defaultServe']);

export const resourceId = (resource: 'flag' | 'segment', key: string) => `${resource}:${key}`;

/** What applying `desired` to `current` would change; pure, so `diff` and `apply` agree by construction. */
export function planChanges(desired: DesiredState, current: CurrentState, options: PlanOptions = {}): Plan {
  const plan: Plan = { changes: [], versions: {}, ops: [] };
  const envs = new Map(current.environments.map((e) => [e.key, e]));
  for (const [key, want] of desired.environments) {
    const have = envs.get(key);
    if (!have) {
      plan.changes.push({ action: 'create', resource: 'environment', key, fields: [] });
      plan.ops.push({ kind: 'environment.create', key, ...want });
    } else if (have.name !== want.name || have.critical !== want.critical) {
      const fields = (['name', 'critical'] as const).filter((f) => have[f] !== want[f]).map((f) => ({ path: f, before: have[f], after: want[f] }));
      plan.changes.push({ action: 'update', resource: 'environment', key, fields });
      plan.ops.push({ kind: 'environment.update', key, ...want });
    }
  }
  const allEnvs = [...new Set([...envs.keys(), ...desired.environments.keys()])];

  const segments = new Map(current.segments.map((s) => [s.key, s]));
  for (const [key, want] of desired.segments) {
    const have = segments.get(key);
    plan.versions[resourceId('segment', key)] = have?.version ?? 0;
    if (!have) {
      plan.changes.push({ action: 'create', resource: 'segment', key, fields: [] });
      plan.ops.push({ kind: 'segment.create', segment: want });
      continue;
    }
    const fields = SEGMENT_FIELDS.filter((f) => !sameValue(have[f], want[f])).map((f) => ({ path: f, before: have[f], after: want[f] }));
    if (fields.length === 0) continue;
    plan.changes.push({ action: 'update', resource: 'segment', key, fields });
    plan.ops.push({ kind: 'segment.update', segment: want, expectedVersion: have.version });
  }

  const flags = new Map(current.flags.map((f) => [f.key, f]));
  for (const [key, wanted] of desired.flags) {
    const have = flags.get(key);
    let want = wanted;
    plan.versions[resourceId('flag', key)] = have?.version ?? 0;
    if (!have) {
      const environments: Record<string, FlagEnvironment> = {};
      for (const env of allEnvs) environments[env] = ownEntry(want.environments, env) ?? defaultFlagEnvironment(key, want.variations, want.type);
      const fields: FieldChange[] = Object.entries(want.environments).map(([env, config]) => ({ path: `environments.${env}`, before: undefined, after: compactEntry(want, config) }));
      // A new flag that browsers will see is worth a line in the review; hidden (the default) is not.
      if (want.clientVisible) fields.unshift({ path: 'clientVisible', before: undefined, after: true });
      plan.changes.push({ action: 'create', resource: 'flag', key, fields });
      plan.ops.push({ kind: 'flag.create', flag: { ...want, environments } });
      continue;
    }
    // `guarded` belongs to a running release plan, not to the file: keep whatever the guard set.
    const environmentsWithGuard = Object.fromEntries(
      Object.entries(want.environments).map(([env, config]) => {
        const guarded = ownEntry(have.environments, env)?.guarded;
        return [env, guarded === undefined ? config : { ...config, guarded }];
      }),
    );
    want = { ...want, environments: environmentsWithGuard };
    const fields = flagFieldChanges(have, want);
    if (fields.length === 0) continue;
    const environments = { ...have.environments, ...want.environments };
    for (const env of allEnvs) if (!Object.hasOwn(environments, env)) environments[env] = defaultFlagEnvironment(key, want.variations, want.type);
    plan.changes.push({ action: 'update', resource: 'flag', key, fields });
    plan.ops.push({ kind: 'flag.update', flag: { ...want, environments }, expectedVersion: have.version });
  }

  const prunes = (resource: 'flag' | 'segment', key: string) =>
    options.prune === true || (resource === 'flag' ? options.pruneOnly?.flags : options.pruneOnly?.segments)?.has(key) === true;
  for (const flag of current.flags) {
    if (desired.flags.has(flag.key) || !prunes('flag', flag.key)) continue;
    plan.versions[resourceId('flag', flag.key)] = flag.version;
    plan.changes.push({ action: 'delete', resource: 'flag', key: flag.key, fields: [] });
    plan.ops.push({ kind: 'flag.delete', key: flag.key, expectedVersion: flag.version });
  }
  for (const segment of current.segments) {
    if (desired.segments.has(segment.key) || segment.key === DOGFOOD_SEGMENT || !prunes('segment', segment.key)) continue;
    plan.versions[resourceId('segment', segment.key)] = segment.version;
    plan.changes.push({ action: 'delete', resource: 'segment', key: segment.key, fields: [] });
    plan.ops.push({ kind: 'segment.delete', key: segment.key, expectedVersion: segment.version });
  }
  return plan;
}

function flagFieldChanges(have: Flag, want: NewFlag): FieldChange[] {
  const fields: FieldChange[] = FLAG_FIELDS.filter((f) => !sameValue(have[f], want[f])).map((f) => ({ path: f, before: have[f], after: want[f] }));
  for (const [env, after] of Object.entries(want.environments)) {
    const before = ownEntry(have.environments, env);
    if (!before) {
      fields.push({ path: `environments.${env}`, before: undefined, after: compactEntry(want, after) });
      continue;
    }
    if (sameValue(before, after)) continue;
    const [from, to] = [deriveStage(before), deriveStage(after)];
    const stageCovers = from !== to && from !== 'custom' && to !== 'custom';
    if (from !== to) fields.push({ path: `environments.${env}.stage`, before: from, after: to });
    for (const field of Object.keys({ ...before, ...after }) as (keyof FlagEnvironment)[]) {
      if (stageCovers && STAGE_FIELDS.has(field)) continue;
      if (!sameValue(before[field], after[field])) fields.push({ path: `environments.${env}.${field}`, before: before[field], after: after[field] });
    }
  }
  return fields;
}

export function summarize(changes: readonly PlannedChange[]): { create: number; update: number; delete: number } {
  return {
    create: changes.filter((c) => c.action === 'create').length,
    update: changes.filter((c) => c.action === 'update').length,
    delete: changes.filter((c) => c.action === 'delete').length,
  };
}

