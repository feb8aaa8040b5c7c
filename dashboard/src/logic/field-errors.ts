import type { ErrorDetail } from '../api/types.js';

/**
 * API validation errors name a path (`body.rules[0].clauses[1].values[0]`, or for cross-checks
 * `environments.production.rules[0].id`). Forms name their fields with the same relative paths
 * (`rules[0].clauses[1].values`), so each message lands next to its field.
 */
export function relativePath(path: string, environment?: string): string {
  let p = path.replace(/^body\.?/, '');
  if (environment !== undefined) {
    const prefix = `environments.${environment}`;
    if (p === prefix) return '';
    if (p.startsWith(prefix + '.')) p = p.slice(prefix.length + 1);
  }
  return p;
}

export type FieldErrors = ReadonlyMap<string, string[]>;

export function toFieldErrors(details: readonly ErrorDetail[], environment?: string): FieldErrors {
  const map = new Map<string, string[]>();
  for (const d of details) {
    const path = relativePath(d.path, environment);
    map.set(path, [...(map.get(path) ?? []), d.message]);
  }
  return map;
}

/** Messages for a field and everything inside it (`values` also gets `values[2]`'s message). */
export function errorsAt(errors: FieldErrors, field: string): string[] {
  const out: string[] = [];
  for (const [path, messages] of errors) {
    if (path === field || path.startsWith(field + '.') || path.startsWith(field + '[')) out.push(...messages);
  }
  return out;
}

/** A DOM id for a field path, for aria-describedby. */
export const fieldId = (prefix: string, path: string): string => `${prefix}-${path.replace(/[^a-zA-Z0-9]+/g, '-')}`;
