import type { FlagConfig, RuleSet, Segment as RuleSetSegment } from '@switchyard/sdk';
import type { Flag } from '../domain/flags.js';
import type { Segment } from '../domain/segments.js';
import type { ReleaseStore } from './release-ports.js';
import type { SessionStore } from '../services/sessions.js';

/**
 * The storage boundary. Routes and services see only this interface; `store/sqlite/` implements it
 * on better-sqlite3 and a PostgreSQL implementation can follow without touching them.
 *
 * Every method that changes a flag, segment or environment writes its audit entry in the same
 * transaction, and checks the expected version inside it (compare-and-set): no lost updates.
 */

export const AUDIT_SOURCES = ['api', 'cli', 'dashboard', 'gitops', 'release-guard', 'system'] as const;
export type AuditSource = (typeof AUDIT_SOURCES)[number];
export const AUDIT_RESOURCES = ['flag', 'segment', 'environment', 'api_token', 'sdk_key', 'webhook'] as const;
export type AuditResource = (typeof AUDIT_RESOURCES)[number];

/** Who made a change, and why: recorded with the change in the same transaction. */
export interface AuditContext {
  actor: string;
  source: AuditSource;
  message?: string;
  commit?: string;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  resourceType: AuditResource;
  resourceKey: string;
  environment: string | null;
  before: unknown;
  after: unknown;
  source: AuditSource;
  message: string | null;
  commit: string | null;
}

export interface AuditQuery {
  resourceType?: AuditResource;
  resourceKey?: string;
  environment?: string;
  actor?: string;
  /** Entries with an id below this cursor (newest first). */
  before?: number;
  limit: number;
}

export interface Environment {
  key: string;
  name: string;
  critical: boolean;
  sortOrder: number;
  version: number;
  createdAt: number;
}

/** What one environment's SDKs must learn after a write: the patch the stream sends. */
export interface RuleSetChange {
  environment: string;
  version: number;
  flags: Record<string, FlagConfig | null>;
  segments: Record<string, RuleSetSegment | null>;
}

export interface Write<T> {
  value: T;
  changes: RuleSetChange[];
  audit: AuditEntry;
}

export type Role = 'admin' | 'editor' | 'viewer';

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

export interface SdkKey {
  id: number;
  name: string;
  environment: string;
  prefix: string;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

export type NewFlag = Omit<Flag, 'version' | 'createdAt' | 'updatedAt' | 'updatedBy'>;
export type NewSegment = Omit<Segment, 'version' | 'createdAt' | 'updatedAt' | 'updatedBy'>;

/** A pure change applied inside the transaction; it may throw an AppError to abort the write. */
export type Mutation<T> = (current: T) => T;

/** One change of a flags-as-code apply; `expectedVersion` is the version the plan saw. */
export type BatchOp =
  | { kind: 'environment.create'; key: string; name: string; critical: boolean }
  | { kind: 'environment.update'; key: string; name: string; critical: boolean }
  | { kind: 'segment.create'; segment: NewSegment }
  | { kind: 'segment.update'; segment: NewSegment; expectedVersion: number }
  | { kind: 'segment.delete'; key: string; expectedVersion: number }
  | { kind: 'flag.create'; flag: NewFlag }
  | { kind: 'flag.update'; flag: NewFlag; expectedVersion: number }
  | { kind: 'flag.delete'; key: string; expectedVersion: number };

export interface BatchResult {
  changes: RuleSetChange[];
  audit: AuditEntry[];
}

export interface Store {
  // Environments
  listEnvironments(): Promise<Environment[]>;
  createEnvironment(input: Pick<Environment, 'key' | 'name' | 'critical'>, audit: AuditContext): Promise<Write<Environment>>;
  updateEnvironment(key: string, patch: Partial<Pick<Environment, 'name' | 'critical' | 'sortOrder'>>, audit: AuditContext): Promise<Write<Environment>>;
  deleteEnvironment(key: string, audit: AuditContext): Promise<Write<Environment>>;

  // Flags
  listFlags(): Promise<Flag[]>;
  getFlag(key: string): Promise<Flag | undefined>;
  createFlag(flag: NewFlag, audit: AuditContext): Promise<Write<Flag>>;
  /** Read, check `expectedVersion` (when given), apply `mutation`, write, audit — one transaction. */
  updateFlag(key: string, expectedVersion: number | undefined, action: string, environment: string | null, mutation: Mutation<Flag>, audit: AuditContext): Promise<Write<Flag>>;
  deleteFlag(key: string, expectedVersion: number | undefined, audit: AuditContext): Promise<Write<Flag>>;

  // Segments (global: shared by every environment)
  listSegments(): Promise<Segment[]>;
  listSegmentKeys(): Promise<string[]>;
  getSegment(key: string): Promise<Segment | undefined>;
  createSegment(segment: NewSegment, audit: AuditContext): Promise<Write<Segment>>;
  updateSegment(key: string, expectedVersion: number | undefined, mutation: Mutation<Segment>, audit: AuditContext): Promise<Write<Segment>>;
  deleteSegment(key: string, expectedVersion: number | undefined, audit: AuditContext): Promise<Write<Segment>>;

  /** Flags as code: all `ops` in ONE transaction, each version-checked and audited; no ops, no write. */
  applyBatch(ops: readonly BatchOp[], audit: AuditContext): Promise<BatchResult>;

  // Audit
  listAudit(query: AuditQuery): Promise<AuditEntry[]>;
  getAuditEntry(id: number): Promise<AuditEntry | undefined>;
  /**
   * Flag and segment keys `actor` has written since anyone else last created them (per the audit
   * log): what a Git sync managed before a restart, so it can still prune what left the file.
   */
  writtenBy(actor: string): Promise<{ flags: string[]; segments: string[] }>;
  /** Restore a flag to `snapshot` (or delete it when null), audited as `flag.reverted`. */
  restoreFlag(key: string, snapshot: Flag | null, expectedVersion: number | undefined, audit: AuditContext & { revertOf: number }): Promise<Write<Flag | null>>;

  // Rule sets
  getRuleSet(environment: string): Promise<RuleSet | undefined>;

  // Credentials: only hashes are stored
  countApiTokens(): Promise<number>;
  createApiToken(input: { name: string; role: Role; tokenHash: string; prefix: string }, audit: AuditContext): Promise<ApiToken>;
  listApiTokens(): Promise<ApiToken[]>;
  findApiToken(tokenHash: string): Promise<ApiToken | undefined>;
  touchApiToken(id: number, at: number): Promise<void>;
  revokeApiToken(id: number, audit: AuditContext): Promise<ApiToken>;
  createSdkKey(input: { name: string; environment: string; keyHash: string; prefix: string }, audit: AuditContext): Promise<SdkKey>;
  listSdkKeys(): Promise<SdkKey[]>;
  findSdkKey(keyHash: string): Promise<SdkKey | undefined>;
  revokeSdkKey(id: number, audit: AuditContext): Promise<SdkKey>;

  /** Dashboard sign-in sessions (only hashes of their ids are stored). */
  readonly sessions: SessionStore;

  /** Release plans, their decision log, SDK metrics and webhooks. */
  readonly releases: ReleaseStore;

  close(): Promise<void>;
}
