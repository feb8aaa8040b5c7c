import type { AuditEntry } from '../../domain/audit.js';
import { NO_POLICY, countedApprovals, effectivePolicy, governedBy, type ApprovalPolicy, type ChangeRequest, type PolicySettings } from '../../domain/change-requests.js';
import { webhookMessage, type WebhookEvent } from '../../domain/releases/webhooks.js';
import type { Change } from '../write.js';

/** A request with the policy that governs it now (the strictest of the environments it touches). */
export interface ChangeRequestView {
  request: ChangeRequest;
  policy: PolicySettings;
  counted: number;
}

/** A stored policy, or the absence of one (version 0: changes are written directly). */
export type PolicyView = PolicySettings & { environment: string; version: number; updatedAt: number | null; updatedBy: string | null };

export interface PolicyContext {
  policies: Map<string, ApprovalPolicy>;
  environments: string[];
}

export function policyView(environment: string, stored: ApprovalPolicy | undefined): PolicyView {
  if (!stored) return { environment, ...NO_POLICY, version: 0, updatedAt: null, updatedBy: null };
  return { ...stored };
}

export function policyOf(request: ChangeRequest, context: PolicyContext): PolicySettings {
  return effectivePolicy(governedBy(request, context.environments).map((env) => context.policies.get(env) ?? NO_POLICY));
}

export function view(request: ChangeRequest, context: PolicyContext): ChangeRequestView {
  const policy = policyOf(request, context);
  return { request, policy, counted: countedApprovals(policy, request).length };
}

/** The audit entry (and webhook) of a change to a request itself. */
export function recorded(action: string, before: ChangeRequest | null, after: ChangeRequest, webhook?: WebhookEvent, message?: string): Change {
  return {
    audit: [{ action, resourceType: 'change_request', resourceKey: String(after.id), environment: after.environment, before, after, ...(message !== undefined ? { message } : {}) }],
    webhooks: webhook ? (audit) => requestWebhooks(webhook, audit, after) : undefined,
  };
}

function requestWebhooks(event: WebhookEvent, audit: readonly AuditEntry[], request: ChangeRequest) {
  const entry = audit.find((a) => a.resourceType === 'change_request' && a.resourceKey === String(request.id));
  if (!entry) return [];
  return [
    webhookMessage(event, entry.at, {
      id: request.id,
      title: request.title,
      environment: request.environment,
      status: request.status,
      author: request.author,
      actor: entry.actor,
      approvals: request.approvals.map((a) => a.actor),
      reason: request.reason,
      bypassed: request.bypassed,
      changes: request.changes.map((c) => (c.type === 'segment' ? { type: c.type, segment: c.segment } : { type: c.type, flag: c.flag, environment: c.environment })),
      auditId: entry.id,
    }),
  ];
}
