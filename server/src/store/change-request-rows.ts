import type { ApprovalPolicy, Approval, ApproverRole, ChangeRequest, ChangeRequestStatus, Comment, RequestedChange } from '../domain/change-requests.js';
import type * as pg from './postgres/schema.js';
import type * as sqlite from './sqlite/schema.js';

/**
 * Row ↔ domain mapping of approval policies and change requests, shared by both dialects (kept
 * apart from rows.ts so the feature's tables are held to the same row types in one place).
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Row<T extends { $inferSelect: unknown }> = T['$inferSelect'];
type AssertSame<A, B> = Same<A, B> extends true ? true : [A, 'differs from', B];
export type ChangeRequestDialectsAgree = [
  AssertSame<Row<typeof sqlite.approvalPolicies>, Row<typeof pg.approvalPolicies>>,
  AssertSame<Row<typeof sqlite.changeRequests>, Row<typeof pg.changeRequests>>,
];
const dialectsAgree: ChangeRequestDialectsAgree = [true, true];
void dialectsAgree;

export type PolicyRow = Row<typeof sqlite.approvalPolicies>;
export type ChangeRequestRow = Row<typeof sqlite.changeRequests>;

export function toPolicy(row: PolicyRow): ApprovalPolicy {
  return { ...row, approverRoles: row.approverRoles as ApproverRole[] };
}

export function toChangeRequest({ flagKeys: _flagKeys, ...row }: ChangeRequestRow): ChangeRequest {
  return {
    ...row,
    status: row.status as ChangeRequestStatus,
    changes: row.changes as RequestedChange[],
    approvals: row.approvals as Approval[],
    comments: row.comments as Comment[],
  };
}

/** The stored row of a request: its flag keys spelled out so the list can filter on them. */
export function changeRequestRow({ id: _id, ...request }: ChangeRequest | (Omit<ChangeRequest, 'id'> & { id?: number })): Omit<ChangeRequestRow, 'id'> {
  const flags = [...new Set(request.changes.flatMap((c) => (c.type === 'segment' ? [] : [c.flag])))];
  return { ...request, flagKeys: ` ${flags.join(' ')} ` };
}
