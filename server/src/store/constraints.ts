import type { AppError } from '../domain/errors.js';

/** The constraint a failed statement violated, whatever the driver: the one place errors are mapped. */
export type Violation = 'unique' | 'foreign_key' | 'not_null';

const SQLITE: Record<string, Violation> = {
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign_key',
  SQLITE_CONSTRAINT_NOTNULL: 'not_null',
};
const POSTGRES: Record<string, Violation> = { '23505': 'unique', '23503': 'foreign_key', '23502': 'not_null' };

export function violation(error: unknown): Violation | undefined {
  // drizzle wraps driver errors (DrizzleQueryError) with the original as `cause`.
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      const found = SQLITE[code] ?? POSTGRES[code];
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Run a write; a violation of `kind` becomes `error()` (a 409 or 4xx that names the problem)
 * instead of a 500. Anything else is rethrown unchanged.
 */
export async function onViolation<T>(kind: Violation, error: () => AppError, write: () => T | Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (caught) {
    if (violation(caught) === kind) throw error();
    throw caught;
  }
}
