import { z } from 'zod';
import { CONFIG_FIELDS, SEGMENT_FIELDS, describeEdit, sameJson } from './audit-revert.js';
import type { Role } from './credentials.js';
import { LIMITS, flagEnvironmentSchema, keySchema, type FlagEnvironment } from './flags.js';
import { segmentPatchSchema, type Segment } from './segments.js';
import { deriveStage } from './stages.js';

/**
 * Change requests: "four eyes on production". An environment's approval policy says how many
 * approvals a change there needs, from which roles, and whether an admin may bypass them (with a
 * reason). Where a policy is required, stage changes, targeting edits and segment edits go through
 * a change request instead of being written directly; the kill switch never does (incidents do not
 * wait).
 *
 * Segments are global, so a segment edit reaches every environment: it needs a change request
 * whenever ANY environment has a required policy, and must satisfy all of them at once (the
 * strictest combination, `effectivePolicy`). That rule needs no look at which flags use the segment
 * — a usage check would race with a flag starting to use it — and it errs towards review.
 *
 * Pure: the service reads policies and requests through repositories and applies these rules.
 */

export const APPROVER_ROLES = ['editor', 'admin'] as const satisfies readonly Role[];
export type ApproverRole = (typeof APPROVER_ROLES)[number];
export const MAX_APPROVALS = 5;

export interface ApprovalPolicy {
  environment: string;
  /** Whether changes in this environment need an approved change request. */
  required: boolean;
  /** Approvals needed, each from a different person other than the author (1..5). */
  approvals: number;
  approverRoles: ApproverRole[];
  /** Whether an admin may apply without the approvals, giving a reason (audited). */
  adminBypass: boolean;
  version: number;
  updatedAt: number;
  updatedBy: string;
}

export type PolicySettings = Pick<ApprovalPolicy, 'required' | 'approvals' | 'approverRoles' | 'adminBypass'>;

/** An environment without a stored policy: changes are written directly. */
export const NO_POLICY: PolicySettings = Object.freeze({ required: false, approvals: 1, approverRoles: ['editor', 'admin'] as ApproverRole[], adminBypass: false });

export const policyBodySchema = z.strictObject({
  required: z.boolean().describe('Whether changes here need an approved change request'),
  approvals: z.int().min(1).max(MAX_APPROVALS).default(1).describe('Approvals needed from people other than the author (1..5)'),
  approverRoles: z.array(z.enum(APPROVER_ROLES)).min(1).max(APPROVER_ROLES.length).default(['editor', 'admin']).describe('Roles whose approval counts'),
  adminBypass: z.boolean().default(false).describe('Admins may apply without approvals, giving a reason (audited)'),
  version: z.int().min(1).optional().describe('The version you last read (or If-Match); optional for a first policy'),
});

/** The policy that governs several environments at once: every one of them must be satisfied. */
export function effectivePolicy(policies: readonly PolicySettings[]): PolicySettings {
  const required = policies.filter((p) => p.required);
  if (required.length === 0) return NO_POLICY;
  const roles = APPROVER_ROLES.filter((role) => required.every((p) => p.approverRoles.includes(role)));
  return {
    required: true,
    approvals: Math.max(...required.map((p) => p.approvals)),
    // Policies that share no role leave nobody able to approve: only an admin bypass (if every one allows it) applies.
    approverRoles: roles,
    adminBypass: required.every((p) => p.adminBypass),
  };
}

// ---------------------------------------------------------------------------------------------
// Requests

export const CHANGE_REQUEST_STATUSES = ['open', 'approved', 'applied', 'rejected', 'withdrawn'] as const;
export type ChangeRequestStatus = (typeof CHANGE_REQUEST_STATUSES)[number];
/** Statuses after which nothing about a request changes but its comments. */
export const FINAL_STATUSES: readonly ChangeRequestStatus[] = ['applied', 'rejected', 'withdrawn'];

export const MAX_CHANGES = 20;

/** What a `release` change does to the flag's saved release plan in the request's environment. */
export const RELEASE_ACTIONS = ['start', 'resume'] as const;
export type ReleaseAction = (typeof RELEASE_ACTIONS)[number];

/** The release plan a `release` change was made against, as it was then (for the rendered diff). */
export interface PlanSnapshot {
  version: number;
  status: string;
  strategy: string;
  /** Step percentages, in order. */
  steps: number[];
  guarded: boolean;
  /** The step it was paused at (resume), else null. */
  currentStep: number | null;
}
export const MAX_COMMENTS = 200;

/** Who did something to a request: the API token's name (as audit entries record it) and its id. */
export interface Person {
  actor: string;
  tokenId: number;
  role: Role;
}

// `killed` is restated: zod keeps its default (false) inside `.partial()` (see flags.routes.ts).
export const targetingPatchSchema = flagEnvironmentSchema.partial().extend({ killed: z.boolean().optional() });
export type TargetingPatch = z.infer<typeof targetingPatchSchema>;
type SegmentPatch = Omit<z.infer<typeof segmentPatchSchema>, 'version'>;

const baseVersion = z.int().min(1).describe('The version of the flag or segment this change was made against');

export const requestedChangeSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('targeting'),
    flag: keySchema,
    environment: z.string().max(LIMITS.key).optional().describe("Defaults to the request's environment (and must be it)"),
    config: targetingPatchSchema.describe('Fields of the configuration to set, as PATCH /api/flags/{key}/environments/{env} takes them'),
    baseVersion,
  }),
  z.strictObject({
    type: z.literal('stage'),
    flag: keySchema,
    environment: z.string().max(LIMITS.key).optional(),
    stage: z.string().min(1).max(20).describe('off | dogfood | 10% | 100% (kill never needs a request)'),
    variation: z.string().max(64).optional(),
    baseVersion,
  }),
  z.strictObject({
    type: z.literal('segment'),
    segment: keySchema,
    patch: segmentPatchSchema.omit({ version: true }),
    baseVersion,
  }),
  z.strictObject({
    type: z.literal('release'),
    flag: keySchema,
    environment: z.string().max(LIMITS.key).optional(),
    action: z.enum(RELEASE_ACTIONS).describe("start: start the flag's saved release plan there; resume: resume it where it was paused"),
    planVersion: z.int().min(1).describe('The version of the release plan this change was made against (GET …/release-plan): applying refuses when the plan was edited since'),
    baseVersion,
  }),
]);
export type RequestedChangeInput = z.infer<typeof requestedChangeSchema>;
/**
 * A change as the server itself proposes it: a promotion's targeting change also says which
 * environment's targeting it copies (audited as `flag.promoted` when applied). Clients cannot send
 * `promotedFrom`: the request schema is strict.
 */
export type ProposedChange = RequestedChangeInput | (Extract<RequestedChangeInput, { type: 'targeting' }> & { promotedFrom: string });

/** What a change does, and the version of its flag or segment it was made against. */
export type ChangeSpec = (
  | { type: 'targeting'; flag: string; environment: string; config: TargetingPatch; promotedFrom?: string }
  | { type: 'stage'; flag: string; environment: string; stage: string; variation?: string }
  | { type: 'segment'; segment: string; patch: SegmentPatch }
  | { type: 'release'; flag: string; environment: string; action: ReleaseAction; planVersion: number }
) & { baseVersion: number };

/**
 * A change as stored: with the configuration (targeting, stage, release) or segment at its base
 * version, and what it makes of it; a release change also keeps the plan it was made against.
 */
export type RequestedChange = ChangeSpec & {
  before: unknown;
  after: unknown;
  plan?: PlanSnapshot;
};

export interface Approval extends Person {
  at: number;
}

export interface Comment {
  actor: string;
  at: number;
  body: string;
}

export interface ChangeRequest {
  id: number;
  title: string;
  description: string;
  environment: string;
  status: ChangeRequestStatus;
  changes: RequestedChange[];
  approvals: Approval[];
  comments: Comment[];
  author: string;
  authorTokenId: number;
  createdAt: number;
  updatedAt: number;
  /** Bumped by every change to the request: approvals, status changes and rebases are conditional on it. */
  version: number;
  /** Who applied, rejected or withdrew it, when, and why (a rejection's or a bypass's reason). */
  resolvedBy: string | null;
  resolvedAt: number | null;
  reason: string | null;
  /** Applied by an admin without the approvals the policy asks for. */
  bypassed: boolean;
}

export type NewChangeRequest = Omit<ChangeRequest, 'id'>;

export interface ChangeRequestQuery {
  statuses?: readonly ChangeRequestStatus[];
  environment?: string;
  flag?: string;
  limit: number;
}

/** The resource a change touches: `flag:new-checkout`, `segment:internal`. */
export const resourceOf = (change: Pick<RequestedChange, 'type'> & { flag?: string; segment?: string }): string =>
  change.type === 'segment' ? `segment:${change.segment}` : `flag:${change.flag}`;

export const describeResource = (change: RequestedChange): string => (change.type === 'segment' ? `segment "${change.segment}"` : `flag "${change.flag}"`);

/** The environments whose policies govern a request: its own, and every one when it edits a segment. */
export function governedBy(request: Pick<ChangeRequest, 'environment' | 'changes'>, allEnvironments: readonly string[]): string[] {
  return request.changes.some((c) => c.type === 'segment') ? [...new Set([request.environment, ...allEnvironments])] : [request.environment];
}

/** Whether `person` is the request's author: by token, and by name (one person, two tokens). */
export const isAuthor = (request: Pick<ChangeRequest, 'author' | 'authorTokenId'>, person: Pick<Person, 'actor' | 'tokenId'>): boolean =>
  person.tokenId === request.authorTokenId || person.actor === request.author;

/** Why something may not be done: `forbidden` (who you are), `conflict` (the request's state). */
export interface Refusal {
  code: 'forbidden' | 'conflict';
  message: string;
}

const OPEN: readonly ChangeRequestStatus[] = ['open', 'approved'];

/** Why `person` may not approve `request` under `policy`, or undefined when they may. */
export function approvalRefusal(policy: PolicySettings, request: Pick<ChangeRequest, 'author' | 'authorTokenId' | 'status' | 'approvals'>, person: Person): Refusal | undefined {
  if (!OPEN.includes(request.status)) return { code: 'conflict', message: `the request is ${request.status}; only an open request can be approved` };
  if (person.role === 'viewer') return { code: 'forbidden', message: 'viewers cannot approve change requests' };
  if (isAuthor(request, person)) return { code: 'forbidden', message: 'authors cannot approve their own change request; ask someone else' };
  if (!(policy.approverRoles as readonly Role[]).includes(person.role)) {
    const message =
      policy.approverRoles.length === 0
        ? 'the policies this request falls under share no approver role: only an admin bypass can apply it'
        : `approvals here must come from ${policy.approverRoles.join(' or ')}; token "${person.actor}" is ${person.role}`;
    return { code: 'forbidden', message };
  }
  if (request.approvals.some((a) => a.tokenId === person.tokenId || a.actor === person.actor)) return { code: 'conflict', message: `${person.actor} has already approved this request` };
  return undefined;
}

/** Why `person` may not reject `request`: someone who could approve it may reject it (the author withdraws instead). */
export function rejectionRefusal(policy: PolicySettings, request: Pick<ChangeRequest, 'author' | 'authorTokenId' | 'status'>, person: Person): Refusal | undefined {
  if (!OPEN.includes(request.status)) return { code: 'conflict', message: `the request is ${request.status}; only an open request can be rejected` };
  if (isAuthor(request, person)) return { code: 'forbidden', message: 'authors withdraw their own request rather than reject it (POST …/withdraw)' };
  if (person.role !== 'admin' && !(policy.approverRoles as readonly Role[]).includes(person.role)) return { code: 'forbidden', message: `only ${policy.approverRoles.join(' or ')} tokens may reject requests here; token "${person.actor}" is ${person.role}` };
  return undefined;
}

/** Why `person` may not withdraw `request`: its author may, and an admin (tidying up after someone who left). */
export function withdrawalRefusal(request: Pick<ChangeRequest, 'author' | 'authorTokenId' | 'status'>, person: Person): Refusal | undefined {
  if (!OPEN.includes(request.status)) return { code: 'conflict', message: `the request is ${request.status}; only an open request can be withdrawn` };
  if (!isAuthor(request, person) && person.role !== 'admin') return { code: 'forbidden', message: `only its author (${request.author}) or an admin can withdraw a change request; reject it instead` };
  return undefined;
}

/**
 * Why `person` may not rebase `request`. Any editor may: a rebase moves the request onto the current
 * state and its approvals start over, so it grants nothing — the new diff needs approving again.
 */
export function rebaseRefusal(request: Pick<ChangeRequest, 'status'>, person: Pick<Person, 'role'>): Refusal | undefined {
  if (!OPEN.includes(request.status)) return { code: 'conflict', message: `the request is ${request.status}; only an open request can be rebased` };
  if (person.role === 'viewer') return { code: 'forbidden', message: 'viewers cannot rebase change requests' };
  return undefined;
}

/** The approvals that count under `policy` (non-authors with an allowed role, one per person). */
export function countedApprovals(policy: PolicySettings, request: Pick<ChangeRequest, 'author' | 'authorTokenId' | 'approvals'>): Approval[] {
  const seen = new Set<string>();
  return request.approvals.filter((a) => {
    if (isAuthor(request, a) || !(policy.approverRoles as readonly Role[]).includes(a.role) || seen.has(a.actor)) return false;
    seen.add(a.actor);
    return true;
  });
}

export const isApproved = (policy: PolicySettings, request: Pick<ChangeRequest, 'author' | 'authorTokenId' | 'approvals'>): boolean =>
  !policy.required || countedApprovals(policy, request).length >= policy.approvals;

/**
 * Why `person` may not apply `request`, or undefined. With `bypassReason`, an admin applies without
 * the approvals when the policy allows it.
 */
export function applyRefusal(policy: PolicySettings, request: Pick<ChangeRequest, 'author' | 'authorTokenId' | 'approvals' | 'status'>, person: Person, bypassReason: string | undefined): Refusal | undefined {
  if (!OPEN.includes(request.status)) return { code: 'conflict', message: `the request is ${request.status}; it cannot be applied` };
  if (person.role === 'viewer') return { code: 'forbidden', message: 'viewers cannot apply change requests' };
  if (bypassReason !== undefined) {
    if (person.role !== 'admin') return { code: 'forbidden', message: `only an admin can bypass approvals; token "${person.actor}" is ${person.role}` };
    if (policy.required && !policy.adminBypass) return { code: 'forbidden', message: 'the approval policy does not allow admins to bypass approvals here' };
    return undefined;
  }
  if (!isApproved(policy, request)) {
    const have = countedApprovals(policy, request).length;
    const bypass = policy.adminBypass ? ' (an admin may bypass them, giving a reason)' : '';
    return { code: 'conflict', message: `it has ${have} of the ${policy.approvals} approval${policy.approvals === 1 ? '' : 's'} it needs${bypass}` };
  }
  return undefined;
}

/** The refusal a direct write gets where a policy requires a change request. */
export function approvalRequiredMessage(what: string, environment: string, policy: PolicySettings, instead?: string): string {
  const n = `${policy.approvals} approval${policy.approvals === 1 ? '' : 's'}`;
  const how = instead ?? 'create a change request (POST /api/change-requests, or "switchyard requests create"; the stage, targeting and release-plan start and resume routes take ?changeRequest=true to create one for you)';
  return `${what} in ${environment} needs ${n}: ${how}. The kill switch always works directly.`;
}

// ---------------------------------------------------------------------------------------------
// Diffs

/** `start the guarded release plan (version 3): 5% → 25% → 50% → 100%, guarded by its error rate`. */
export function describeRelease(action: ReleaseAction, plan: PlanSnapshot): string {
  const steps = plan.steps.map((p, i) => (action === 'resume' && i === plan.currentStep ? `[${p}%]` : `${p}%`)).join(' → ');
  const guard = plan.guarded ? ', guarded (rolls back by itself on a regression)' : '';
  const verb = action === 'start' ? 'start' : 'resume';
  return `${verb} the ${plan.strategy} release plan (plan version ${plan.version}, ${plan.status}): ${steps}${guard}; it then ramps the flag by itself`;
}

export interface DiffLine {
  field: string;
  before: unknown;
  after: unknown;
  /** `defaultServe on 100% → on 10% / off 90%`. */
  text: string;
}

/**
 * The fields a change makes different, each with a readable line. Stage moves lead with the stage;
 * a release change leads with the plan it starts or resumes (then what its first step does to the flag).
 */
export function renderDiff(change: Pick<RequestedChange, 'type' | 'before' | 'after'> & { action?: ReleaseAction; plan?: PlanSnapshot }): DiffLine[] {
  const before = (change.before ?? {}) as Record<string, unknown>;
  const after = (change.after ?? {}) as Record<string, unknown>;
  const fields: readonly string[] = change.type === 'segment' ? SEGMENT_FIELDS : CONFIG_FIELDS;
  const lines: DiffLine[] = [];
  if (change.type === 'release' && change.plan && change.action) {
    const status = change.action === 'start' ? 'running' : 'running (resumed)';
    lines.push({ field: 'releasePlan', before: change.plan.status, after: status, text: describeRelease(change.action, change.plan) });
  }
  if (change.type !== 'segment') {
    const from = deriveStage(before as FlagEnvironment);
    const to = deriveStage(after as FlagEnvironment);
    if (from !== to) lines.push({ field: 'stage', before: from, after: to, text: `stage ${from} → ${to}` });
  }
  for (const field of fields) {
    if (sameJson(before[field], after[field])) continue;
    lines.push({ field, before: before[field], after: after[field], text: describeEdit({ environment: null, field }, before[field], after[field]) });
  }
  return lines;
}

/** What a segment change makes of the segment (the same merge PATCH /api/segments/{key} does). */
export function patchedSegment(before: Segment, patch: SegmentPatch): Segment {
  return { ...before, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)), key: before.key };
}
