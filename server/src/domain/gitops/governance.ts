import { sameJson } from '../audit-revert.js';
import { approvalRequiredMessage, effectivePolicy, type ApprovalPolicy, type PolicySettings } from '../change-requests.js';
import { defaultFlagEnvironment } from '../flag-defaults.js';
import { ownEntry, type Flag, type FlagEnvironment, type NewFlag } from '../flags.js';
import type { Segment } from '../segments.js';
import type { BatchOp } from './plan.js';

/**
 * Flags as code and approval policies. A file applied into an environment whose policy requires
 * approval must not skip it: the parts of a plan that a REST call would have to propose as a change
 * request are "governed", exactly as the direct routes decide —
 *
 * - a flag's configuration (targeting, stage) changed in a policy environment;
 * - a new flag whose configuration in a policy environment is anything but a new flag's default
 *   (off, serving its off variation): creating it there would release it without review;
 * - a changed segment, whenever any environment has a policy (segments reach every environment).
 *
 * Not governed, as through the REST API: flag metadata (name, tags, variations… reach no user by
 * themselves), new segments (nothing uses them yet), deletions, and environments themselves.
 */

/** Configuration fields a plan may change that do not decide what is served (never governed). */
const UNSERVED_FIELDS: ReadonlySet<string> = new Set(['guarded']);
/** A new flag's own salt is its key: the file choosing another serves nobody differently yet. */
const NEW_FLAG_IGNORED: ReadonlySet<string> = new Set(['guarded', 'salt']);

export interface GovernedChange {
  resource: 'flag' | 'segment';
  key: string;
  /** null: a segment (every environment). */
  environment: string | null;
  /** Whether the flag is created by the plan (its configuration there is not a new flag's default). */
  created: boolean;
  /** The configuration (or segment) fields that differ. */
  fields: string[];
}

/** Fields of two configurations that differ (`ignored` aside). */
export function differingFields(before: Partial<FlagEnvironment> | undefined, after: Partial<FlagEnvironment>, ignored: ReadonlySet<string> = UNSERVED_FIELDS): string[] {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  return [...keys].filter((k) => !ignored.has(k) && !sameJson((before as Record<string, unknown> | undefined)?.[k], (after as Record<string, unknown>)[k])).sort();
}

/**
 * The governed parts of `ops`, given the current flags (by key) and the environments whose policy
 * requires approval. `anyPolicy`: whether any environment requires it (segments then are governed).
 */
export function governedChanges(ops: readonly BatchOp[], current: ReadonlyMap<string, Flag>, currentSegments: ReadonlyMap<string, Segment>, required: ReadonlySet<string>): GovernedChange[] {
  if (required.size === 0) return [];
  const governed: GovernedChange[] = [];
  for (const op of ops) {
    if (op.kind === 'flag.update' || op.kind === 'flag.create') {
      const before = op.kind === 'flag.update' ? current.get(op.flag.key) : undefined;
      for (const [environment, after] of Object.entries(op.flag.environments)) {
        if (!required.has(environment)) continue;
        const fields = governedFields(op.flag, before, environment, after);
        if (fields.length > 0) governed.push({ resource: 'flag', key: op.flag.key, environment, created: op.kind === 'flag.create', fields });
      }
    } else if (op.kind === 'segment.update') {
      const before = currentSegments.get(op.segment.key);
      const fields = Object.keys(op.segment).filter((f) => f !== 'key' && !sameJson((before as Record<string, unknown> | undefined)?.[f], (op.segment as unknown as Record<string, unknown>)[f]));
      if (fields.length > 0) governed.push({ resource: 'segment', key: op.segment.key, environment: null, created: false, fields: fields.sort() });
    }
  }
  return governed;
}

function governedFields(flag: NewFlag, before: Flag | undefined, environment: string, after: FlagEnvironment): string[] {
  const existing = before ? ownEntry(before.environments, environment) : undefined;
  if (existing) return differingFields(existing, after);
  // A new flag, or a flag new to the environment: it starts as every new flag does.
  return differingFields(defaultFlagEnvironment(flag.key, flag.variations, flag.type), after, NEW_FLAG_IGNORED);
}

/** The environments a set of governed changes falls under (a segment: every policy environment). */
export function governingEnvironments(governed: readonly GovernedChange[], required: ReadonlySet<string>): string[] {
  const envs = new Set<string>();
  for (const g of governed) {
    if (g.environment === null) required.forEach((e) => envs.add(e));
    else envs.add(g.environment);
  }
  return [...envs].sort();
}

/** The strictest policy over `environments`. */
export function policyOver(environments: readonly string[], policies: ReadonlyMap<string, ApprovalPolicy>): PolicySettings {
  return effectivePolicy(environments.map((e) => policies.get(e)).filter((p): p is ApprovalPolicy => p !== undefined));
}

/** "flag "a" in production, segment "beta" (every environment)", at most `max` named. */
export function describeGoverned(governed: readonly GovernedChange[], max = 5): string {
  const named = governed.slice(0, max).map((g) => (g.resource === 'segment' ? `segment "${g.key}" (segments reach every environment)` : `${g.created ? 'new ' : ''}flag "${g.key}" in ${g.environment}`));
  return `${named.join(', ')}${governed.length > max ? ` and ${governed.length - max} more` : ''}`;
}

/** The 409 a governed apply gets without a change request or a bypass: what and where, and the ways forward. */
export function gitopsApprovalMessage(governed: readonly GovernedChange[], environments: readonly string[], policy: PolicySettings): string {
  const base = approvalRequiredMessage(`applying a flags file that changes ${describeGoverned(governed)}`, environments.join(', '), policy).replace(/: create a change request.*$/s, '');
  const bypass = policy.adminBypass ? '; or, as an admin, apply it bypassing approval with a reason (--bypass-approval "why", or "bypassApproval" in the body; audited)' : '';
  return `${base}: propose those changes as change requests (switchyard apply FILE --request "title", or "changeRequest": {"title": "…"} in the body; the rest of the file is then applied directly), get them approved and apply them (switchyard requests apply ID)${bypass}. A server syncing from Git refuses such changes unless started with --sync-bypass-approvals: protect the branch (required reviews) instead.`;
}
