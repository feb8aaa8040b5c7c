import { get } from '../api/client.js';
import type { ApprovalPolicy } from '../api/types.js';
import { useResource, type Resource } from '../state.js';

/** Every environment's approval policy (`GET /api/approval-policies`; viewers may read them). */
export function usePolicies(): Resource<ApprovalPolicy[]> {
  return useResource(() => get<{ items: ApprovalPolicy[] }>('/api/approval-policies').then((r) => r.items), []);
}

/** The policy of `environment` when one is required there, else undefined (writes go direct). */
export function requiredPolicy(policies: readonly ApprovalPolicy[] | undefined, environment: string): ApprovalPolicy | undefined {
  const policy = policies?.find((p) => p.environment === environment);
  return policy?.required ? policy : undefined;
}

/**
 * Known — or failed to load, when writes go direct and the server's 409 says what applies. Until
 * then a page must not offer governed writes: a click would write directly where a policy requires
 * a change request, and be refused.
 */
export function policiesSettled(policies: Resource<ApprovalPolicy[]>): boolean {
  return policies.data !== undefined || policies.error !== undefined;
}
