import type { AuditContext } from '../../domain/audit.js';
import type { Person } from '../../domain/change-requests.js';
import type { Role } from '../../domain/credentials.js';
import type { IncidentOverride } from '../../domain/gitops/incidents.js';
import type { PlanOptions, PlannedChange, summarize } from '../../domain/gitops/plan.js';

/** What a GitOps apply takes and what it returns (GitOpsService.apply / applyPlan). */

export interface ApplyOptions extends PlanOptions {
  /**
   * The caller's role: every change must be one it may make through the REST API (access.ts),
   * else nothing is applied (403). The sync, run by the server from the operator's file, is admin.
   */
  role: Role;
  dryRun?: boolean;
  /** Versions from an earlier plan (`diff`): a resource changed since then fails with 409. */
  expectedVersions?: Record<string, number>;
  audit: AuditContext;
  /** Sync mode: afterwards this source manages exactly the file's flags and segments (read-only elsewhere). */
  manage?: { source: string; flags: Iterable<string>; segments: Iterable<string> };
  /** Sync mode: incident overrides a new commit ends (the file wins), each audited with its message. */
  endIncidents?: readonly { incident: IncidentOverride; message: string }[];
  /**
   * What to do where the plan changes what an approval policy governs (domain/gitops/governance.ts);
   * without it such a plan is refused with 409 `approval_required`:
   * - `bypass`: apply anyway, the reason recorded in every audit entry — an admin's (`by: 'admin'`,
   *   where every policy involved allows admin bypass), or the operator's for the sync (`by: 'sync'`);
   * - `request`: apply the rest of the plan, and propose the governed parts as change requests
   *   (one per environment) by `person`;
   * - `sync`: refuse as the sync does (the message says to protect the branch).
   */
  approval?: { bypass: string; by: 'admin' | 'sync' } | { request: { title: string; description?: string }; person: Person } | { sync: true };
}

/** A change request a GitOps apply proposed instead of writing to an environment with an approval policy. */
export interface ProposedRequest {
  id: number;
  environment: string;
  title: string;
  changes: number;
}

export interface ApplyResult {
  applied: boolean;
  dryRun: boolean;
  changes: PlannedChange[];
  summary: ReturnType<typeof summarize>;
  versions: Record<string, number>;
  auditIds: number[];
  /** Change requests proposed for the parts that need approval (`approval.request`). */
  changeRequests: ProposedRequest[];
  /** The environments whose approval policies this apply bypassed (with a reason, audited). */
  approvalBypassed: string[];
}
