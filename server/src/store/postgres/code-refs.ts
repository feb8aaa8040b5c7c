import { and, asc, count, eq, inArray, sql, type AnyColumn } from 'drizzle-orm';
import type { CodeRefRepository } from '../ports.js';
import { conn } from './connection.js';
import { codeRefFlags, codeRefUploads, codeRefs } from './schema.js';

/** Rows per INSERT: 6 parameters each, well under PostgreSQL's 65,535 bound parameters. */
const CHUNK = 1000;
/** Bytewise, as SQLite sorts: both dialects list references in the same order. */
const bytewise = (column: AnyColumn) => sql`${column} collate "C"`;

export const postgresCodeRefs: CodeRefRepository = {
  async replace(tx, upload, refs) {
    const c = conn(tx);
    const { repository, branch } = upload;
    await c.delete(codeRefs).where(and(eq(codeRefs.repository, repository), eq(codeRefs.branch, branch)));
    for (let i = 0; i < refs.length; i += CHUNK) {
      await c.insert(codeRefs).values(refs.slice(i, i + CHUNK).map((ref) => ({ repository, branch, ...ref })));
    }
    const values = { ...upload, references: refs.length };
    await c.insert(codeRefUploads).values(values).onConflictDoUpdate({ target: [codeRefUploads.repository, codeRefUploads.branch], set: values });
  },

  async forFlag(tx, flagKey, limit) {
    return conn(tx)
      .select({
        flagKey: codeRefs.flagKey,
        repository: codeRefs.repository,
        branch: codeRefs.branch,
        path: codeRefs.path,
        line: codeRefs.line,
        snippet: codeRefs.snippet,
        commit: codeRefUploads.commit,
        uploadedAt: codeRefUploads.uploadedAt,
      })
      .from(codeRefs)
      .innerJoin(codeRefUploads, and(eq(codeRefUploads.repository, codeRefs.repository), eq(codeRefUploads.branch, codeRefs.branch)))
      .where(eq(codeRefs.flagKey, flagKey))
      .orderBy(bytewise(codeRefs.repository), bytewise(codeRefs.branch), bytewise(codeRefs.path), asc(codeRefs.line), asc(codeRefs.id))
      .limit(limit);
  },

  async counts(tx) {
    const rows = await conn(tx).select({ flagKey: codeRefs.flagKey, n: count() }).from(codeRefs).groupBy(codeRefs.flagKey);
    return new Map(rows.map((r) => [r.flagKey, Number(r.n)]));
  },

  async hasUploads(tx) {
    return (await conn(tx).select({ one: sql<number>`1` }).from(codeRefUploads).limit(1)).length > 0;
  },

  async marks(tx, flagKeys) {
    if (flagKeys !== undefined && flagKeys.length === 0) return [];
    const query = conn(tx).select().from(codeRefFlags);
    return flagKeys === undefined ? query : query.where(inArray(codeRefFlags.flagKey, [...flagKeys]));
  },

  async putMarks(tx, marks) {
    const c = conn(tx);
    for (let i = 0; i < marks.length; i += CHUNK) {
      await c
        .insert(codeRefFlags)
        .values(marks.slice(i, i + CHUNK))
        .onConflictDoUpdate({ target: codeRefFlags.flagKey, set: { lastReferencedAt: sql`excluded.last_referenced_at`, removedAt: sql`excluded.removed_at` } });
    }
  },
};
