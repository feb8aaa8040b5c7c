import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { ApprovalPolicyRepository, ChangeRequestRepository } from '../ports.js';
import { changeRequestRow, toChangeRequest, toPolicy } from '../change-request-rows.js';
import { conn } from './connection.js';
import { approvalPolicies, changeRequests } from './schema.js';

export const postgresApprovalPolicies: ApprovalPolicyRepository = {
  async list(tx) {
    const rows = await conn(tx).select().from(approvalPolicies).orderBy(approvalPolicies.environment);
    return rows.map(toPolicy);
  },

  async get(tx, environment) {
    const [row] = await conn(tx).select().from(approvalPolicies).where(eq(approvalPolicies.environment, environment));
    return row ? toPolicy(row) : undefined;
  },

  async put(tx, environment, settings, expectedVersion, at, actor) {
    const values = { ...settings, updatedAt: at, updatedBy: actor };
    const [row] =
      expectedVersion === undefined
        ? await conn(tx)
            .insert(approvalPolicies)
            .values({ environment, ...values })
            .onConflictDoUpdate({ target: approvalPolicies.environment, set: { ...values, version: sql`${approvalPolicies.version} + 1` } })
            .returning()
        : await conn(tx)
            .update(approvalPolicies)
            .set({ ...values, version: expectedVersion + 1 })
            .where(and(eq(approvalPolicies.environment, environment), eq(approvalPolicies.version, expectedVersion)))
            .returning();
    return row ? toPolicy(row) : undefined;
  },
};

export const postgresChangeRequests: ChangeRequestRepository = {
  async insert(tx, request) {
    const [row] = await conn(tx).insert(changeRequests).values(changeRequestRow(request)).returning();
    return toChangeRequest(row!);
  },

  async get(tx, id, options) {
    const query = conn(tx).select().from(changeRequests).where(eq(changeRequests.id, id));
    const [row] = options?.forUpdate ? await query.for('update') : await query;
    return row ? toChangeRequest(row) : undefined;
  },

  async list(tx, query) {
    const where: SQL[] = [];
    if (query.statuses) where.push(inArray(changeRequests.status, [...query.statuses]));
    if (query.environment !== undefined) where.push(eq(changeRequests.environment, query.environment));
    if (query.flag !== undefined) where.push(sql`strpos(${changeRequests.flagKeys}, ${` ${query.flag} `}) > 0`);
    const rows = await conn(tx)
      .select()
      .from(changeRequests)
      .where(and(...where))
      .orderBy(desc(changeRequests.id))
      .limit(query.limit);
    return rows.map(toChangeRequest);
  },

  // Under READ COMMITTED, a second writer waits for the first one's row lock, then finds another
  // version and changes nothing: the service retries on fresh data (or refuses, for an apply).
  async update(tx, request, expectedVersion) {
    const where = and(eq(changeRequests.id, request.id), eq(changeRequests.version, expectedVersion));
    const updated = await conn(tx).update(changeRequests).set(changeRequestRow(request)).where(where).returning({ id: changeRequests.id });
    return updated.length === 1;
  },
};
