import { and, asc, count, eq, inArray, sql } from 'drizzle-orm';
import type { CodeRefRepository } from '../ports.js';
import { conn } from './connection.js';
import { codeRefFlags, codeRefUploads, codeRefs } from './schema.js';

/** Rows per INSERT: 6 parameters each, well under SQLite's limit on bound parameters. */
const CHUNK = 1000;

export const sqliteCodeRefs: CodeRefRepository = {
  async replace(tx, upload, refs) {
    const db = conn(tx);
    const { repository, branch } = upload;
    db.delete(codeRefs).where(and(eq(codeRefs.repository, repository), eq(codeRefs.branch, branch))).run();
    for (let i = 0; i < refs.length; i += CHUNK) {
      db.insert(codeRefs).values(refs.slice(i, i + CHUNK).map((ref) => ({ repository, branch, ...ref }))).run();
    }
    const values = { ...upload, references: refs.length };
    db.insert(codeRefUploads).values(values).onConflictDoUpdate({ target: [codeRefUploads.repository, codeRefUploads.branch], set: values }).run();
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
      .orderBy(asc(codeRefs.repository), asc(codeRefs.branch), asc(codeRefs.path), asc(codeRefs.line), asc(codeRefs.id))
      .limit(limit)
      .all();
  },

  async counts(tx) {
    const rows = conn(tx).select({ flagKey: codeRefs.flagKey, n: count() }).from(codeRefs).groupBy(codeRefs.flagKey).all();
    return new Map(rows.map((r) => [r.flagKey, r.n]));
  },

  async hasUploads(tx) {
    return conn(tx).select({ one: sql<number>`1` }).from(codeRefUploads).limit(1).all().length > 0;
  },

  async marks(tx, flagKeys) {
    if (flagKeys !== undefined && flagKeys.length === 0) return [];
    const query = conn(tx).select().from(codeRefFlags);
    return (flagKeys === undefined ? query : query.where(inArray(codeRefFlags.flagKey, [...flagKeys]))).all();
  },

  async putMarks(tx, marks) {
    const db = conn(tx);
    for (let i = 0; i < marks.length; i += CHUNK) {
      db.insert(codeRefFlags)
        .values(marks.slice(i, i + CHUNK))
        .onConflictDoUpdate({ target: codeRefFlags.flagKey, set: { lastReferencedAt: sql`excluded.last_referenced_at`, removedAt: sql`excluded.removed_at` } })
        .run();
    }
  },
};
