import type { AuditContext, AuditEntry } from './ports.js';
import type { PlanSpec, PlanStatus, ReleaseEvent, ReleaseEventKind, ReleasePlan } from '../domain/releases/plans.js';

/** The exposure pseudo-metric: how many times an SDK served a variation of a guarded flag. */
export const EXPOSURE_METRIC = '$exposure';

export interface MetricCount {
  flagKey: string;
  variation: string;
  metric: string;
  count: number;
  sum: number;
  histogram?: Record<string, number>;
}

export interface MetricTotals {
  variation: string;
  metric: string;
  count: number;
  sum: number;
  histogram: Record<string, number>;
}

export interface MetricPoint {
  windowStart: number;
  variation: string;
  metric: string;
  count: number;
}

/** A plan's progress fields, changed by the runner and the manual actions. */
export type PlanProgress = Partial<Pick<ReleasePlan, 'status' | 'currentStep' | 'variation' | 'pauseReason' | 'startedAt' | 'stepStartedAt' | 'pausedAt'>>;

/** One decision-log entry; `audit` also writes an audit entry (actions that change no flag). */
export interface EventInput {
  kind: ReleaseEventKind;
  message: string;
  evidence?: unknown;
}

export interface Webhook {
  id: number;
  url: string;
  events: string[];
  createdAt: number;
  createdBy: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  id: number;
  webhookId: number;
  event: string;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: number | null;
  createdAt: number;
  deliveredAt: number | null;
}

/**
 * Storage for release plans, their decision log, SDK metrics and webhooks. State lives here, not in
 * the runner, so a restarted server resumes every active plan.
 */
export interface ReleaseStore {
  getPlan(flagKey: string, environment: string): Promise<ReleasePlan | undefined>;
  listPlans(statuses?: readonly PlanStatus[]): Promise<ReleasePlan[]>;
  /** Create or replace the (inactive) plan of a flag in an environment, status `ready`. */
  putPlan(flagKey: string, environment: string, spec: PlanSpec, audit: AuditContext): Promise<{ plan: ReleasePlan; audit: AuditEntry }>;
  deletePlan(id: number, audit: AuditContext): Promise<AuditEntry>;
  /**
   * Compare-and-set the plan's progress and append to its decision log in one transaction; with
   * `audit`, an audit entry too. Returns undefined when the plan's version moved on (a concurrent action).
   */
  advancePlan(plan: ReleasePlan, progress: PlanProgress, event: EventInput, audit: AuditContext | null): Promise<{ plan: ReleasePlan; audit: AuditEntry | null } | undefined>;
  /** Append to the decision log only (e.g. a periodic check's evidence). */
  addEvent(plan: ReleasePlan, event: EventInput, actor: string): Promise<void>;
  listEvents(flagKey: string, environment: string, limit: number): Promise<ReleaseEvent[]>;

  addMetrics(environment: string, windowStart: number, counts: readonly MetricCount[]): Promise<void>;
  metricTotals(environment: string, flagKey: string, since: number): Promise<MetricTotals[]>;
  metricSeries(environment: string, flagKey: string, since: number): Promise<MetricPoint[]>;
  lastExposureAt(environment: string, flagKey: string): Promise<number | null>;
  /** Drop windows older than `before` (bounded storage). */
  pruneMetrics(before: number): Promise<void>;

  createWebhook(input: { url: string; secret: string; events: string[] }, audit: AuditContext): Promise<Webhook>;
  listWebhooks(): Promise<(Webhook & { secret: string })[]>;
  deleteWebhook(id: number, audit: AuditContext): Promise<boolean>;
  createDeliveries(event: string, payload: string, webhookIds: readonly number[], now: number): Promise<WebhookDelivery[]>;
  dueDeliveries(now: number): Promise<WebhookDelivery[]>;
  updateDelivery(id: number, patch: Partial<Pick<WebhookDelivery, 'status' | 'attempts' | 'lastStatusCode' | 'lastError' | 'nextAttemptAt' | 'deliveredAt'>>): Promise<void>;
  listDeliveries(webhookId: number, limit: number): Promise<WebhookDelivery[]>;
}
