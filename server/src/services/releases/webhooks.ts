import { SIGNATURE_HEADER, deliveryOutcome, sign, type Webhook, type WebhookDelivery } from '../../domain/releases/webhooks.js';
import type { AuditContext } from '../../domain/audit.js';
import { AppError } from '../../domain/errors.js';
import type { Writes } from '../write.js';

const REQUEST_TIMEOUT_MS = 10_000;
/** A claimed delivery belongs to its replica this long: past it (the replica died), another may send it. */
const CLAIM_MS = 60_000;
const BATCH = 100;

export interface DispatcherOptions {
  fetch?: typeof fetch;
  /** How often due retries are looked for (new deliveries wake the dispatcher through the change feed). */
  pollMs?: number;
  log?: (message: string) => void;
}

/**
 * Webhook subscriptions and deliveries. A delivery is queued in the same transaction as the change
 * it reports (see Writes.record); any replica may send it, after claiming it in the database, so each
 * is sent once even with several replicas pumping. Failures are retried with backoff, also after a
 * restart; the delivery table is the log.
 */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | null = null;
  private again = false;
  private readonly fetch: typeof fetch;

  constructor(
    private readonly w: Writes,
    private readonly options: DispatcherOptions = {},
  ) {
    this.fetch = options.fetch ?? fetch;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.pump(), this.options.pollMs ?? 1000);
    this.timer.unref();
    void this.pump();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.pumping;
  }

  /** Deliveries waiting to be sent (retries included) and given up on, over every webhook and replica. */
  backlog(): Promise<{ pending: number; failed: number }> {
    return this.w.read((tx) => this.w.repos.webhooks.backlog(tx));
  }

  list(): Promise<Webhook[]> {
    return this.w.read(async (tx) => (await this.w.repos.webhooks.list(tx)).map(({ secret: _secret, ...hook }) => hook));
  }

  async create(input: { url: string; events: string[]; secret: string }, ctx: AuditContext): Promise<Webhook> {
    // The signing secret is never audited.
    return this.w.write(ctx, async (tx, at) => {
      const hook = await this.w.repos.webhooks.insert(tx, { ...input, createdAt: at, createdBy: ctx.actor });
      return { value: hook, change: { audit: [{ action: 'webhook.created', resourceType: 'webhook', resourceKey: String(hook.id), environment: null, before: null, after: { url: hook.url, events: hook.events } }] } };
    });
  }

  async remove(id: number, ctx: AuditContext): Promise<void> {
    await this.w.write(ctx, async (tx) => {
      const hook = await this.w.repos.webhooks.delete(tx, id);
      if (!hook) throw AppError.notFound('webhook', id);
      return { value: undefined, change: { audit: [{ action: 'webhook.deleted', resourceType: 'webhook', resourceKey: String(id), environment: null, before: { url: hook.url, events: hook.events }, after: null }] } };
    });
  }

  async deliveries(webhookId: number, limit: number): Promise<WebhookDelivery[]> {
    return this.w.read(async (tx) => {
      if (!(await this.w.repos.webhooks.list(tx)).some((h) => h.id === webhookId)) throw AppError.notFound('webhook', webhookId);
      return this.w.repos.webhooks.deliveries(tx, webhookId, limit);
    });
  }

  /** Deliver everything that is due; concurrent calls coalesce into one more round. */
  pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return this.pumping;
    }
    this.pumping = (async () => {
      do {
        this.again = false;
        const now = this.w.now();
        const due = await this.w.db.transaction((tx) => this.w.repos.webhooks.claim(tx, now, now + CLAIM_MS, BATCH));
        if (due.length === 0) break;
        await Promise.all(due.map((d) => this.attempt(d)));
        if (due.length === BATCH) this.again = true;
      } while (this.again);
    })()
      .catch((error: unknown) => this.options.log?.(`webhook dispatch failed: ${String(error)}`))
      .finally(() => {
        this.pumping = null;
      });
    return this.pumping;
  }

  private async attempt(delivery: WebhookDelivery & { url: string; secret: string }): Promise<void> {
    const attempts = delivery.attempts + 1;
    const timestamp = this.w.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const response = await this.fetch(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: sign(delivery.secret, timestamp, delivery.payload), 'x-switchyard-event': delivery.event, 'x-switchyard-delivery': String(delivery.id) },
        body: delivery.payload,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      statusCode = response.status;
      await response.body?.cancel();
      if (!response.ok) error = `HTTP ${statusCode}`;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (error !== null) this.options.log?.(`webhook delivery ${delivery.id} to ${delivery.url} failed (attempt ${attempts}): ${error}`);
    const outcome = deliveryOutcome(attempts, statusCode, error, this.w.now());
    await this.w.db.transaction((tx) => this.w.repos.webhooks.complete(tx, delivery.id, outcome));
  }
}
