import type { ApprovalPolicy, ApproverRole, ChangeRequest, ChangeRequestDiffLine, ChangeRequestStatus, RequestedChange, Role } from '../api/types.js';

/**
 * Change requests as the dashboard shows them: which buttons a person gets, what a policy means in
 * words, and the diff in the shape DiffTable takes. The server decides (these mirror its rules in
 * server/src/domain/change-requests.ts so a button is not offered only to be refused); whatever it
 * answers is shown as it says it.
 */

export const REQUEST_STATUSES: readonly ChangeRequestStatus[] = ['open', 'approved', 'applied', 'rejected', 'withdrawn'];
export type StatusFilter = ChangeRequestStatus | 'all';

/** `?status=` of the list page: one status, or every one; anything else falls back to open. */
export function parseStatusFilter(value: string | null): StatusFilter {
  if (value === 'all') return 'all';
  return REQUEST_STATUSES.find((s) => s === value) ?? 'open';
}

/** Requests that can still be approved, rejected, withdrawn, rebased or applied. */
export const isPending = (status: ChangeRequestStatus): boolean => status === 'open' || status === 'approved';

export const STATUS_LABELS: Record<ChangeRequestStatus, string> = {
  open: 'Open',
  approved: 'Approved',
  applied: 'Applied',
  rejected: 'Rejected',
  withdrawn: 'Withdrawn',
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

type PolicyLike = Pick<ApprovalPolicy, 'required' | 'approvals' | 'adminBypass'>;

/**
 * What a write in an environment does under its policy, said before the click:
 * "Production requires 1 approval: this opens a change request instead of changing the flag."
 * Undefined where no policy applies (the write is direct).
 */
export function policyNotice(policy: PolicyLike | undefined, envName: string, what = 'the flag'): string | undefined {
  if (!policy?.required) return undefined;
  return `${envName} requires ${plural(policy.approvals, 'approval')}: this opens a change request instead of changing ${what}.`;
}

/** The policy's rules in one line, for the settings list: "1 approval from editor or admin; admins may bypass with a reason". */
export function describePolicy(policy: Pick<ApprovalPolicy, 'required' | 'approvals' | 'approverRoles' | 'adminBypass'>): string {
  if (!policy.required) return 'No approval needed: changes are written directly.';
  const roles = policy.approverRoles.length > 0 ? policy.approverRoles.join(' or ') : 'nobody';
  return `${plural(policy.approvals, 'approval')} from ${roles}, not the author; ${policy.adminBypass ? 'admins may bypass with a reason' : 'no bypass'}. The kill switch always works directly.`;
}

/**
 * The policy a segment edit falls under: segments reach every environment, so every required policy
 * applies at once (most approvals; bypass only if all allow it), as the server computes it.
 */
export function segmentPolicy(policies: readonly ApprovalPolicy[]): (PolicyLike & { environments: string[] }) | undefined {
  const required = policies.filter((p) => p.required);
  if (required.length === 0) return undefined;
  return {
    required: true,
    approvals: Math.max(...required.map((p) => p.approvals)),
    adminBypass: required.every((p) => p.adminBypass),
    environments: required.map((p) => p.environment),
  };
}

/** A button on the request page: shown or not, and when shown but not usable, why. */
export interface Control {
  show: boolean;
  disabledReason?: string;
}

export interface RequestControls {
  approve: Control;
  reject: Control;
  withdraw: Control;
  apply: Control;
  /** Apply without the approvals, giving a reason (admins, where the policy allows it). */
  bypass: Control;
  rebase: Control;
}

const hidden: Control = { show: false };

/**
 * Which actions `me` gets on `request`. `stale`: something it touches has moved since it was made
 * (or an apply was refused for that), so Rebase is offered.
 */
export function requestControls(request: ChangeRequest, me: { name: string; role: Role }, stale = false): RequestControls {
  if (!isPending(request.status) || me.role === 'viewer') return { approve: hidden, reject: hidden, withdraw: hidden, apply: hidden, bypass: hidden, rebase: hidden };
  const author = request.author === me.name;
  const roles = request.policy.approverRoles;
  const mayApproveByRole = (roles as readonly string[]).includes(me.role);
  const approvedByMe = request.approvals.some((a) => a.actor === me.name);
  const approveReason = author
    ? 'You wrote this request: someone else approves it.'
    : !mayApproveByRole
      ? `Approvals here must come from ${roles.length > 0 ? roles.join(' or ') : 'nobody (only an admin bypass applies)'}; you are ${me.role}.`
      : approvedByMe
        ? 'You have already approved this request.'
        : undefined;
  const approved = !request.policy.required || request.approvalsCounted >= request.approvalsNeeded;
  const missing = request.approvalsNeeded - request.approvalsCounted;
  // Stale or not, the server decides an apply: a refused one says what moved, next to Rebase.
  const applyReason = approved ? undefined : `It needs ${plural(missing, 'more approval')} (${request.approvalsCounted} of ${request.approvalsNeeded}).`;
  const bypassAllowed = me.role === 'admin' && request.policy.required && request.policy.adminBypass && !approved;
  return {
    approve: { show: request.policy.required, ...(approveReason ? { disabledReason: approveReason } : {}) },
    reject: { show: !author && (me.role === 'admin' || mayApproveByRole) },
    withdraw: { show: author || me.role === 'admin' },
    apply: { show: true, ...(applyReason ? { disabledReason: applyReason } : {}) },
    bypass: bypassAllowed ? { show: true } : hidden,
    rebase: { show: stale },
  };
}

/** "1 of 1 approvals", or "no approval needed" where no policy applies. */
export function approvalProgress(request: Pick<ChangeRequest, 'approvalsNeeded' | 'approvalsCounted' | 'policy'>): string {
  if (!request.policy.required) return 'No approval needed';
  return `${request.approvalsCounted} of ${plural(request.approvalsNeeded, 'approval')}`;
}

/**
 * What a change is about, as a heading: "Move new-checkout to 10%", "Targeting of new-checkout",
 * "Promote new-checkout from staging", "Segment internal", "Start the release plan of new-checkout".
 */
export function changeTitle(change: Pick<RequestedChange, 'type' | 'flag' | 'segment' | 'stage' | 'action' | 'promotedFrom'>): string {
  if (change.type === 'segment') return `Segment ${change.segment ?? ''}`.trim();
  if (change.type === 'release') return `${change.action === 'resume' ? 'Resume' : 'Start'} the release plan of ${change.flag ?? ''}`;
  if (change.type === 'stage') return `Move ${change.flag ?? ''} to ${change.stage ?? ''}`;
  if (change.promotedFrom) return `Promote ${change.flag ?? ''} from ${change.promotedFrom}`;
  return `Targeting of ${change.flag ?? ''}`;
}

/**
 * What a change was made against: "Made against version 4." — a release change also names its plan
 * and the steps it ramps through: "Made against flag version 4 and release plan version 2 (guarded: 5% → 25% → 100%)."
 */
export function baseText(change: Pick<RequestedChange, 'type' | 'baseVersion' | 'planVersion' | 'plan' | 'action'>): string {
  if (change.type !== 'release') return `Made against version ${change.baseVersion}.`;
  const plan = change.plan;
  const steps = plan ? plan.steps.map((p, i) => (change.action === 'resume' && i === plan.currentStep ? `[${p}%]` : `${p}%`)).join(' → ') : '';
  const detail = plan ? ` (${plan.strategy}${plan.guarded && plan.strategy !== 'guarded' ? ', guarded' : ''}: ${steps})` : '';
  return `Made against flag version ${change.baseVersion} and release plan version ${change.planVersion ?? plan?.version ?? '?'}${detail}. Applying refuses if either changed since.`;
}

/** The server's diff lines as the before/after snapshots DiffTable renders, field by field. */
export function diffSides(lines: readonly ChangeRequestDiffLine[]): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const line of lines) {
    if (line.before !== undefined) before[line.field] = line.before;
    if (line.after !== undefined) after[line.field] = line.after;
  }
  return { before, after };
}

/** One thing an apply found moved since the request was made (`details.changed` of its 409). */
export interface MovedResource {
  type: 'flag' | 'segment' | 'release-plan';
  key: string;
  what: string;
  baseVersion: number;
  currentVersion: number | null;
  by: string | null;
}

/** The moved resources of an apply's 409 `conflict`, or undefined when the error is something else. */
export function movedResources(error: { code: string; details?: unknown }): MovedResource[] | undefined {
  if (error.code !== 'conflict' || !error.details || typeof error.details !== 'object') return undefined;
  const changed = (error.details as { changed?: unknown }).changed;
  if (!Array.isArray(changed)) return undefined;
  return changed.filter((c): c is MovedResource => typeof c === 'object' && c !== null && typeof (c as MovedResource).key === 'string');
}

/**
 * The resources a request changes whose current version is not the one it was made against, given
 * the current versions (null: deleted). Empty when it can be applied as it is.
 */
export function staleChanges(request: Pick<ChangeRequest, 'changes'>, current: ReadonlyMap<string, number | null>): string[] {
  const stale = new Set<string>();
  for (const change of request.changes) {
    const resource = resourceKey(change);
    if (!current.has(resource)) continue;
    if (current.get(resource) !== change.baseVersion) stale.add(resource);
  }
  return [...stale];
}

/** `flag:new-checkout` / `segment:internal`, as the server names what a change touches. */
export const resourceKey = (change: Pick<RequestedChange, 'type' | 'flag' | 'segment'>): string => (change.type === 'segment' ? `segment:${change.segment ?? ''}` : `flag:${change.flag ?? ''}`);

// ---- The admin's policy form ----

export interface PolicyDraft {
  required: boolean;
  approvals: string;
  approverRoles: ApproverRole[];
  adminBypass: boolean;
}

export const MAX_APPROVALS = 5;

export const toPolicyDraft = (p: Pick<ApprovalPolicy, 'required' | 'approvals' | 'approverRoles' | 'adminBypass'>): PolicyDraft => ({
  required: p.required,
  approvals: String(p.approvals),
  approverRoles: [...p.approverRoles],
  adminBypass: p.adminBypass,
});

/** The PUT body of a draft, or the first problem, named by field. */
export function policyBody(draft: PolicyDraft, version: number): { body: Record<string, unknown> } | { field: 'approvals' | 'approverRoles'; error: string } {
  const approvals = Number(draft.approvals.trim());
  if (draft.required) {
    if (draft.approvals.trim() === '' || !Number.isInteger(approvals) || approvals < 1 || approvals > MAX_APPROVALS) return { field: 'approvals', error: `Approvals must be a whole number from 1 to ${MAX_APPROVALS}` };
    if (draft.approverRoles.length === 0) return { field: 'approverRoles', error: 'Choose at least one role whose approval counts' };
  }
  const body: Record<string, unknown> = {
    required: draft.required,
    ...(draft.required ? { approvals, approverRoles: draft.approverRoles, adminBypass: draft.adminBypass } : {}),
    ...(version > 0 ? { version } : {}),
  };
  return { body };
}
