/**
 * Just enough Semantic Versioning 2.0 for targeting clauses: `1.2.3`, `v1.2`, `2.0.0-beta.1+build`.
 * Missing minor/patch count as 0 (so `2` equals `2.0.0`); build metadata is ignored.
 */
export type SemVer = readonly [major: number, minor: number, patch: number, prerelease: readonly (string | number)[]];

const SEMVER = /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;
const NUMERIC = /^(0|[1-9]\d*)$/;

export function parseSemVer(text: string): SemVer | undefined {
  const m = text.length > 256 ? null : SEMVER.exec(text.trim());
  if (!m) return undefined;
  const prerelease = m[4] ? m[4].split('.').map((id) => (NUMERIC.test(id) ? Number(id) : id)) : [];
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0), prerelease];
}

/** Negative when a < b, 0 when equal in precedence, positive when a > b. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  const [pa, pb] = [a[3], b[3]];
  const core = a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  // A version with a prerelease has lower precedence than the same version without one.
  if (core !== 0 || pa.length === 0 || pb.length === 0) return core || pb.length - pa.length;
  for (let i = 0; i < pa.length && i < pb.length; i++) {
    const [x, y] = [pa[i]!, pb[i]!];
    if (x === y) continue;
    // Numeric identifiers sort before alphanumeric ones.
    if (typeof x === 'number') return typeof y === 'number' ? x - y : -1;
    return typeof y === 'number' || x > y ? 1 : -1;
  }
  return pa.length - pb.length;
}
