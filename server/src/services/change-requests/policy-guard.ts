import { approvalRequiredMessage, effectivePolicy, type ApprovalPolicy } from '../../domain/change-requests.js';
import { AppError } from '../../domain/errors.js';
import type { Repositories, Tx } from '../../store/ports.js';

/**
 * Refuse a direct write that an approval policy says must go through a change request. Read inside
 * the write's own transaction, so a policy set meanwhile is never missed. `environment` null: a
 * segment edit, which reaches every environment (any required policy applies). `instead`: what to
 * do rather than the default advice (create a change request), for writes a request cannot hold.
 */
export async function assertDirectWriteAllowed(repos: Repositories, tx: Tx, what: string, environment: string | null, instead?: string): Promise<void> {
  const policies: ApprovalPolicy[] = environment === null ? await repos.approvalPolicies.list(tx) : [await repos.approvalPolicies.get(tx, environment)].filter((p) => p !== undefined);
  const required = policies.filter((p) => p.required);
  if (required.length === 0) return;
  const where = environment ?? required.map((p) => p.environment).join(', ');
  throw new AppError('approval_required', approvalRequiredMessage(what, where, effectivePolicy(required), instead), {
    environments: required.map((p) => p.environment),
    approvals: effectivePolicy(required).approvals,
    create: 'POST /api/change-requests',
  });
}
