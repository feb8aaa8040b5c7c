import { CODE_REF_LIMITS, marksAfterUpload, type CodeRef, type CodeRefUpload, type NewCodeRef } from '../domain/code-refs.js';
import { AppError } from '../domain/errors.js';
import type { Writes } from './write.js';

export interface FlagCodeRefs {
  items: CodeRef[];
  /** How many references there are (`items` lists at most CODE_REF_LIMITS.listed). */
  total: number;
  /** When an upload last found the flag referenced, or null. */
  lastReferencedAt: number | null;
  /** When its last reference disappeared (null while referenced, or never referenced). */
  removedAt: number | null;
}

/**
 * Code references (domain/code-refs.ts). An upload replaces its repository+branch's references and
 * updates, in the same transaction, each flag's marks: referenced now, or its last reference gone.
 * Not audited and not in the change feed: references describe code, not configuration, and SDKs
 * never see them.
 */
export class CodeRefsService {
  constructor(private readonly w: Writes) {}

  async upload(input: Omit<CodeRefUpload, 'uploadedAt'>, refs: readonly NewCodeRef[]): Promise<{ references: number; uploadedAt: number }> {
    const uploadedAt = this.w.now();
    await this.w.db.transaction(async (tx) => {
      const { codeRefs } = this.w.repos;
      const before = await codeRefs.counts(tx);
      await codeRefs.replace(tx, { ...input, uploadedAt }, refs);
      const after = await codeRefs.counts(tx);
      const gone = [...before.keys()].filter((key) => !after.has(key));
      const previous = new Map((await codeRefs.marks(tx, gone)).map((m) => [m.flagKey, m]));
      await codeRefs.putMarks(tx, marksAfterUpload(before, after, previous, uploadedAt));
    });
    return { references: refs.length, uploadedAt };
  }

  async forFlag(key: string): Promise<FlagCodeRefs> {
    return this.w.read(async (tx) => {
      const { codeRefs, flags } = this.w.repos;
      if (!(await flags.get(tx, key))) throw AppError.notFound('flag', key);
      const [items, counts, [mark]] = await Promise.all([codeRefs.forFlag(tx, key, CODE_REF_LIMITS.listed), codeRefs.counts(tx), codeRefs.marks(tx, [key])]);
      return { items, total: counts.get(key) ?? 0, lastReferencedAt: mark?.lastReferencedAt ?? null, removedAt: mark?.removedAt ?? null };
    });
  }
}
