import type { Clause, FlagType, JsonValue, Rule, Serve, Target } from '@switchyard/sdk';

/** Response shapes of the REST API (see server/src/*.routes.ts). */
export type Role = 'admin' | 'editor' | 'viewer';

export interface Me {
  name: string;
  role: Role;
}

export interface Environment {
  key: string;
  name: string;
  critical: boolean;
  /** Secure mode: client keys must send user keys signed by the application's server. */
  clientSecureMode: boolean;
  sortOrder: number;
  version: number;
}

export interface Variation {
  key: string;
  value: JsonValue;
  name?: string;
  description?: string;
}

export interface FlagEnvironment {
  on: boolean;
  killed: boolean;
  offVariation: string;
  targets: Target[];
  rules: Rule[];
  defaultServe: Serve;
  salt: string;
  bucketBy: string;
  /** Derived: off | dogfood | N% | 100% | kill | custom. */
  stage: string;
}

export interface Flag {
  key: string;
  name: string;
  description: string;
  tags: string[];
  owner: string;
  type: FlagType;
  variations: Variation[];
  archived: boolean;
  /** Client keys (browsers, mobile apps) receive its evaluated value — never its rules. */
  clientVisible: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
  environments: Record<string, FlagEnvironment>;
  /** The Git sync file that manages this flag (read-only here), or null. */
  managedBy?: string | null;
}

export interface SegmentRule {
  id: string;
  clauses: Clause[];
}

export interface Segment {
  key: string;
  name: string;
  description: string;
  unitAttribute: string;
  included: string[];
  excluded: string[];
  rules: SegmentRule[];
  version: number;
  updatedAt: string;
  updatedBy: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  resourceType: 'flag' | 'segment' | 'environment' | 'api_token' | 'sdk_key' | 'webhook';
  resourceKey: string;
  environment: string | null;
  before: unknown;
  after: unknown;
  source: string;
  message: string | null;
}

export interface AuditPage {
  items: AuditEntry[];
  nextCursor: number | null;
}

export interface ApiToken {
  id: number;
  name: string;
  role: Role;
  prefix: string;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** `server`: secret, reads whole rule sets; `client`: public, evaluated values of client-visible flags only. */
export type SdkKeyKind = 'server' | 'client';

export interface SdkKey {
  id: number;
  name: string;
  kind: SdkKeyKind;
  environment: string;
  prefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
}

export interface ErrorDetail {
  path: string;
  message: string;
}

/** `details` of a 409 version_conflict. */
export interface ConflictDetails {
  currentVersion: number;
  updatedBy?: string;
  updatedAt?: string;
}

export interface LiveEvent {
  type: 'flag' | 'segment' | 'environment';
  key: string;
  version: number | null;
  actor: string | null;
}
