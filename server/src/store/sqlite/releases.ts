import { and, desc, eq, gte, inArray, lt, lte, max } from 'drizzle-orm';
import type { Db } from './connection.js';
import { auditLog, releaseEvents, releaseMetrics, releasePlans, webhookDeliveries, webhooks } from './schema.js';
import { AppError } from '../../domain/errors.js';
import type { PlanSpec, PlanStatus, ReleaseEvent, ReleaseEventKind, ReleasePlan } from '../../domain/releases/plans.js';
import { ACTIVE_STATUSES } from '../../domain/releases/plans.js';
import type { EventInput, MetricCount, MetricPoint, MetricTotals, PlanProgress, ReleaseStore, Webhook, WebhookDelivery } from '../release-ports.js';
import { EXPOSURE_METRIC } from '../release-ports.js';
import type { AuditContext, AuditEntry } from '../ports.js';
import type { AuditWrite } from './kernel.js';
import { toAuditEntry } from './rows.js';

type PlanRow = typeof releasePlans.$inferSelect;

function toPlan(row: PlanRow): ReleasePlan {
  return { ...row, spec: row.spec as PlanSpec, status: row.status as PlanStatus };
}

/** SQLite implementation of the release store; each method is one short transaction. */
export class SqliteReleaseStore implements ReleaseStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  private tx<T>(fn: () => T): T {
    return this.db.$client.transaction(fn)();
  }

  private audit(entry: AuditWrite, ctx: AuditContext): AuditEntry {
    const row = this.db
      .insert(auditLog)
      .values({ ...entry, at: this.now(), actor: ctx.actor, before: entry.before ?? null, after: entry.after ?? null, source: ctx.source, message: ctx.message ?? null, commit: ctx.commit ?? null })
      .returning()
      .get();
    return toAuditEntry(row);
  }

  /** A release plan's change, audited on its flag. */
  private auditFlag(action: string, flagKey: string, environment: string | null, after: unknown, ctx: AuditContext): AuditEntry {
    return this.audit({ action, resourceType: 'flag', resourceKey: flagKey, environment, before: null, after }, ctx);
  }

  private event(planId: number | null, flagKey: string, environment: string, event: EventInput, actor: string): void {
    this.db.insert(releaseEvents).values({ planId, flagKey, environment, at: this.now(), kind: event.kind, actor, message: event.message, evidence: event.evidence ?? null }).run();
  }

  async getPlan(flagKey: string, environment: string): Promise<ReleasePlan | undefined> {
    const row = this.db.select().from(releasePlans).where(and(eq(releasePlans.flagKey, flagKey), eq(releasePlans.environment, environment))).get();
    return row ? toPlan(row) : undefined;
  }

  async listPlans(statuses?: readonly PlanStatus[]): Promise<ReleasePlan[]> {
    const query = this.db.select().from(releasePlans);
    const rows = statuses ? query.where(inArray(releasePlans.status, [...statuses])).all() : query.all();
    return rows.map(toPlan);
  }

  async putPlan(flagKey: string, environment: string, spec: PlanSpec, ctx: AuditContext): Promise<{ plan: ReleasePlan; audit: AuditEntry }> {
    return this.tx(() => {
      const existing = this.db.select().from(releasePlans).where(and(eq(releasePlans.flagKey, flagKey), eq(releasePlans.environment, environment))).get();
      if (existing && ACTIVE_STATUSES.includes(existing.status as PlanStatus)) {
        throw new AppError('conflict', `the release plan of "${flagKey}" in ${environment} is ${existing.status}; abort it before replacing it`);
      }
      const values = { spec, status: 'ready', currentStep: -1, variation: null, pauseReason: null, startedAt: null, stepStartedAt: null, pausedAt: null, updatedAt: this.now(), updatedBy: ctx.actor };
      const row = existing
        ? this.db.update(releasePlans).set({ ...values, version: existing.version + 1 }).where(eq(releasePlans.id, existing.id)).returning().get()
        : this.db.insert(releasePlans).values({ flagKey, environment, ...values }).returning().get();
      const plan = toPlan(row);
      this.event(plan.id, flagKey, environment, { kind: 'created', message: `${spec.strategy} plan: ${spec.steps.map((s) => `${s.percentage}%`).join(' → ')}`, evidence: spec }, ctx.actor);
      return { plan, audit: this.auditFlag('release.plan_saved', flagKey, environment, spec, ctx) };
    });
  }

  async deletePlan(id: number, ctx: AuditContext): Promise<AuditEntry> {
    return this.tx(() => {
      const row = this.db.delete(releasePlans).where(eq(releasePlans.id, id)).returning().get();
      if (!row) throw AppError.notFound('release plan', id);
      return this.auditFlag('release.plan_deleted', row.flagKey, row.environment, null, ctx);
    });
  }

  async advancePlan(plan: ReleasePlan, progress: PlanProgress, event: EventInput, ctx: AuditContext | null) {
    return this.tx(() => {
      const row = this.db
        .update(releasePlans)
        .set({ ...progress, version: plan.version + 1, updatedAt: this.now(), updatedBy: ctx?.actor ?? 'release-guard' })
        .where(and(eq(releasePlans.id, plan.id), eq(releasePlans.version, plan.version)))
        .returning()
        .get();
      if (!row) return undefined;
      this.event(plan.id, plan.flagKey, plan.environment, event, ctx?.actor ?? 'release-guard');
      const audit = ctx ? this.auditFlag(`release.${event.kind}`, plan.flagKey, plan.environment, event.evidence ?? null, { ...ctx, message: ctx.message ?? event.message }) : null;
      return { plan: toPlan(row), audit };
    });
  }

  async addEvent(plan: ReleasePlan, event: EventInput, actor: string): Promise<void> {
    this.event(plan.id, plan.flagKey, plan.environment, event, actor);
  }

  async listEvents(flagKey: string, environment: string, limit: number): Promise<ReleaseEvent[]> {
    const rows = this.db
      .select()
      .from(releaseEvents)
      .where(and(eq(releaseEvents.flagKey, flagKey), eq(releaseEvents.environment, environment)))
      .orderBy(desc(releaseEvents.id))
      .limit(limit)
      .all();
    return rows.map((r) => ({ ...r, kind: r.kind as ReleaseEventKind, evidence: r.evidence ?? null }));
  }

  async addMetrics(environment: string, windowStart: number, counts: readonly MetricCount[]): Promise<void> {
    this.tx(() => {
      for (const c of counts) {
        const key = and(
          eq(releaseMetrics.environment, environment),
          eq(releaseMetrics.flagKey, c.flagKey),
          eq(releaseMetrics.metric, c.metric),
          eq(releaseMetrics.variation, c.variation),
          eq(releaseMetrics.windowStart, windowStart),
        );
        const existing = this.db.select().from(releaseMetrics).where(key).get();
        const histogram = mergeHistograms(existing?.histogram ?? undefined, c.histogram);
        if (existing) {
          this.db.update(releaseMetrics).set({ count: existing.count + c.count, sum: existing.sum + c.sum, histogram }).where(key).run();
        } else {
          this.db.insert(releaseMetrics).values({ environment, flagKey: c.flagKey, variation: c.variation, metric: c.metric, windowStart, count: c.count, sum: c.sum, histogram }).run();
        }
      }
    });
  }

  private metricRows(environment: string, flagKey: string, since: number) {
    return this.db
      .select()
      .from(releaseMetrics)
      .where(and(eq(releaseMetrics.environment, environment), eq(releaseMetrics.flagKey, flagKey), gte(releaseMetrics.windowStart, since)))
      .orderBy(releaseMetrics.windowStart)
      .all();
  }

  async metricTotals(environment: string, flagKey: string, since: number): Promise<MetricTotals[]> {
    const totals = new Map<string, MetricTotals>();
    for (const row of this.metricRows(environment, flagKey, since)) {
      const id = `${row.metric}\u0000${row.variation}`;
      const total = totals.get(id) ?? { variation: row.variation, metric: row.metric, count: 0, sum: 0, histogram: {} };
      total.count += row.count;
      total.sum += row.sum;
      total.histogram = mergeHistograms(total.histogram, row.histogram ?? undefined) ?? {};
      totals.set(id, total);
    }
    return [...totals.values()];
  }

  async metricSeries(environment: string, flagKey: string, since: number): Promise<MetricPoint[]> {
    return this.metricRows(environment, flagKey, since).map((r) => ({ windowStart: r.windowStart, variation: r.variation, metric: r.metric, count: r.count }));
  }

  async lastExposureAt(environment: string, flagKey: string): Promise<number | null> {
    const row = this.db
      .select({ at: max(releaseMetrics.windowStart) })
      .from(releaseMetrics)
      .where(and(eq(releaseMetrics.environment, environment), eq(releaseMetrics.flagKey, flagKey), eq(releaseMetrics.metric, EXPOSURE_METRIC)))
      .get();
    return row?.at ?? null;
  }

  async pruneMetrics(before: number): Promise<void> {
    this.db.delete(releaseMetrics).where(lt(releaseMetrics.windowStart, before)).run();
  }

  // Webhooks are audited in the same transaction as the change; the signing secret never is.
  async createWebhook(input: { url: string; secret: string; events: string[] }, ctx: AuditContext): Promise<Webhook> {
    return this.tx(() => {
      const row = this.db.insert(webhooks).values({ ...input, createdAt: this.now(), createdBy: ctx.actor }).returning().get();
      this.audit({ action: 'webhook.created', resourceType: 'webhook', resourceKey: String(row.id), environment: null, before: null, after: { url: row.url, events: row.events } }, ctx);
      return { id: row.id, url: row.url, events: row.events, createdAt: row.createdAt, createdBy: row.createdBy };
    });
  }

  async listWebhooks(): Promise<(Webhook & { secret: string })[]> {
    return this.db.select().from(webhooks).orderBy(webhooks.id).all();
  }

  async deleteWebhook(id: number, ctx: AuditContext): Promise<boolean> {
    return this.tx(() => {
      const row = this.db.delete(webhooks).where(eq(webhooks.id, id)).returning().get();
      if (row) this.audit({ action: 'webhook.deleted', resourceType: 'webhook', resourceKey: String(id), environment: null, before: { url: row.url, events: row.events }, after: null }, ctx);
      return row !== undefined;
    });
  }

  async createDeliveries(event: string, payload: string, webhookIds: readonly number[], now: number): Promise<WebhookDelivery[]> {
    if (webhookIds.length === 0) return [];
    return this.tx(() =>
      webhookIds.map((webhookId) => toDelivery(this.db.insert(webhookDeliveries).values({ webhookId, event, payload, status: 'pending', createdAt: now, nextAttemptAt: now }).returning().get())),
    );
  }

  async dueDeliveries(now: number): Promise<WebhookDelivery[]> {
    return this.db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, now)))
      .orderBy(webhookDeliveries.id)
      .limit(100)
      .all()
      .map(toDelivery);
  }

  async updateDelivery(id: number, patch: Partial<WebhookDelivery>): Promise<void> {
    const { id: _id, ...rest } = patch;
    this.db.update(webhookDeliveries).set(rest).where(eq(webhookDeliveries.id, id)).run();
  }

  async listDeliveries(webhookId: number, limit: number): Promise<WebhookDelivery[]> {
    return this.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, webhookId)).orderBy(desc(webhookDeliveries.id)).limit(limit).all().map(toDelivery);
  }
}

function toDelivery(row: typeof webhookDeliveries.$inferSelect): WebhookDelivery {
  return { ...row, status: row.status as WebhookDelivery['status'] };
}

function mergeHistograms(a: Record<string, number> | undefined, b: Record<string, number> | undefined): Record<string, number> | null {
  if (!a && !b) return null;
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) out[k] = (out[k] ?? 0) + v;
  return out;
}
