/** Environments: keys are immutable identifiers; "rename" changes the display name. */
export interface Environment {
  key: string;
  name: string;
  /** Marks environments the dashboard shows as dangerous (production). */
  critical: boolean;
  /** Client keys must send user keys signed by the application's server (HMAC; see secure mode). */
  clientSecureMode: boolean;
  sortOrder: number;
  /**
   * The rule-set version its SDKs see: the change-feed position of the last change visible to
   * them, so it only grows, and SSE event ids are the same on every replica.
   */
  version: number;
  createdAt: number;
}

export type EnvironmentInput = Pick<Environment, 'key' | 'name' | 'critical'>;
export type EnvironmentPatch = Partial<Pick<Environment, 'name' | 'critical' | 'sortOrder'>>;

/** Created on the first start of an empty database. */
export const DEFAULT_ENVIRONMENTS: readonly EnvironmentInput[] = [
  { key: 'development', name: 'Development', critical: false },
  { key: 'staging', name: 'Staging', critical: false },
  { key: 'production', name: 'Production', critical: true },
];

/** The sort order a new environment gets: after every existing one. */
export function nextSortOrder(existing: readonly Pick<Environment, 'sortOrder'>[]): number {
  return existing.reduce((max, e) => Math.max(max, e.sortOrder), -1) + 1;
}
