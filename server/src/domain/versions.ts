import { AppError } from './errors.js';

/** What every versioned resource (flags, segments) carries. */
export interface Versioned {
  version: number;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
}

/**
 * Optimistic concurrency: the version a client last read must still be current, or the write is
 * refused with the current version and who changed it. `undefined`: the caller did not pin one.
 */
export function checkVersion(what: string, current: Pick<Versioned, 'version'> & Partial<Versioned>, expected: number | undefined): void {
  if (expected !== undefined && expected !== current.version) {
    throw AppError.versionConflict(what, current.version, current.updatedBy, current.updatedAt === undefined ? undefined : new Date(current.updatedAt).toISOString());
  }
}

/** The stored form of a new resource: version 1, created now by `actor`. */
export function stampNew<T extends object>(value: T, actor: string, at: number): T & Versioned {
  return { ...value, version: 1, createdAt: at, updatedAt: at, updatedBy: actor };
}

/** The next state of a changed resource: one version up, changed now by `actor`; creation kept. */
export function stampNext<T extends object>(next: T, previous: Versioned, actor: string, at: number): T & Versioned {
  return { ...next, version: previous.version + 1, createdAt: previous.createdAt, updatedAt: at, updatedBy: actor };
}
