import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { ApprovalPolicyRepository, ChangeRequestRepository } from '../ports.js';
import { changeRequestRow, toChangeRequest, toPolicy } from '../change-request-rows.js';
import { conn } from './connection.js';
import { approvalPolicies, changeRequests } from './schema.js';

export const sqliteApprovalPolicies: ApprovalPolicyRepository = {
  async list(tx) {
    return conn(tx).select().from(approvalPolicies).orderBy(approvalPolicies.environment).all().map(toPolicy);
  },

  async get(tx, environment) {
    const row = conn(tx).select().from(approvalPolicies).where(eq(approvalPolicies.environment, environment)).get();
    return row ? toPolicy(row) : undefined;
  },

  async put(tx, environment, settings, expectedVersion, at, actor) {
    const values = { ...settings, updatedAt: at, updatedBy: actor };
    const row =
      expectedVersion === undefined
        ? conn(tx)
            .insert(approvalPolicies)
            .values({ environment, ...values })
            .onConflictDoUpdate({ target: approvalPolicies.environment, set: { ...values, version: sql`${approvalPolicies.version} + 1` } })
            .returning()
            .get()
        : conn(tx)
            .update(approvalPolicies)
            .set({ ...values, version: expectedVersion + 1 })
            .where(and(eq(approvalPolicies.environment, environment), eq(approvalPolicies.version, expectedVersion)))
            .returning()
            .get();
    return row ? toPolicy(row) : undefined;
  },
};

export const sqliteChangeRequests: ChangeRequestRepository = {
  async insert(tx, request) {
    return toChangeRequest(conn(tx).insert(changeRequests).values(changeRequestRow(request)).returning().get());
  },

  // One writer at a time holds a SQLite database: there is nothing to lock.
  async get(tx, id) {
    const row = conn(tx).select().from(changeRequests).where(eq(changeRequests.id, id)).get();
    return row ? toChangeRequest(row) : undefined;
  },

  async list(tx, query) {
    const where: SQL[] = [];
    if (query.statuses) where.push(inArray(changeRequests.status, [...query.statuses]));
    if (query.environment !== undefined) where.push(eq(changeRequests.environment, query.environment));
    if (query.flag !== undefined) where.push(sql`instr(${changeRequests.flagKeys}, ${` ${query.flag} `}) > 0`);
    return conn(tx)
      .select()
      .from(changeRequests)
      .where(and(...where))
      .orderBy(desc(changeRequests.id))
      .limit(query.limit)
      .all()
      .map(toChangeRequest);
  },

  async update(tx, request, expectedVersion) {
    const where = and(eq(changeRequests.id, request.id), eq(changeRequests.version, expectedVersion));
    return conn(tx).update(changeRequests).set(changeRequestRow(request)).where(where).run().changes === 1;
  },
};
