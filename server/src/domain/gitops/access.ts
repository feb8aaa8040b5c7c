import { hasRole, type Role } from '../credentials.js';
import type { BatchOp, Plan } from './plan.js';

/**
 * A GitOps apply is only a batch of the changes the REST API makes one at a time, so each change
 * needs exactly the role of its REST route (README "Access"): flags — metadata, targeting in any
 * environment, create, delete — and segments need `editor` (`/api/flags…`, `/api/segments…`);
 * creating an environment, renaming it or changing its `critical` mark needs `admin`
 * (`POST`/`PATCH /api/environments…`). A file cannot delete environments, tokens or SDK keys.
 */
export function requiredRole(op: BatchOp): Role {
  switch (op.kind) {
    case 'environment.create':
    case 'environment.update':
      return 'admin';
    case 'flag.create':
    case 'flag.update':
    case 'flag.delete':
    case 'segment.create':
    case 'segment.update':
    case 'segment.delete':
      return 'editor';
  }
}

export interface RefusedChange {
  /** `update environment "production" (name, critical)` */
  change: string;
  requiredRole: Role;
}

/** Every change of `plan` that `role` may not make, in plan order (empty: the whole plan is allowed). */
export function refusedChanges(plan: Pick<Plan, 'ops' | 'changes'>, role: Role): RefusedChange[] {
  return plan.ops
    .map((op) => ({ op, needs: requiredRole(op) }))
    .filter(({ needs }) => !hasRole(role, needs))
    .map(({ op, needs }) => ({ change: describe(op, plan), requiredRole: needs }));
}

function describe(op: BatchOp, plan: Pick<Plan, 'changes'>): string {
  const [resource, action] = op.kind.split('.') as [string, string];
  const key = 'flag' in op ? op.flag.key : 'segment' in op ? op.segment.key : op.key;
  const fields = plan.changes.find((c) => c.resource === resource && c.key === key && c.action === action)?.fields ?? [];
  const what = action === 'update' && fields.length > 0 ? ` (${fields.map((f) => f.path).join(', ')})` : '';
  return `${action} ${resource} "${key}"${what}`;
}
