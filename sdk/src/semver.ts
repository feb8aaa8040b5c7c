/**
 * Just enough Semantic Versioning 2.0 for targeting clauses: `1.2.3`, `v1.2`, `2.0.0-beta.1+build`.
 * Missing minor/patch count as 0 (so `2` equals `2.0.0`); build metadata is ignored.
 */

/**
 * A version as a list compared element by element: major, minor, patch, then the prerelease
 * identifiers — or `~` for none, which sorts after every identifier (they are [0-9A-Za-z-]), so
 * `1.0.0` > `1.0.0-rc.1`. Numbers sort before strings, as numeric identifiers do.
 */
export type SemVer = readonly (number | string)[];

const SEMVER = /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;
const NUMERIC = /^(0|[1-9]\d*)$/;

export function parseSemVer(text: string): SemVer | undefined {
  const m = text.length > 256 ? null : SEMVER.exec(text.trim());
  const prerelease = m?.[4]?.split('.').map((id) => (NUMERIC.test(id) ? +id : id)) ?? ['~'];
  return m ? [+m[1]!, +(m[2] ?? 0), +(m[3] ?? 0), ...prerelease] : undefined;
}

/** Negative when a < b, 0 when equal in precedence, positive when a > b. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return typeof x === typeof y ? (x < y ? -1 : 1) : typeof x === 'number' ? -1 : 1;
  }
  // Equal so far: more prerelease identifiers sort later (`rc.1` < `rc.1.1`).
  return a.length - b.length;
}
