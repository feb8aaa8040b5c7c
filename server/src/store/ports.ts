import type { ApprovalPolicy, ChangeRequest, ChangeRequestQuery, NewChangeRequest, PolicySettings } from '../domain/change-requests.js';
import type { ActiveSdkKey, ApiToken, NewApiToken, NewSdkKey, SdkKey, SessionPrincipal } from '../domain/credentials.js';
import type { AuditEntry, AuditQuery, AuditResource, NewAuditEntry } from '../domain/audit.js';
import type { CodeRef, CodeRefMark, CodeRefUpload, NewCodeRef } from '../domain/code-refs.js';
import type { Environment, EnvironmentInput, EnvironmentPatch } from '../domain/environments.js';
import type { EvaluationCount, HourlyCount, LastEvaluated, SdkConnection } from '../domain/evaluations.js';
import type { FeedEntry, NewFeedEntry } from '../domain/feed.js';
import type { Flag, FlagEnvironment, Managed } from '../domain/flags.js';
import type { IncidentOverride } from '../domain/gitops/incidents.js';
import type { MetricCount, MetricPoint, MetricSource, MetricTotals, SourceCount } from '../domain/releases/metrics.js';
import type { EventInput, PlanStatus, ReleaseEvent, ReleasePlan } from '../domain/releases/plans.js';
import type { DeliveryOutcome, Webhook, WebhookDelivery, WebhookMessage } from '../domain/releases/webhooks.js';
import type { NewSchedule, Schedule, ScheduleQuery } from '../domain/schedules.js';
import type { Segment } from '../domain/segments.js';

/**
 * The storage boundary: thin repositories, one implementation per dialect (`sqlite/`, `postgres/`).
 * They read and write rows and map constraint violations to AppErrors; every business rule lives in
 * `domain/` and `services/`. A service opens a transaction and hands its `Tx` to every repository
 * call inside it.
 *
 * Writes that replace a versioned row are conditional (`UPDATE … WHERE version = $expected`): they
 * report whether the row was still at that version, and the service decides what that means.
 */

declare const TX: unique symbol;
/** An open transaction or read snapshot. Opaque to services: each dialect knows what it holds. */
export interface Tx {
  readonly [TX]: true;
}

/** How a write ends: the webhook messages it sends, then its change-feed entry. */
export interface WriteRecord {
  webhooks: readonly WebhookMessage[];
  /** The entry but `deliveries`, which says whether any message found a subscribed webhook. */
  entry: Omit<NewFeedEntry, 'deliveries'>;
}

export interface Database {
  readonly dialect: 'sqlite' | 'postgres';
  readonly repos: Repositories;
  /**
   * Run `fn` in one write transaction: all of it commits, or none of it. `fn` may run more than once
   * (PostgreSQL retries serialization failures and deadlocks), so it must do no I/O but through `tx`.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * The write path's transaction: `transaction`, ending with what `fn` returns to record (if
   * anything): a delivery per subscribed webhook for each webhook message, then the change-feed
   * entry, appended as it commits — on PostgreSQL all in the same round trip as COMMIT, so the
   * feed's head row, which every write takes last, is held only while the database commits.
   * Resolves with the entry as appended: its position, and whether deliveries were queued.
   */
  transactionWithFeed<T>(fn: (tx: Tx) => Promise<{ value: T; feed?: WriteRecord }>): Promise<{ value: T; appended?: FeedEntry }>;
  /** Run `fn` against one consistent, read-only view of the database. */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Run a short read that must not queue behind writes (following the change feed): outside any
   * transaction, each statement sees what was committed when it runs.
   */
  peek<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  /**
   * Wake-ups when the change feed may have new entries (after a local commit, or a NOTIFY). A
   * wake-up may carry the committed entry itself (PostgreSQL sends small ones with the
   * notification): a follower may apply it if it is the next position, and reads the feed otherwise.
   */
  onFeed(listener: (entry?: FeedEntry) => void): () => void;
  /** Whether this process may run once-only work (release runner, Git sync) now. */
  readonly leadership: Leadership;
  close(): Promise<void>;
}

/** Database leadership: one replica at a time runs the work that must happen once. */
export interface Leadership {
  isLeader(): boolean;
  /** Called with true when this replica becomes leader, false when it stops being one. */
  onChange(listener: (leader: boolean) => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface Repositories {
  environments: EnvironmentRepository;
  flags: FlagRepository;
  incidents: IncidentRepository;
  segments: SegmentRepository;
  audit: AuditRepository;
  feed: FeedRepository;
  tokens: ApiTokenRepository;
  sdkKeys: SdkKeyRepository;
  sessions: SessionRepository;
  plans: ReleasePlanRepository;
  metrics: MetricRepository;
  evaluations: EvaluationRepository;
  webhooks: WebhookRepository;
  state: StateRepository;
  schedules: ScheduleRepository;
  approvalPolicies: ApprovalPolicyRepository;
  changeRequests: ChangeRequestRepository;
  codeRefs: CodeRefRepository;
}

/** Small named documents shared by the replicas (e.g. the Git sync's status, written by the leader). */
export interface StateRepository {
  get(tx: Tx, key: string): Promise<{ value: unknown; updatedAt: number } | undefined>;
  put(tx: Tx, key: string, value: unknown, at: number): Promise<void>;
}

export interface EnvironmentRepository {
  list(tx: Tx): Promise<Environment[]>;
  get(tx: Tx, key: string): Promise<Environment | undefined>;
  /** A key that exists → conflict. */
  insert(tx: Tx, input: EnvironmentInput & { sortOrder: number; createdAt: number }): Promise<Environment>;
  update(tx: Tx, key: string, patch: EnvironmentPatch): Promise<Environment | undefined>;
  /** Sets (or, with null, clears) the secure-mode secret; undefined when there is no such environment. */
  setClientSecret(tx: Tx, key: string, secret: string | null): Promise<Environment | undefined>;
  /** Deletes it with its flag configurations and revoked SDK keys. */
  delete(tx: Tx, key: string): Promise<boolean>;
}

export interface FlagRepository {
  list(tx: Tx): Promise<Managed<Flag>[]>;
  /**
   * With `forUpdate`, the row stays locked until the transaction ends: for a write that does not
   * pin a version (the kill switch, the release runner), which must apply rather than conflict.
   */
  get(tx: Tx, key: string, options?: { forUpdate?: boolean }): Promise<Managed<Flag> | undefined>;
  /** A new flag and its configurations; a key that exists → conflict. */
  insert(tx: Tx, flag: Flag): Promise<void>;
  /**
   * Replace the flag's fields and the given configurations, if it is still at `expectedVersion`.
   * Configurations not named stay as they are.
   */
  update(tx: Tx, flag: Flag, expectedVersion: number, configs: Record<string, FlagEnvironment>): Promise<boolean>;
  delete(tx: Tx, key: string, expectedVersion: number): Promise<boolean>;
  /** A configuration for each flag in an environment (new environments). */
  insertConfigs(tx: Tx, environment: string, configs: ReadonlyMap<string, FlagEnvironment>): Promise<void>;
  /** `source` manages exactly `keys` afterwards (null: nothing is managed any more). */
  setManaged(tx: Tx, source: string | null, keys: readonly string[]): Promise<void>;
}

/**
 * Incident overrides (domain/gitops/incidents.ts): one per killed Git-managed flag and environment.
 * They go with their flag or environment when either is deleted.
 */
export interface IncidentRepository {
  list(tx: Tx): Promise<IncidentOverride[]>;
  /** The flag's overrides, by environment. */
  forFlag(tx: Tx, flag: string): Promise<IncidentOverride[]>;
  get(tx: Tx, flag: string, environment: string): Promise<IncidentOverride | undefined>;
  /** Records it unless the flag+environment already has one (the first kill of an incident stands); whether it did. */
  insert(tx: Tx, incident: IncidentOverride): Promise<boolean>;
  /** Replace what the file is recorded to ask for; false when there is no such override (any more). */
  setFileConfig(tx: Tx, flag: string, environment: string, fileConfig: FlagEnvironment): Promise<boolean>;
  /** False when there was none. */
  delete(tx: Tx, flag: string, environment: string): Promise<boolean>;
  /** Every override (the sync is off: nothing to hold against). */
  clear(tx: Tx): Promise<void>;
}

export interface SegmentRepository {
  list(tx: Tx): Promise<Managed<Segment>[]>;
  get(tx: Tx, key: string): Promise<Managed<Segment> | undefined>;
  /**
   * Which of `keys` exist. Locks them against deletion until the transaction ends, so a flag that
   * starts using a segment and the segment's deletion can never both commit.
   */
  existing(tx: Tx, keys: Iterable<string>): Promise<Set<string>>;
  /** Lock the segment against concurrent use (before checking that no flag uses it). */
  lock(tx: Tx, key: string): Promise<void>;
  insert(tx: Tx, segment: Segment): Promise<void>;
  update(tx: Tx, segment: Segment, expectedVersion: number): Promise<boolean>;
  delete(tx: Tx, key: string, expectedVersion: number): Promise<boolean>;
  setManaged(tx: Tx, source: string | null, keys: readonly string[]): Promise<void>;
}

export interface AuditRepository {
  append(tx: Tx, entries: readonly NewAuditEntry[]): Promise<AuditEntry[]>;
  list(tx: Tx, query: AuditQuery): Promise<AuditEntry[]>;
  /**
   * For each of `keys` (resources of one type), its newest `perKey` entries at or after `since`,
   * newest first — for many resources in one read (the flag list's lifecycles). Keys without
   * entries are absent.
   */
  recentByResource(tx: Tx, resourceType: AuditResource, keys: readonly string[], since: number, perKey: number): Promise<Map<string, AuditEntry[]>>;
  get(tx: Tx, id: number): Promise<AuditEntry | undefined>;
}

export interface FeedRepository {
  /**
   * Append an entry at the next position (gap-free, in commit order) and make that position the
   * rule-set version of every environment the entry patches. Returns the position.
   */
  append(tx: Tx, entry: NewFeedEntry): Promise<number>;
  /** Entries after `position`, oldest first. */
  after(tx: Tx, position: number, limit: number): Promise<FeedEntry[]>;
  /** The last position (0 when empty). */
  head(tx: Tx): Promise<number>;
  /** The oldest position still kept (undefined when empty). */
  oldest(tx: Tx): Promise<number | undefined>;
  /** Take the feed's write lock now: writes that lock other rows first would otherwise deadlock with appends. */
  lock(tx: Tx): Promise<void>;
  /** Drop entries older than `before` (ms), always keeping the newest `keep`. */
  prune(tx: Tx, before: number, keep: number): Promise<number>;
}

export interface ApiTokenRepository {
  count(tx: Tx): Promise<number>;
  insert(tx: Tx, token: NewApiToken): Promise<ApiToken>;
  list(tx: Tx): Promise<ApiToken[]>;
  get(tx: Tx, id: number): Promise<ApiToken | undefined>;
  /** An active (not revoked) token by the hash of its secret. */
  findActive(tx: Tx, tokenHash: string): Promise<ApiToken | undefined>;
  touch(tx: Tx, id: number, at: number): Promise<void>;
  /** Revoke it unless it already is; undefined when it was. */
  revoke(tx: Tx, id: number, at: number): Promise<ApiToken | undefined>;
}

export interface SdkKeyRepository {
  insert(tx: Tx, key: NewSdkKey): Promise<SdkKey>;
  list(tx: Tx): Promise<SdkKey[]>;
  get(tx: Tx, id: number): Promise<SdkKey | undefined>;
  findActive(tx: Tx, keyHash: string): Promise<ActiveSdkKey | undefined>;
  /** An active key with the stored hash of its secret (OFREP event-stream tickets are derived from it). */
  activeById(tx: Tx, id: number): Promise<(SdkKey & { keyHash: string }) | undefined>;
  revoke(tx: Tx, id: number, at: number): Promise<SdkKey | undefined>;
  countActive(tx: Tx, environment: string): Promise<number>;
}

export interface SessionRepository {
  insert(tx: Tx, session: { sessionHash: string; tokenId: number; createdAt: number; expiresAt: number }): Promise<void>;
  /** The token behind a live session whose token is not revoked. */
  resolve(tx: Tx, sessionHash: string, now: number): Promise<SessionPrincipal | undefined>;
  delete(tx: Tx, sessionHash: string): Promise<void>;
  deleteExpired(tx: Tx, now: number): Promise<void>;
}

export interface ReleasePlanRepository {
  get(tx: Tx, flagKey: string, environment: string): Promise<ReleasePlan | undefined>;
  list(tx: Tx, statuses?: readonly PlanStatus[]): Promise<ReleasePlan[]>;
  insert(tx: Tx, plan: Omit<ReleasePlan, 'id'>): Promise<ReleasePlan>;
  /** Replace the plan if it is still at `expectedVersion`. */
  update(tx: Tx, plan: ReleasePlan, expectedVersion: number): Promise<boolean>;
  delete(tx: Tx, id: number): Promise<ReleasePlan | undefined>;
  addEvent(tx: Tx, event: EventInput & { planId: number | null; flagKey: string; environment: string; at: number; actor: string }): Promise<void>;
  events(tx: Tx, flagKey: string, environment: string, limit: number): Promise<ReleaseEvent[]>;
}

export interface MetricRepository {
  /** Add counts to a window, in total and for their source (atomically: uploads from many replicas add up). */
  add(tx: Tx, environment: string, windowStart: number, counts: readonly MetricCount[], source: MetricSource): Promise<void>;
  totals(tx: Tx, environment: string, flagKey: string, since: number): Promise<MetricTotals[]>;
  /** Counts of `metrics` per source since `since` (summed over windows). */
  sourceTotals(tx: Tx, environment: string, flagKey: string, since: number, metrics: readonly string[]): Promise<SourceCount[]>;
  /** Count one upload by an SDK key in a rate-limit window; returns the window's count so far. */
  countUpload(tx: Tx, keyId: number, windowStart: number): Promise<number>;
  pruneUploads(tx: Tx, before: number): Promise<void>;
  series(tx: Tx, environment: string, flagKey: string, since: number): Promise<MetricPoint[]>;
  lastExposureAt(tx: Tx, environment: string, flagKey: string): Promise<number | null>;
  prune(tx: Tx, before: number): Promise<void>;
}

/**
 * Evaluation insights. Counts are added in place (upsert-add), so uploads to every replica at once
 * all count; the last-evaluated time only moves forward.
 */
export interface EvaluationRepository {
  /** Add an upload's counts (one per flag variation) to `hour`, and move the flags' last-evaluated time to `at`. */
  add(tx: Tx, environment: string, hour: number, counts: readonly EvaluationCount[], at: number): Promise<void>;
  /** Record an SDK using a key (insert, or move its last-seen time and the key's name). */
  touchConnection(tx: Tx, connection: Omit<SdkConnection, 'firstSeenAt'>): Promise<void>;
  /** A flag's counts per hour and variation from `since` (an hour start) on. */
  hourly(tx: Tx, environment: string, flagKey: string, since: number): Promise<HourlyCount[]>;
  /** When each flag was last evaluated, per environment (only that one's with `environment`). */
  lastEvaluated(tx: Tx, environment?: string): Promise<LastEvaluated[]>;
  /** SDKs seen since `since`, most recently seen first (only that environment's with `environment`). */
  connections(tx: Tx, since: number, environment?: string): Promise<SdkConnection[]>;
  /**
   * Drop hourly counts before `countsBefore`, SDKs last seen before `connectionsBefore`, and the
   * last-evaluated times of flags or environments that no longer exist.
   */
  prune(tx: Tx, countsBefore: number, connectionsBefore: number): Promise<void>;
}

export interface WebhookRepository {
  insert(tx: Tx, input: { url: string; secret: string; events: string[]; createdAt: number; createdBy: string }): Promise<Webhook>;
  list(tx: Tx): Promise<(Webhook & { secret: string })[]>;
  delete(tx: Tx, id: number): Promise<Webhook | undefined>;
  /** Queue `message` for every webhook subscribed to its event (or to `*`); how many were queued. */
  enqueue(tx: Tx, message: WebhookMessage, at: number): Promise<number>;
  /**
   * Claim up to `limit` deliveries that are due (or whose claim expired) until `claimUntil`, so no
   * other replica sends them meanwhile. Returns them with their webhook's URL and secret.
   */
  claim(tx: Tx, now: number, claimUntil: number, limit: number): Promise<(WebhookDelivery & { url: string; secret: string })[]>;
  complete(tx: Tx, id: number, outcome: DeliveryOutcome): Promise<void>;
  deliveries(tx: Tx, webhookId: number, limit: number): Promise<WebhookDelivery[]>;
  /** Deliveries still to be sent (`pending`, retries included) and given up on (`failed`), over every webhook. */
  backlog(tx: Tx): Promise<{ pending: number; failed: number }>;
}

/**
 * Scheduled changes. A run claims its schedule with a conditional UPDATE (pending → running, at
 * the version it read, only once due) inside the transaction that applies it: of two replicas
 * looking at once, exactly one gets the row; the other's claim changes nothing.
 */
export interface ScheduleRepository {
  insert(tx: Tx, schedule: NewSchedule): Promise<Schedule>;
  get(tx: Tx, id: number): Promise<Schedule | undefined>;
  /** Soonest first (then by id), filtered by flag, environment and status. */
  list(tx: Tx, query: ScheduleQuery): Promise<Schedule[]>;
  /** Pending schedules due at `now` or before, oldest first. */
  due(tx: Tx, now: number, limit: number): Promise<Schedule[]>;
  /** pending → running if still pending at `expectedVersion` and due at `now`; the claimed row or undefined. */
  claim(tx: Tx, id: number, expectedVersion: number, now: number): Promise<Schedule | undefined>;
  /**
   * Replace its fields if it is in `fromStatus` at `expectedVersion` (an edit, a cancel, the end of
   * a run); whether it was.
   */
  update(tx: Tx, schedule: Schedule, fromStatus: Schedule['status'], expectedVersion: number): Promise<boolean>;
}

/** Approval policies, one per environment at most (none: changes there are written directly). */
export interface ApprovalPolicyRepository {
  list(tx: Tx): Promise<ApprovalPolicy[]>;
  get(tx: Tx, environment: string): Promise<ApprovalPolicy | undefined>;
  /**
   * Create or replace it: with `expectedVersion`, only if it is still at that version (undefined:
   * whatever is there). Returns the stored policy, or undefined when the version did not match.
   */
  put(tx: Tx, environment: string, settings: PolicySettings, expectedVersion: number | undefined, at: number, actor: string): Promise<ApprovalPolicy | undefined>;
}

/**
 * Change requests. Every change to one is conditional on its version (`UPDATE … WHERE version =
 * $expected`): two approvals at once both land (the second retries on fresh data), and of two
 * applies exactly one commits.
 */
export interface ChangeRequestRepository {
  insert(tx: Tx, request: NewChangeRequest): Promise<ChangeRequest>;
  /** With `forUpdate`, the row stays locked until the transaction ends. */
  get(tx: Tx, id: number, options?: { forUpdate?: boolean }): Promise<ChangeRequest | undefined>;
  /** Newest first, filtered by status, environment and flag. */
  list(tx: Tx, query: ChangeRequestQuery): Promise<ChangeRequest[]>;
  /** Replace it if it is still at `expectedVersion`; whether it was. */
  update(tx: Tx, request: ChangeRequest, expectedVersion: number): Promise<boolean>;
}

/** Code references uploaded by `switchyard code-refs --upload` (domain/code-refs.ts). */
export interface CodeRefRepository {
  /** Replace everything known for the upload's repository and branch with `refs`, and record the upload. */
  replace(tx: Tx, upload: CodeRefUpload, refs: readonly NewCodeRef[]): Promise<void>;
  /** References to one flag over every repository and branch (by repository, branch, path, line), at most `limit`. */
  forFlag(tx: Tx, flagKey: string, limit: number): Promise<CodeRef[]>;
  /** How many references each referenced flag has, over every repository and branch. */
  counts(tx: Tx): Promise<Map<string, number>>;
  /** Whether any repository was ever uploaded (before that, no flag can be said to be unreferenced). */
  hasUploads(tx: Tx): Promise<boolean>;
  /** Marks of the given flags, or of every flag. */
  marks(tx: Tx, flagKeys?: readonly string[]): Promise<CodeRefMark[]>;
  putMarks(tx: Tx, marks: readonly CodeRefMark[]): Promise<void>;
}

/** Every table, in an order that satisfies foreign keys: for `switchyard db copy`. */
export const TABLES = [
  'environments',
  'flags',
  'flag_environments',
  'incident_overrides',
  'segments',
  'audit_log',
  'api_tokens',
  'sdk_keys',
  'sessions',
  'release_plans',
  'release_events',
  'release_metrics',
  'release_metric_buckets',
  'release_metric_sources',
  'sdk_upload_counts',
  'evaluation_counts',
  'flag_last_evaluated',
  'sdk_connections',
  'webhooks',
  'webhook_deliveries',
  'change_feed',
  'cluster_state',
  'schedules',
  'approval_policies',
  'change_requests',
  'code_refs',
  'code_ref_uploads',
  'code_ref_flags',
] as const;
export type TableName = (typeof TABLES)[number];

