import type { Clause, FlagType, JsonValue, Prerequisite, Rule, Serve, Target } from '@switchyard/sdk';

/** Response shapes of the REST API (see server/src/*.routes.ts). */
export type Role = 'admin' | 'editor' | 'viewer';

export interface Me {
  name: string;
  role: Role;
}

export interface Environment {
  key: string;
  name: string;
  critical: boolean;
  /** Secure mode: client keys must send user keys signed by the application's server. */
  clientSecureMode: boolean;
  sortOrder: number;
  version: number;
}

export interface Variation {
  key: string;
  value: JsonValue;
  name?: string;
  description?: string;
}

export interface FlagEnvironment {
  on: boolean;
  killed: boolean;
  offVariation: string;
  /** Flags that must serve a variation before this targeting applies (absent: none). */
  prerequisites?: Prerequisite[];
  targets: Target[];
  rules: Rule[];
  defaultServe: Serve;
  salt: string;
  bucketBy: string;
  /** Derived: off | dogfood | N% | 100% | kill when the targeting is exactly that stage, else custom. */
  stage: string;
  /** What it is in short words: "dogfood", "10%", "dogfood + 1 rule", "killed (was 100%)". */
  stageSummary?: string;
  /** When killed: the stage it was at (off, dogfood, N%, 100%), which one stage change restores; else null. */
  killedFrom?: string | null;
  /**
   * A kill of a Git-managed flag during an incident: the sync holds it killed here until it is
   * resumed (POST …/resume) or a commit changes the flag in this environment; else null.
   */
  incident?: Incident | null;
  /** Set by the release guard while a guarded canary runs (or is paused) here; absent otherwise. */
  guarded?: boolean;
}

export interface Incident {
  killedAt: string;
  killedBy: string;
  message: string | null;
  /** The commit the Git sync had applied when the flag was killed. */
  sinceCommit: string | null;
}

export interface Flag {
  key: string;
  name: string;
  description: string;
  tags: string[];
  owner: string;
  type: FlagType;
  variations: Variation[];
  archived: boolean;
  /** Client keys (browsers, mobile apps) receive its evaluated value — never its rules. */
  clientVisible: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
  environments: Record<string, FlagEnvironment>;
  /** The Git sync file that manages this flag (read-only here), or null. */
  managedBy?: string | null;
}

/** A release plan under way in one environment of a flag summary (running or paused). */
export interface ReleasePlanSummary {
  strategy: 'guarded' | 'rolling';
  status: 'ready' | 'running' | 'paused' | 'completed' | 'rolled_back' | 'aborted';
}

/** One environment of a flag list row (server/src/domain/flag-summaries.ts). */
export interface FlagEnvironmentSummary {
  /** As in the full flag: off, dogfood, N%, 100%, kill or custom. */
  stage: string;
  /** "dogfood", "10%", "dogfood + 1 rule", "killed (was 100%)". */
  stageSummary: string;
  on: boolean;
  killed: boolean;
  ruleCount: number;
  /** A guarded rollout is running (SDKs count exposures). */
  guarded: boolean;
  releasePlan: ReleasePlanSummary | null;
  /** When an SDK last reported evaluating the flag here (epoch ms; evaluation insights), or null. */
  lastEvaluatedAt: number | null;
}

/** `GET /api/flag-summaries`: what a row of the flag list shows, every environment's stage included. */
export interface FlagSummary {
  key: string;
  name: string;
  tags: string[];
  owner: string;
  type: FlagType;
  archived: boolean;
  clientVisible: boolean;
  managedBy: string | null;
  version: number;
  updatedAt: string;
  updatedBy: string;
  environments: Record<string, FlagEnvironmentSummary>;
  /** Where the flag is between creation and removal from the code (server: domain/lifecycle.ts). */
  lifecycle: Lifecycle;
}

export const LIFECYCLES = ['new', 'active', 'launched', 'stale', 'ready-to-remove'] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];

/** `GET /api/flags/{key}/code-refs`: where the flag is used in uploaded repositories. */
export interface FlagCodeRefs {
  items: { repository: string; branch: string; commit: string; path: string; line: number; snippet: string; uploadedAt: number }[];
  total: number;
  lastReferencedAt: number | null;
  removedAt: number | null;
}

export interface SegmentRule {
  id: string;
  clauses: Clause[];
}

export interface Segment {
  key: string;
  name: string;
  description: string;
  unitAttribute: string;
  included: string[];
  excluded: string[];
  rules: SegmentRule[];
  version: number;
  updatedAt: string;
  updatedBy: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  resourceType: 'flag' | 'segment' | 'environment' | 'api_token' | 'sdk_key' | 'webhook' | 'schedule' | 'change_request';
  resourceKey: string;
  environment: string | null;
  before: unknown;
  after: unknown;
  source: string;
  message: string | null;
}

export interface AuditPage {
  items: AuditEntry[];
  nextCursor: number | null;
}

export interface ApiToken {
  id: number;
  name: string;
  role: Role;
  prefix: string;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** `server`: secret, reads whole rule sets; `client`: public, evaluated values of client-visible flags only. */
export type SdkKeyKind = 'server' | 'client';

export interface SdkKey {
  id: number;
  name: string;
  kind: SdkKeyKind;
  environment: string;
  prefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
}

export interface ErrorDetail {
  path: string;
  message: string;
}

/** `details` of a 409 version_conflict. */
export interface ConflictDetails {
  currentVersion: number;
  updatedBy?: string;
  updatedAt?: string;
}

export interface LiveEvent {
  type: 'flag' | 'segment' | 'environment';
  key: string;
  version: number | null;
  actor: string | null;
}

// ---- The readable audit log and reverting one entry (server/src/http/audit.routes.ts) ----

/** Declaration merging: the audit list answers these with every entry. */
export interface AuditEntry {
  /** The change as one sentence: "10% → 100% in Production", "added 3 members to internal" (a flag entry leaves the flag out). */
  summary: string;
  /** The Git commit a GitOps change came from, or null. */
  commit: string | null;
}

/** A field the revert sets back: `environment` null for the flag's or segment's own field. */
export interface RevertChange {
  environment: string | null;
  field: string;
  current: unknown;
  reverted: unknown;
  /** Readable: "production: defaultServe on 100% → on 10% / off 90%". */
  text: string;
}

/** A later change that touched the same fields; `entry` null when the log no longer holds it. */
export interface RevertConflict {
  entry: { id: number; actor: string; at: string; action: string } | null;
  fields: { environment: string | null; field: string }[];
}

/** `GET /api/audit/:id/revert`: what reverting the entry would do now, and whether it can. */
export interface RevertPreview {
  entry: AuditEntry;
  /** update: set the fields back; delete: undo a creation; recreate: undo a deletion. */
  operation: 'update' | 'delete' | 'recreate';
  /** Send it back with the revert (null: the flag or segment does not exist). */
  version: number | null;
  changes: RevertChange[];
  stages: { environment: string; current: string; reverted: string }[];
  summary: string[];
  conflicts: RevertConflict[];
  canApply: boolean;
  /** The error the revert would answer with now, or null. */
  refusal: { code: string; message: string; details?: unknown } | null;
}

/** `POST /api/audit/:id/revert`: the flag or segment afterwards (null: the revert deleted it). */
export interface RevertResult {
  flag?: Flag | null;
  segment?: Segment | null;
}

// ---- Segments page: which flags use a segment (GET /api/segments/:key/usage) ----

/** One rule of one flag in one environment that names the segment. */
export interface SegmentUse {
  flagKey: string;
  flagName: string;
  flagArchived: boolean;
  environment: string;
  ruleId: string;
  ruleDescription: string | null;
  /** Position in the environment's rules (0 = first). */
  ruleIndex: number;
  operator: 'in_segment' | 'not_in_segment';
}

// ---- Change requests and approval policies (server/src/http/change-requests.routes.ts) ----

export type ApproverRole = 'editor' | 'admin';

/** `GET /api/approval-policies` item: version 0 means no policy was ever set (writes go direct). */
export interface ApprovalPolicy {
  environment: string;
  required: boolean;
  approvals: number;
  approverRoles: ApproverRole[];
  adminBypass: boolean;
  version: number;
  updatedAt: string | null;
  updatedBy: string | null;
}

export type ChangeRequestStatus = 'open' | 'approved' | 'applied' | 'rejected' | 'withdrawn';

export interface ChangeRequestDiffLine {
  field: string;
  before: unknown;
  after: unknown;
  /** Readable: "stage off → 10%", "defaultServe on 100% → on 10% / off 90%". */
  text: string;
}

export interface RequestedChange {
  type: 'targeting' | 'stage' | 'segment' | 'release';
  flag?: string;
  segment?: string;
  environment?: string;
  stage?: string;
  variation?: string;
  config?: Record<string, unknown>;
  /** A targeting change opened by a promotion: the environment whose targeting it copies. */
  promotedFrom?: string;
  patch?: Record<string, unknown>;
  /** A release change: start or resume the flag's saved release plan. */
  action?: 'start' | 'resume';
  /** A release change: the release plan version it was made against. */
  planVersion?: number;
  /** A release change: the plan as it was when the change was made (or rebased). */
  plan?: { version: number; status: string; strategy: string; steps: number[]; guarded: boolean; currentStep: number | null };
  /** The version of the flag or segment it was made against. */
  baseVersion: number;
  diff: ChangeRequestDiffLine[];
}

export interface ChangeRequest {
  id: number;
  title: string;
  description: string;
  environment: string;
  status: ChangeRequestStatus;
  author: string;
  createdAt: string;
  updatedAt: string;
  version: number;
  changes: RequestedChange[];
  approvals: { actor: string; role: string; at: string }[];
  /** Under the policy that governs it now (0: no policy applies). */
  approvalsNeeded: number;
  approvalsCounted: number;
  policy: { required: boolean; approvals: number; approverRoles: string[]; adminBypass: boolean };
  comments: { actor: string; at: string; body: string }[];
  resolvedBy: string | null;
  resolvedAt: string | null;
  reason: string | null;
  bypassed: boolean;
}

// ---- Evaluation insights (server/src/http/evaluations.routes.ts) ----

/** `GET /api/flags/{key}/insights?environment=E&hours=N`: every hour of the window, oldest first. */
export interface FlagInsights {
  environment: string;
  lastEvaluatedAt: number | null;
  hours: { hour: number; total: number; variations: Record<string, number> }[];
}

/** `GET /api/sdk-connections` item: an SDK seen using a key. */
export interface SdkConnection {
  keyId: number;
  keyName: string;
  environment: string;
  sdk: string;
  version: string;
  firstSeenAt: number;
  lastSeenAt: number;
}
