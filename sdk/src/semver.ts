/**
 * Just enough Semantic Versioning 2.0 for targeting clauses: `1.2.3`, `v1.2`, `2.0.0-beta.1+build`.
 * Missing minor/patch count as 0 (so `2` equals `2.0.0`); build metadata is ignored.
 */
export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly (string | number)[];
}

const SEMVER = /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;
const NUMERIC = /^(0|[1-9]\d*)$/;

export function parseSemVer(text: string): SemVer | undefined {
  if (text.length > 256) return undefined;
  const m = SEMVER.exec(text.trim());
  if (!m) return undefined;
  const prerelease = m[4] ? m[4].split('.').map((id) => (NUMERIC.test(id) ? Number(id) : id)) : [];
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0), prerelease };
}

function compareIdentifiers(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1; // numeric identifiers sort before alphanumeric ones
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative when a < b, 0 when equal in precedence, positive when a > b. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  const core = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (core !== 0) return core;
  // A version with a prerelease has lower precedence than the same version without one.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return b.prerelease.length - a.prerelease.length;
  const size = Math.min(a.prerelease.length, b.prerelease.length);
  for (let i = 0; i < size; i++) {
    const c = compareIdentifiers(a.prerelease[i]!, b.prerelease[i]!);
    if (c !== 0) return c;
  }
  return a.prerelease.length - b.prerelease.length;
}
