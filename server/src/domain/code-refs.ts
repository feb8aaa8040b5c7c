/**
 * Code references: where flag keys appear in repositories, as `switchyard code-refs --upload`
 * found them. An upload replaces everything known for its repository and branch; per flag, the
 * store remembers when it was last referenced and when its last reference disappeared.
 */

/** Limits on one upload: a large monorepo fits, a runaway scan (a key like "a" matching everywhere) does not. */
export const CODE_REF_LIMITS = {
  repository: 200,
  branch: 255,
  commit: 64,
  references: 20_000,
  path: 1024,
  snippet: 300,
  /** At most this many references of one flag are listed (a count says how many there were). */
  listed: 500,
  /** Request body bytes: 20,000 references with long paths and snippets. */
  bodyBytes: 16 * 1024 * 1024,
} as const;

/** One reference found by a scan. */
export interface NewCodeRef {
  flagKey: string;
  path: string;
  line: number;
  snippet: string;
}

export interface CodeRefUpload {
  repository: string;
  branch: string;
  commit: string;
  uploadedAt: number;
  uploadedBy: string;
}

/** A stored reference with the upload it came from. */
export interface CodeRef extends NewCodeRef {
  repository: string;
  branch: string;
  commit: string;
  uploadedAt: number;
}

/** Per flag: when an upload last found it referenced, and when its last reference disappeared (null while referenced). */
export interface CodeRefMark {
  flagKey: string;
  lastReferencedAt: number;
  removedAt: number | null;
}

/**
 * The marks after an upload: `before` and `after` are reference counts per flag over every
 * repository and branch. A flag referenced now is marked referenced at `at`; one that had
 * references and has none any more is marked removed at `at`. Flags neither referenced nor newly
 * unreferenced keep their marks (nothing to write).
 */
export function marksAfterUpload(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, previous: ReadonlyMap<string, CodeRefMark>, at: number): CodeRefMark[] {
  const marks: CodeRefMark[] = [];
  for (const [flagKey, count] of after) if (count > 0) marks.push({ flagKey, lastReferencedAt: at, removedAt: null });
  for (const [flagKey, count] of before) {
    if (count === 0 || (after.get(flagKey) ?? 0) > 0) continue;
    const mark = previous.get(flagKey);
    marks.push({ flagKey, lastReferencedAt: mark?.lastReferencedAt ?? at, removedAt: at });
  }
  return marks;
}
