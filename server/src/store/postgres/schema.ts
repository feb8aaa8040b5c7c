import { sql } from 'drizzle-orm';
import { bigint, boolean, check, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * PostgreSQL schema: the same tables as `../sqlite/schema.ts`, with the same row types (checked by
 * `../rows.ts`), so both dialects share one row ↔ domain mapping. Times are epoch milliseconds
 * (bigint read as a JS number); nested configuration is jsonb.
 */

const now = sql`(floor(extract(epoch from clock_timestamp()) * 1000))::bigint`;
const millis = (name: string) => bigint(name, { mode: 'number' });

export const environments = pgTable('environments', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  key: text('key').notNull().unique(),
  name: text('name').notNull(),
  critical: boolean('critical').notNull().default(false),
  clientSecret: text('client_secret'),
  sortOrder: integer('sort_order').notNull().default(0),
  /** Rule-set version: the change-feed position of the last change visible to this environment's SDKs. */
  version: millis('version').notNull().default(1),
  createdAt: millis('created_at').notNull().default(now),
});

export const flags = pgTable('flags', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  key: text('key').notNull().unique(),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  tags: jsonb('tags').$type<string[]>().notNull(),
  owner: text('owner').notNull().default(''),
  type: text('type').notNull(),
  variations: jsonb('variations').notNull(),
  archived: boolean('archived').notNull().default(false),
  version: integer('version').notNull().default(1),
  createdAt: millis('created_at').notNull().default(now),
  updatedAt: millis('updated_at').notNull().default(now),
  updatedBy: text('updated_by').notNull().default(''),
  managedBy: text('managed_by'),
  clientVisible: boolean('client_visible').notNull().default(false),
});

export const flagEnvironments = pgTable(
  'flag_environments',
  {
    flagId: integer('flag_id')
      .notNull()
      .references(() => flags.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    config: jsonb('config').notNull(),
  },
  (t) => [primaryKey({ columns: [t.flagId, t.environmentId] })],
);

/** Incident overrides (see ../sqlite/schema.ts). */
export const incidentOverrides = pgTable(
  'incident_overrides',
  {
    flagId: integer('flag_id')
      .notNull()
      .references(() => flags.id, { onDelete: 'cascade' }),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    killedAt: millis('killed_at').notNull(),
    killedBy: text('killed_by').notNull(),
    message: text('message'),
    sinceCommit: text('since_commit'),
    fileConfig: jsonb('file_config').notNull(),
  },
  (t) => [primaryKey({ columns: [t.flagId, t.environmentId] })],
);

export const segments = pgTable('segments', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  key: text('key').notNull().unique(),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  unitAttribute: text('unit_attribute').notNull().default('userId'),
  included: jsonb('included').$type<string[]>().notNull(),
  excluded: jsonb('excluded').$type<string[]>().notNull(),
  rules: jsonb('rules').notNull(),
  version: integer('version').notNull().default(1),
  createdAt: millis('created_at').notNull().default(now),
  updatedAt: millis('updated_at').notNull().default(now),
  updatedBy: text('updated_by').notNull().default(''),
  managedBy: text('managed_by'),
});

export const auditLog = pgTable(
  'audit_log',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    at: millis('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceKey: text('resource_key').notNull(),
    environment: text('environment'),
    before: jsonb('before'),
    after: jsonb('after'),
    source: text('source').notNull().default('api'),
    message: text('message'),
    commit: text('commit'),
  },
  (t) => [index('audit_resource_idx').on(t.resourceType, t.resourceKey, t.id)],
);

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    name: text('name').notNull(),
    role: text('role').notNull(),
    tokenHash: text('token_hash').notNull(),
    prefix: text('prefix').notNull(),
    createdAt: millis('created_at').notNull().default(now),
    createdBy: text('created_by').notNull(),
    lastUsedAt: millis('last_used_at'),
    revokedAt: millis('revoked_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash_idx').on(t.tokenHash)],
);

export const sdkKeys = pgTable(
  'sdk_keys',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    name: text('name').notNull(),
    environmentId: integer('environment_id')
      .notNull()
      .references(() => environments.id),
    keyHash: text('key_hash').notNull(),
    prefix: text('prefix').notNull(),
    createdAt: millis('created_at').notNull().default(now),
    createdBy: text('created_by').notNull(),
    revokedAt: millis('revoked_at'),
    kind: text('kind').notNull().default('server'),
  },
  (t) => [uniqueIndex('sdk_keys_hash_idx').on(t.keyHash)],
);

export const sessions = pgTable(
  'sessions',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    sessionHash: text('session_hash').notNull(),
    tokenId: integer('token_id')
      .notNull()
      .references(() => apiTokens.id, { onDelete: 'cascade' }),
    createdAt: millis('created_at').notNull().default(now),
    expiresAt: millis('expires_at').notNull(),
  },
  (t) => [uniqueIndex('sessions_hash_idx').on(t.sessionHash), index('sessions_expires_idx').on(t.expiresAt)],
);

export const releasePlans = pgTable(
  'release_plans',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    flagKey: text('flag_key').notNull(),
    environment: text('environment').notNull(),
    spec: jsonb('spec').notNull(),
    status: text('status').notNull(),
    currentStep: integer('current_step').notNull().default(-1),
    variation: text('variation'),
    pauseReason: text('pause_reason'),
    startedAt: millis('started_at'),
    stepStartedAt: millis('step_started_at'),
    pausedAt: millis('paused_at'),
    updatedAt: millis('updated_at').notNull(),
    updatedBy: text('updated_by').notNull(),
    version: integer('version').notNull().default(1),
  },
  (t) => [uniqueIndex('release_plans_flag_env_idx').on(t.flagKey, t.environment), index('release_plans_status_idx').on(t.status)],
);

export const releaseEvents = pgTable(
  'release_events',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    planId: integer('plan_id'),
    flagKey: text('flag_key').notNull(),
    environment: text('environment').notNull(),
    at: millis('at').notNull(),
    kind: text('kind').notNull(),
    actor: text('actor').notNull(),
    message: text('message').notNull(),
    evidence: jsonb('evidence'),
  },
  (t) => [index('release_events_flag_idx').on(t.flagKey, t.environment, t.id)],
);

export const releaseMetrics = pgTable(
  'release_metrics',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    variation: text('variation').notNull(),
    metric: text('metric').notNull(),
    windowStart: millis('window_start').notNull(),
    count: millis('count').notNull().default(0),
    sum: doublePrecision('sum').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey, t.metric, t.variation, t.windowStart] })],
);

export const releaseMetricBuckets = pgTable(
  'release_metric_buckets',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    variation: text('variation').notNull(),
    metric: text('metric').notNull(),
    windowStart: millis('window_start').notNull(),
    bucket: integer('bucket').notNull(),
    count: millis('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey, t.metric, t.variation, t.windowStart, t.bucket] })],
);

/** Per contributing SDK key; see ../sqlite/schema.ts. */
export const releaseMetricSources = pgTable(
  'release_metric_sources',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    variation: text('variation').notNull(),
    metric: text('metric').notNull(),
    windowStart: millis('window_start').notNull(),
    keyId: integer('key_id').notNull(),
    keyName: text('key_name').notNull(),
    count: millis('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey, t.metric, t.variation, t.windowStart, t.keyId] })],
);

/** Metrics uploads per SDK key per minute (the rate limit, shared by every replica). */
export const sdkUploadCounts = pgTable(
  'sdk_upload_counts',
  {
    keyId: integer('key_id').notNull(),
    windowStart: millis('window_start').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.windowStart] })],
);

/** Evaluation insights: evaluations per environment, flag, hour (UTC start, ms) and variation, added up from every SDK. */
export const evaluationCounts = pgTable(
  'evaluation_counts',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    hour: millis('hour').notNull(),
    variation: text('variation').notNull(),
    count: millis('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey, t.hour, t.variation] }), index('evaluation_counts_hour_idx').on(t.hour)],
);

/** When each flag was last evaluated in each environment (kept past the hourly counts' retention). */
export const flagLastEvaluated = pgTable(
  'flag_last_evaluated',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    at: millis('at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey] })],
);

/** SDKs seen using each key (name and version as their insights uploads say). */
export const sdkConnections = pgTable(
  'sdk_connections',
  {
    keyId: integer('key_id').notNull(),
    keyName: text('key_name').notNull(),
    environment: text('environment').notNull(),
    sdk: text('sdk').notNull(),
    version: text('version').notNull(),
    firstSeenAt: millis('first_seen_at').notNull(),
    lastSeenAt: millis('last_seen_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.sdk, t.version] }), index('sdk_connections_environment_idx').on(t.environment, t.lastSeenAt)],
);

export const webhooks = pgTable('webhooks', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  url: text('url').notNull(),
  secret: text('secret').notNull(),
  events: jsonb('events').$type<string[]>().notNull(),
  createdAt: millis('created_at').notNull(),
  createdBy: text('created_by').notNull(),
});

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    webhookId: integer('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    event: text('event').notNull(),
    payload: text('payload').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    nextAttemptAt: millis('next_attempt_at'),
    claimedUntil: millis('claimed_until'),
    createdAt: millis('created_at').notNull(),
    deliveredAt: millis('delivered_at'),
  },
  (t) => [index('webhook_deliveries_hook_idx').on(t.webhookId, t.id), index('webhook_deliveries_pending_idx').on(t.status, t.nextAttemptAt)],
);

/**
 * The change feed. Positions come from `change_feed_head` (one row): an append increments it and
 * holds that row's lock until commit, so positions are handed out in commit order and a rolled-back
 * append leaves no gap — a follower that has seen position N has seen every position before it.
 */
export const changeFeed = pgTable('change_feed', {
  seq: millis('seq').primaryKey(),
  at: millis('at').notNull(),
  entry: text('entry').notNull(),
});

export const changeFeedHead = pgTable(
  'change_feed_head',
  {
    id: integer('id').primaryKey(),
    seq: millis('seq').notNull(),
  },
  (t) => [check('change_feed_head_single_row', sql`${t.id} = 1`)],
);

export const clusterState = pgTable('cluster_state', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: millis('updated_at').notNull(),
});

/** Scheduled changes (see ../sqlite/schema.ts). */
export const schedules = pgTable(
  'schedules',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    flagKey: text('flag_key').notNull(),
    environment: text('environment').notNull(),
    at: millis('at').notNull(),
    action: jsonb('action').notNull(),
    message: text('message'),
    onLate: text('on_late').notNull(),
    graceMs: millis('grace_ms').notNull(),
    ifChanged: text('if_changed').notNull(),
    baseVersion: integer('base_version').notNull(),
    baseline: jsonb('baseline').notNull(),
    status: text('status').notNull(),
    createdAt: millis('created_at').notNull(),
    createdBy: text('created_by').notNull(),
    updatedAt: millis('updated_at').notNull(),
    updatedBy: text('updated_by').notNull(),
    version: integer('version').notNull().default(1),
    executedAt: millis('executed_at'),
    lateByMs: millis('late_by_ms'),
    outcome: text('outcome'),
    resultVersion: integer('result_version'),
    auditId: integer('audit_id'),
  },
  (t) => [index('schedules_due_idx').on(t.status, t.at), index('schedules_flag_idx').on(t.flagKey, t.environment)],
);

/** Approval policies per environment (see ../sqlite/schema.ts). */
export const approvalPolicies = pgTable('approval_policies', {
  environment: text('environment').primaryKey(),
  required: boolean('required').notNull(),
  approvals: integer('approvals').notNull(),
  approverRoles: jsonb('approver_roles').notNull(),
  adminBypass: boolean('admin_bypass').notNull(),
  version: integer('version').notNull().default(1),
  updatedAt: millis('updated_at').notNull(),
  updatedBy: text('updated_by').notNull(),
});

/** Change requests (see ../sqlite/schema.ts). */
export const changeRequests = pgTable(
  'change_requests',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    title: text('title').notNull(),
    description: text('description').notNull(),
    environment: text('environment').notNull(),
    status: text('status').notNull(),
    changes: jsonb('changes').notNull(),
    flagKeys: text('flag_keys').notNull(),
    approvals: jsonb('approvals').notNull(),
    comments: jsonb('comments').notNull(),
    author: text('author').notNull(),
    authorTokenId: integer('author_token_id').notNull(),
    createdAt: millis('created_at').notNull(),
    updatedAt: millis('updated_at').notNull(),
    version: integer('version').notNull().default(1),
    resolvedBy: text('resolved_by'),
    resolvedAt: millis('resolved_at'),
    reason: text('reason'),
    bypassed: boolean('bypassed').notNull().default(false),
  },
  (t) => [index('change_requests_status_idx').on(t.status, t.id), index('change_requests_environment_idx').on(t.environment, t.id)],
);

/** Code references (see ../sqlite/schema.ts). */
export const codeRefs = pgTable(
  'code_refs',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    repository: text('repository').notNull(),
    branch: text('branch').notNull(),
    flagKey: text('flag_key').notNull(),
    path: text('path').notNull(),
    line: integer('line').notNull(),
    snippet: text('snippet').notNull(),
  },
  (t) => [index('code_refs_branch_idx').on(t.repository, t.branch), index('code_refs_flag_idx').on(t.flagKey)],
);

export const codeRefUploads = pgTable(
  'code_ref_uploads',
  {
    repository: text('repository').notNull(),
    branch: text('branch').notNull(),
    commit: text('commit').notNull(),
    uploadedAt: millis('uploaded_at').notNull(),
    uploadedBy: text('uploaded_by').notNull(),
    references: integer('references').notNull(),
  },
  (t) => [primaryKey({ columns: [t.repository, t.branch] })],
);

export const codeRefFlags = pgTable('code_ref_flags', {
  flagKey: text('flag_key').primaryKey(),
  lastReferencedAt: millis('last_referenced_at').notNull(),
  removedAt: millis('removed_at'),
});
