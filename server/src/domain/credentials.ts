/** API tokens (roles) and SDK keys: only the sha-256 of their secrets is ever stored. */

export const ROLES = ['admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };
/** Whether `role` may do what needs `required`. */
export const hasRole = (role: Role, required: Role): boolean => RANK[role] >= RANK[required];

export interface ApiToken {
  id: number;
  name: string;
  role: Role;
  prefix: string;
  createdAt: number;
  createdBy: string;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/**
 * `server` keys are secret and read the environment's whole rule set (server-side SDKs). `client`
 * keys are public by design (browsers, mobile apps): they get evaluated values of flags marked
 * visible to client keys, for one context, through OFREP bulk evaluation and its change
 * notifications — never rules, segments or other flags.
 */
export const SDK_KEY_KINDS = ['server', 'client'] as const;
export type SdkKeyKind = (typeof SDK_KEY_KINDS)[number];

export interface SdkKey {
  id: number;
  name: string;
  kind: SdkKeyKind;
  environment: string;
  prefix: string;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

export type NewApiToken = Pick<ApiToken, 'name' | 'role' | 'prefix' | 'createdAt' | 'createdBy'> & { tokenHash: string };
export type NewSdkKey = Pick<SdkKey, 'name' | 'kind' | 'environment' | 'prefix' | 'createdAt' | 'createdBy'> & { keyHash: string };

/** Sessions live 12 hours from sign-in (absolute, not sliding): a stolen cookie expires soon. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** Who a dashboard session acts as: its API token. */
export interface SessionPrincipal {
  tokenId: number;
  name: string;
  role: Role;
  /** When the session ends (SESSION_TTL_MS after sign-in). */
  expiresAt: number;
}

/**
 * A revoked credential: every replica drops its cached lookups and open streams. A dashboard
 * session ended by signing out is named by the hash of its id (the row is gone by then).
 */
export type Revocation =
  | { kind: 'api' | 'sdk'; id: number }
  | { kind: 'session'; sessionHash: string }
  /** An environment's secure mode was turned on, rotated or off: cached client-key lookups carry the old secret. */
  | { kind: 'secure-mode'; environment: string };

/** An active SDK key as authentication finds it, with what its requests need to know. */
export interface ActiveSdkKey extends SdkKey {
  /** Its environment's secure-mode secret (client keys must then send signed user keys), or null. */
  clientSecret: string | null;
}
