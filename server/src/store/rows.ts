import type { AuditEntry, AuditResource, AuditSource } from '../domain/audit.js';
import type { ApiToken, Role, SdkKey } from '../domain/credentials.js';
import type { Environment } from '../domain/environments.js';
import type { FeedEntry } from '../domain/feed.js';
import type { Flag, FlagEnvironment, Managed } from '../domain/flags.js';
import type { IncidentOverride } from '../domain/gitops/incidents.js';
import type { MetricTotals } from '../domain/releases/metrics.js';
import type { PlanSpec, PlanStatus, ReleaseEvent, ReleaseEventKind, ReleasePlan } from '../domain/releases/plans.js';
import type { WebhookDelivery } from '../domain/releases/webhooks.js';
import type { Baseline, IfChangedPolicy, LatePolicy, Schedule, ScheduleAction, ScheduleStatus } from '../domain/schedules.js';
import type { Segment } from '../domain/segments.js';
import type * as pg from './postgres/schema.js';
import type * as sqlite from './sqlite/schema.js';

/**
 * Row ↔ domain mapping, shared by both dialects: the two schemas declare the same row types, which
 * the checks below hold them to (a column added to one schema only fails the type check).
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Row<T extends { $inferSelect: unknown }> = T['$inferSelect'];
type AssertSame<A, B> = Same<A, B> extends true ? true : [A, 'differs from', B];
export type DialectsAgree = [
  AssertSame<Row<typeof sqlite.environments>, Row<typeof pg.environments>>,
  AssertSame<Row<typeof sqlite.flags>, Row<typeof pg.flags>>,
  AssertSame<Row<typeof sqlite.flagEnvironments>, Row<typeof pg.flagEnvironments>>,
  AssertSame<Row<typeof sqlite.incidentOverrides>, Row<typeof pg.incidentOverrides>>,
  AssertSame<Row<typeof sqlite.segments>, Row<typeof pg.segments>>,
  AssertSame<Row<typeof sqlite.auditLog>, Row<typeof pg.auditLog>>,
  AssertSame<Row<typeof sqlite.apiTokens>, Row<typeof pg.apiTokens>>,
  AssertSame<Row<typeof sqlite.sdkKeys>, Row<typeof pg.sdkKeys>>,
  AssertSame<Row<typeof sqlite.sessions>, Row<typeof pg.sessions>>,
  AssertSame<Row<typeof sqlite.releasePlans>, Row<typeof pg.releasePlans>>,
  AssertSame<Row<typeof sqlite.releaseEvents>, Row<typeof pg.releaseEvents>>,
  AssertSame<Row<typeof sqlite.releaseMetrics>, Row<typeof pg.releaseMetrics>>,
  AssertSame<Row<typeof sqlite.releaseMetricBuckets>, Row<typeof pg.releaseMetricBuckets>>,
  AssertSame<Row<typeof sqlite.releaseMetricSources>, Row<typeof pg.releaseMetricSources>>,
  AssertSame<Row<typeof sqlite.sdkUploadCounts>, Row<typeof pg.sdkUploadCounts>>,
  AssertSame<Row<typeof sqlite.evaluationCounts>, Row<typeof pg.evaluationCounts>>,
  AssertSame<Row<typeof sqlite.flagLastEvaluated>, Row<typeof pg.flagLastEvaluated>>,
  AssertSame<Row<typeof sqlite.sdkConnections>, Row<typeof pg.sdkConnections>>,
  AssertSame<Row<typeof sqlite.webhooks>, Row<typeof pg.webhooks>>,
  AssertSame<Row<typeof sqlite.webhookDeliveries>, Row<typeof pg.webhookDeliveries>>,
  AssertSame<Row<typeof sqlite.changeFeed>, Row<typeof pg.changeFeed>>,
  AssertSame<Row<typeof sqlite.clusterState>, Row<typeof pg.clusterState>>,
  AssertSame<Row<typeof sqlite.schedules>, Row<typeof pg.schedules>>,
  AssertSame<Row<typeof sqlite.codeRefs>, Row<typeof pg.codeRefs>>,
  AssertSame<Row<typeof sqlite.codeRefUploads>, Row<typeof pg.codeRefUploads>>,
  AssertSame<Row<typeof sqlite.codeRefFlags>, Row<typeof pg.codeRefFlags>>,
];
const dialectsAgree: DialectsAgree = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
void dialectsAgree;

export type EnvironmentRow = Row<typeof sqlite.environments>;
export type FlagRow = Row<typeof sqlite.flags>;
export type SegmentRow = Row<typeof sqlite.segments>;
export type IncidentRow = Row<typeof sqlite.incidentOverrides>;
export type AuditRow = Row<typeof sqlite.auditLog>;
export type ApiTokenRow = Row<typeof sqlite.apiTokens>;
export type SdkKeyRow = Row<typeof sqlite.sdkKeys>;
export type PlanRow = Row<typeof sqlite.releasePlans>;
export type ReleaseEventRow = Row<typeof sqlite.releaseEvents>;
export type DeliveryRow = Row<typeof sqlite.webhookDeliveries>;
export type FeedRow = Row<typeof sqlite.changeFeed>;
export type ScheduleRow = Row<typeof sqlite.schedules>;

export function toEnvironment(row: EnvironmentRow): Environment {
  return { key: row.key, name: row.name, critical: row.critical, clientSecureMode: row.clientSecret !== null, sortOrder: row.sortOrder, version: row.version, createdAt: row.createdAt };
}

/** A flag from its row and its configurations by environment key. */
export function toFlag(row: FlagRow, configs: Record<string, FlagEnvironment>): Managed<Flag> {
  return {
    value: {
      key: row.key,
      name: row.name,
      description: row.description,
      tags: row.tags,
      owner: row.owner,
      type: row.type as Flag['type'],
      variations: row.variations as Flag['variations'],
      archived: row.archived,
      clientVisible: row.clientVisible,
      version: row.version,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      updatedBy: row.updatedBy,
      environments: configs,
    },
    managedBy: row.managedBy,
  };
}

/** The flags row of a flag (its configurations live in flag_environments). */
export function flagColumns(flag: Flag) {
  return {
    key: flag.key,
    name: flag.name,
    description: flag.description,
    tags: flag.tags,
    owner: flag.owner,
    type: flag.type,
    variations: flag.variations,
    archived: flag.archived,
    clientVisible: flag.clientVisible,
    version: flag.version,
    createdAt: flag.createdAt,
    updatedAt: flag.updatedAt,
    updatedBy: flag.updatedBy,
  };
}

/** Group configuration rows by flag id: { flagId → { environment → config } }. */
export function configsByFlag(rows: readonly { flagId: number; environment: string; config: unknown }[]): Map<number, Record<string, FlagEnvironment>> {
  const byFlag = new Map<number, Record<string, FlagEnvironment>>();
  for (const row of rows) {
    let configs = byFlag.get(row.flagId);
    if (!configs) byFlag.set(row.flagId, (configs = {}));
    configs[row.environment] = row.config as FlagEnvironment;
  }
  return byFlag;
}

/** An incident override from its row, with the keys of its flag and environment. */
export function toIncident(row: Omit<IncidentRow, 'flagId' | 'environmentId'> & { flag: string; environment: string }): IncidentOverride {
  return {
    flag: row.flag,
    environment: row.environment,
    killedAt: row.killedAt,
    killedBy: row.killedBy,
    message: row.message,
    sinceCommit: row.sinceCommit,
    fileConfig: row.fileConfig as FlagEnvironment,
  };
}

export function toSegment(row: SegmentRow): Managed<Segment> {
  return {
    value: {
      key: row.key,
      name: row.name,
      description: row.description,
      unitAttribute: row.unitAttribute,
      included: row.included,
      excluded: row.excluded,
      rules: row.rules as Segment['rules'],
      version: row.version,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      updatedBy: row.updatedBy,
    },
    managedBy: row.managedBy,
  };
}

export function segmentColumns(segment: Segment) {
  return {
    key: segment.key,
    name: segment.name,
    description: segment.description,
    unitAttribute: segment.unitAttribute,
    included: segment.included,
    excluded: segment.excluded,
    rules: segment.rules,
    version: segment.version,
    createdAt: segment.createdAt,
    updatedAt: segment.updatedAt,
    updatedBy: segment.updatedBy,
  };
}

/** Audit rows, newest first, grouped by resource key (each group keeps that order). */
export function auditByResource(rows: readonly AuditRow[]): Map<string, AuditEntry[]> {
  const grouped = new Map<string, AuditEntry[]>();
  for (const row of rows) {
    const entries = grouped.get(row.resourceKey);
    if (entries) entries.push(toAuditEntry(row));
    else grouped.set(row.resourceKey, [toAuditEntry(row)]);
  }
  return grouped;
}

/** Keys per statement of a batched read: well under either dialect's limit on parameters. */
export const KEYS_PER_READ = 1000;

export function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    resourceType: row.resourceType as AuditResource,
    resourceKey: row.resourceKey,
    environment: row.environment,
    before: row.before ?? null,
    after: row.after ?? null,
    source: row.source as AuditSource,
    message: row.message,
    commit: row.commit,
  };
}

export function toApiToken(row: ApiTokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    prefix: row.prefix,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}

export function toSdkKey(row: SdkKeyRow, environment: string): SdkKey {
  return { id: row.id, name: row.name, kind: row.kind as SdkKey['kind'], environment, prefix: row.prefix, createdAt: row.createdAt, createdBy: row.createdBy, revokedAt: row.revokedAt };
}

export function toPlan(row: PlanRow): ReleasePlan {
  return { ...row, spec: row.spec as PlanSpec, status: row.status as PlanStatus };
}

export function toReleaseEvent(row: ReleaseEventRow): ReleaseEvent {
  return { ...row, kind: row.kind as ReleaseEventKind, evidence: row.evidence ?? null };
}

/** Delivery counts by status (rows of `status, count(*) … group by status`) as the backlog. */
export function backlogOf(rows: readonly { status: string; n: number | string }[]): { pending: number; failed: number } {
  const of = (status: string) => Number(rows.find((row) => row.status === status)?.n ?? 0);
  return { pending: of('pending'), failed: of('failed') };
}

export function toDelivery(row: DeliveryRow): WebhookDelivery {
  const { claimedUntil: _claimedUntil, ...delivery } = row;
  return { ...delivery, status: row.status as WebhookDelivery['status'] };
}

export function toFeedEntry(row: FeedRow): FeedEntry {
  return { seq: row.seq, ...(JSON.parse(row.entry) as Omit<FeedEntry, 'seq'>) };
}

/** The environments a feed entry patches or reloads: their rule-set version becomes its position. */
export function touchedEnvironments(entry: Pick<FeedEntry, 'sdk'>): string[] {
  return Object.keys(entry.sdk);
}

/** Summed counters and histogram buckets per (metric, variation) into totals. */
export function toMetricTotals(
  counts: readonly { variation: string; metric: string; count: number; sum: number }[],
  buckets: readonly { variation: string; metric: string; bucket: number; count: number }[],
): MetricTotals[] {
  const id = (r: { metric: string; variation: string }) => `${r.metric}\u0000${r.variation}`;
  const totals = new Map<string, MetricTotals>(counts.map((c) => [id(c), { variation: c.variation, metric: c.metric, count: c.count, sum: c.sum, histogram: {} }]));
  for (const b of buckets) {
    const total = totals.get(id(b));
    if (total) total.histogram[String(b.bucket)] = b.count;
  }
  return [...totals.values()];
}

export function toSchedule(row: ScheduleRow): Schedule {
  return {
    ...row,
    action: row.action as ScheduleAction,
    onLate: row.onLate as LatePolicy,
    ifChanged: row.ifChanged as IfChangedPolicy,
    baseline: row.baseline as Baseline,
    status: row.status as ScheduleStatus,
  };
}
