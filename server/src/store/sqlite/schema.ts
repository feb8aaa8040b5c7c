import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * SQLite schema. Nested per-environment configuration (targets, rules, serve) is stored as JSON
 * text: it is always read and written whole, validated by zod at the edge, and shipped to SDKs as is.
 * `../postgres/schema.ts` declares the same tables with the same row types (checked by `rows.ts`).
 */

const now = sql`(CAST(unixepoch('subsec') * 1000 AS INTEGER))`;

export const environments = sqliteTable('environments', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  key: text('key').notNull().unique(),
  name: text('name').notNull(),
  /** Marks environments the dashboard shows as dangerous (production). */
  critical: integer('critical', { mode: 'boolean' }).notNull().default(false),
  /**
   * Secure mode for client keys: the HMAC secret the application's server signs user keys with
   * (null: off). Kept as is, not hashed: verifying an HMAC needs the secret itself.
   */
  clientSecret: text('client_secret'),
  sortOrder: integer('sort_order').notNull().default(0),
  /** Rule-set version: the change-feed position of the last change visible to this environment's SDKs. */
  version: integer('version').notNull().default(1),
  createdAt: integer('created_at').notNull().default(now),
});

export const flags = sqliteTable('flags', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  key: text('key').notNull().unique(),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  tags: text('tags', { mode: 'json' }).$type<string[]>().notNull(),
  owner: text('owner').notNull().default(''),
  type: text('type').notNull(),
  variations: text('variations', { mode: 'json' }).notNull(),
  archived: integer('archived', { mode: 'boolean' }).notNull().default(false),
  version: integer('version').notNull().default(1),
  createdAt: integer('created_at').notNull().default(now),
  updatedAt: integer('updated_at').notNull().default(now),
  updatedBy: text('updated_by').notNull().default(''),
  /** The Git sync source that manages the flag (read-only elsewhere), or null. */
  managedBy: text('managed_by'),
  /** Whether client keys (browsers, mobile) get this flag's evaluated value; off for new flags. */
  clientVisible: integer('client_visible', { mode: 'boolean' }).notNull().default(false),
});

export const flagEnvironments = sqliteTable(
  'flag_environments',
  {
    flagId: integer('flag_id')
      .notNull()
      .references(() => flags.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    /** The whole per-environment configuration (FlagEnvironment) as JSON. */
    config: text('config', { mode: 'json' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.flagId, t.environmentId] })],
);

/**
 * Incident overrides: a kill of a Git-managed flag in one environment, which the Git sync holds
 * (does not overwrite from the file) until it is resumed or a commit changes that configuration.
 * `file_config` is the FlagEnvironment the file asked for at the kill, as JSON.
 */
export const incidentOverrides = sqliteTable(
  'incident_overrides',
  {
    flagId: integer('flag_id')
      .notNull()
      .references(() => flags.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    killedAt: integer('killed_at').notNull(),
    killedBy: text('killed_by').notNull(),
    message: text('message'),
    sinceCommit: text('since_commit'),
    fileConfig: text('file_config', { mode: 'json' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.flagId, t.environmentId] })],
);

export const segments = sqliteTable('segments', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  key: text('key').notNull().unique(),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  unitAttribute: text('unit_attribute').notNull().default('userId'),
  included: text('included', { mode: 'json' }).$type<string[]>().notNull(),
  excluded: text('excluded', { mode: 'json' }).$type<string[]>().notNull(),
  rules: text('rules', { mode: 'json' }).notNull(),
  version: integer('version').notNull().default(1),
  createdAt: integer('created_at').notNull().default(now),
  updatedAt: integer('updated_at').notNull().default(now),
  updatedBy: text('updated_by').notNull().default(''),
  managedBy: text('managed_by'),
});

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceKey: text('resource_key').notNull(),
    environment: text('environment'),
    before: text('before', { mode: 'json' }),
    after: text('after', { mode: 'json' }),
    source: text('source').notNull().default('api'),
    message: text('message'),
    commit: text('commit'),
  },
  (t) => [index('audit_resource_idx').on(t.resourceType, t.resourceKey, t.id)],
);

export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    role: text('role').notNull(),
    /** sha-256 of the secret; the secret itself is shown once and never stored. */
    tokenHash: text('token_hash').notNull(),
    prefix: text('prefix').notNull(),
    createdAt: integer('created_at').notNull().default(now),
    createdBy: text('created_by').notNull(),
    lastUsedAt: integer('last_used_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash_idx').on(t.tokenHash)],
);

export const sdkKeys = sqliteTable(
  'sdk_keys',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id),
    keyHash: text('key_hash').notNull(),
    prefix: text('prefix').notNull(),
    createdAt: integer('created_at').notNull().default(now),
    createdBy: text('created_by').notNull(),
    revokedAt: integer('revoked_at'),
    /** `server` (secret: rule sets) or `client` (public: evaluated values of client-visible flags). */
    kind: text('kind').notNull().default('server'),
  },
  (t) => [uniqueIndex('sdk_keys_hash_idx').on(t.keyHash)],
);

/**
 * Dashboard sessions: an API token exchanged for a cookie. Only the sha-256 of the random session
 * id is stored, so a database leak does not leak live sessions. Revoking the token ends them.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    sessionHash: text('session_hash').notNull(),
    tokenId: integer('token_id')
      .notNull()
      .references(() => apiTokens.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull().default(now),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [uniqueIndex('sessions_hash_idx').on(t.sessionHash), index('sessions_expires_idx').on(t.expiresAt)],
);

/**
 * Release plans (guarded canaries, rolling ramps): one per flag and environment. The spec (steps,
 * guard) is JSON, read and written whole; the runner's progress is in plain columns so a restarted
 * server resumes where it stopped.
 */
export const releasePlans = sqliteTable(
  'release_plans',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    flagKey: text('flag_key').notNull(),
    environment: text('environment').notNull(),
    spec: text('spec', { mode: 'json' }).notNull(),
    status: text('status').notNull(),
    currentStep: integer('current_step').notNull().default(-1),
    variation: text('variation'),
    pauseReason: text('pause_reason'),
    startedAt: integer('started_at'),
    stepStartedAt: integer('step_started_at'),
    pausedAt: integer('paused_at'),
    updatedAt: integer('updated_at').notNull(),
    updatedBy: text('updated_by').notNull(),
    version: integer('version').notNull().default(1),
  },
  (t) => [uniqueIndex('release_plans_flag_env_idx').on(t.flagKey, t.environment), index('release_plans_status_idx').on(t.status)],
);

/** The decision log: every start, step, check with its evidence, pause and rollback. */
export const releaseEvents = sqliteTable(
  'release_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    planId: integer('plan_id'),
    flagKey: text('flag_key').notNull(),
    environment: text('environment').notNull(),
    at: integer('at').notNull(),
    kind: text('kind').notNull(),
    actor: text('actor').notNull(),
    message: text('message').notNull(),
    evidence: text('evidence', { mode: 'json' }),
  },
  (t) => [index('release_events_flag_idx').on(t.flagKey, t.environment, t.id)],
);

/**
 * SDK metrics aggregated per time window: exposures (`metric` = "$exposure") and tracked events per
 * flag variation. Uploads add to the counters in place, so concurrent uploads never lose counts.
 */
export const releaseMetrics = sqliteTable(
  'release_metrics',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    variation: text('variation').notNull(),
    metric: text('metric').notNull(),
    windowStart: integer('window_start').notNull(),
    count: integer('count').notNull().default(0),
    sum: real('sum').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey, t.metric, t.variation, t.windowStart] })],
);

/** Value histograms of tracked events (latency): one counter per quarter-octave bucket. */
export const releaseMetricBuckets = sqliteTable(
  'release_metric_buckets',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    variation: text('variation').notNull(),
    metric: text('metric').notNull(),
    windowStart: integer('window_start').notNull(),
    bucket: integer('bucket').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey, t.metric, t.variation, t.windowStart, t.bucket] })],
);

/**
 * The same counts per contributing SDK key (the "source"), so the guard can cap any one key's share
 * of its evidence and name who contributed. The key's name is copied at upload: evidence stays
 * readable after the key is revoked, and never carries the secret.
 */
export const releaseMetricSources = sqliteTable(
  'release_metric_sources',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    variation: text('variation').notNull(),
    metric: text('metric').notNull(),
    windowStart: integer('window_start').notNull(),
    keyId: integer('key_id').notNull(),
    keyName: text('key_name').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey, t.metric, t.variation, t.windowStart, t.keyId] })],
);

/** Metrics uploads per SDK key per minute: the rate limit, shared by every replica. */
export const sdkUploadCounts = sqliteTable(
  'sdk_upload_counts',
  {
    keyId: integer('key_id').notNull(),
    windowStart: integer('window_start').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.windowStart] })],
);

/** Evaluation insights: evaluations per environment, flag, hour (UTC start, ms) and variation, added up from every SDK. */
export const evaluationCounts = sqliteTable(
  'evaluation_counts',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    hour: integer('hour').notNull(),
    variation: text('variation').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey, t.hour, t.variation] }), index('evaluation_counts_hour_idx').on(t.hour)],
);

/** When each flag was last evaluated in each environment (kept past the hourly counts' retention). */
export const flagLastEvaluated = sqliteTable(
  'flag_last_evaluated',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    at: integer('at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey] })],
);

/** SDKs seen using each key (name and version as their insights uploads say). */
export const sdkConnections = sqliteTable(
  'sdk_connections',
  {
    keyId: integer('key_id').notNull(),
    keyName: text('key_name').notNull(),
    environment: text('environment').notNull(),
    sdk: text('sdk').notNull(),
    version: text('version').notNull(),
    firstSeenAt: integer('first_seen_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.sdk, t.version] }), index('sdk_connections_environment_idx').on(t.environment, t.lastSeenAt)],
);

/** Webhook endpoints: the secret signs payloads (HMAC-SHA256), so it is kept (shown once at creation). */
export const webhooks = sqliteTable('webhooks', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  url: text('url').notNull(),
  secret: text('secret').notNull(),
  events: text('events', { mode: 'json' }).$type<string[]>().notNull(),
  createdAt: integer('created_at').notNull(),
  createdBy: text('created_by').notNull(),
});

/** Every delivery attempt series: pending ones are retried (also after a restart). */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    webhookId: integer('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    event: text('event').notNull(),
    payload: text('payload').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    nextAttemptAt: integer('next_attempt_at'),
    /** A replica is sending it until then (another may take it over after). */
    claimedUntil: integer('claimed_until'),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [index('webhook_deliveries_hook_idx').on(t.webhookId, t.id), index('webhook_deliveries_pending_idx').on(t.status, t.nextAttemptAt)],
);

/**
 * The change feed: one row per committed change, numbered without gaps in commit order (SQLite has
 * one writer at a time, so the row id is that number). Replicas follow it; see domain/feed.ts.
 */
export const changeFeed = sqliteTable('change_feed', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  at: integer('at').notNull(),
  /** The FeedEntry without seq, as JSON text. */
  entry: text('entry').notNull(),
});

/** Small shared state the replicas read and the leader writes (e.g. the Git sync's status), as JSON. */
export const clusterState = sqliteTable('cluster_state', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Scheduled changes (domain/schedules.ts): kept after they ran, failed or were cancelled, as their
 * record. Flag and environment are keys, not references: a schedule whose flag was deleted fails
 * with that reason when it comes due, and its history stays.
 */
export const schedules = sqliteTable(
  'schedules',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    flagKey: text('flag_key').notNull(),
    environment: text('environment').notNull(),
    /** When it is due (epoch ms, UTC). */
    at: integer('at').notNull(),
    /** The ScheduleAction as JSON. */
    action: text('action', { mode: 'json' }).notNull(),
    message: text('message'),
    onLate: text('on_late').notNull(),
    graceMs: integer('grace_ms').notNull(),
    ifChanged: text('if_changed').notNull(),
    baseVersion: integer('base_version').notNull(),
    /** The fields the action touches, as they were when it was made. */
    baseline: text('baseline', { mode: 'json' }).notNull(),
    status: text('status').notNull(),
    createdAt: integer('created_at').notNull(),
    createdBy: text('created_by').notNull(),
    updatedAt: integer('updated_at').notNull(),
    updatedBy: text('updated_by').notNull(),
    version: integer('version').notNull().default(1),
    executedAt: integer('executed_at'),
    lateByMs: integer('late_by_ms'),
    outcome: text('outcome'),
    resultVersion: integer('result_version'),
    auditId: integer('audit_id'),
  },
  (t) => [index('schedules_due_idx').on(t.status, t.at), index('schedules_flag_idx').on(t.flagKey, t.environment)],
);

/**
 * Approval policies per environment (domain/change-requests.ts). Keyed by the environment's key, not
 * a reference: a policy outlives its environment's deletion, so one recreated under the same name
 * is still protected (the safe direction).
 */
export const approvalPolicies = sqliteTable('approval_policies', {
  environment: text('environment').primaryKey(),
  required: integer('required', { mode: 'boolean' }).notNull(),
  approvals: integer('approvals').notNull(),
  approverRoles: text('approver_roles', { mode: 'json' }).notNull(),
  adminBypass: integer('admin_bypass', { mode: 'boolean' }).notNull(),
  version: integer('version').notNull().default(1),
  updatedAt: integer('updated_at').notNull(),
  updatedBy: text('updated_by').notNull(),
});

/**
 * Change requests: their changes, approvals and comments are JSON, and every change to a request is
 * conditional on its version, so two approvers at once both count (one retries) and of two applies
 * exactly one wins.
 */
export const changeRequests = sqliteTable(
  'change_requests',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    title: text('title').notNull(),
    description: text('description').notNull(),
    environment: text('environment').notNull(),
    status: text('status').notNull(),
    changes: text('changes', { mode: 'json' }).notNull(),
    /** Flag keys the changes touch, space-separated with a space on each side (the list filters on it). */
    flagKeys: text('flag_keys').notNull(),
    approvals: text('approvals', { mode: 'json' }).notNull(),
    comments: text('comments', { mode: 'json' }).notNull(),
    author: text('author').notNull(),
    authorTokenId: integer('author_token_id').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    version: integer('version').notNull().default(1),
    resolvedBy: text('resolved_by'),
    resolvedAt: integer('resolved_at'),
    reason: text('reason'),
    bypassed: integer('bypassed', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [index('change_requests_status_idx').on(t.status, t.id), index('change_requests_environment_idx').on(t.environment, t.id)],
);

/**
 * Code references (domain/code-refs.ts): what the last upload of each repository and branch found,
 * replaced whole by the next one. Flag keys, not references: code may name flags that were deleted.
 */
export const codeRefs = sqliteTable(
  'code_refs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    repository: text('repository').notNull(),
    branch: text('branch').notNull(),
    flagKey: text('flag_key').notNull(),
    path: text('path').notNull(),
    line: integer('line').notNull(),
    snippet: text('snippet').notNull(),
  },
  (t) => [index('code_refs_branch_idx').on(t.repository, t.branch), index('code_refs_flag_idx').on(t.flagKey)],
);

/** The last upload of each repository and branch. */
export const codeRefUploads = sqliteTable(
  'code_ref_uploads',
  {
    repository: text('repository').notNull(),
    branch: text('branch').notNull(),
    commit: text('commit').notNull(),
    uploadedAt: integer('uploaded_at').notNull(),
    uploadedBy: text('uploaded_by').notNull(),
    references: integer('references').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repository, t.branch] })],
);

/** Per flag: when an upload last found a reference, and when its last reference disappeared (null while referenced). */
export const codeRefFlags = sqliteTable('code_ref_flags', {
  flagKey: text('flag_key').primaryKey(),
  lastReferencedAt: integer('last_referenced_at').notNull(),
  removedAt: integer('removed_at'),
});
