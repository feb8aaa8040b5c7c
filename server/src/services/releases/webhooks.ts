import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ReleaseStore, Webhook, WebhookDelivery } from '../../store/release-ports.js';

/** Events a webhook can subscribe to (`*` = all). */
export const WEBHOOK_EVENTS = [
  'flag.stage_changed',
  'release.started',
  'release.advanced',
  'release.completed',
  'release.rolled_back',
  'release.paused',
  'release.resumed',
  'release.aborted',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const SIGNATURE_HEADER = 'x-switchyard-signature';
const MAX_ATTEMPTS = 8;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 5 * 60_000;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * `t=<unix ms>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the timestamp is signed too, so a
 * receiver can reject replays of an old delivery (as Stripe's scheme does).
 */
export function sign(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Receiver side: check a signature header in constant time. */
export function verifySignature(secret: string, header: string, body: string): boolean {
  const m = /^t=(\d+),v1=[0-9a-f]{64}$/.exec(header);
  if (!m) return false;
  const expected = Buffer.from(sign(secret, Number(m[1]), body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

/** Delay before attempt `attempt + 1`: exponential, capped. */
export const retryDelay = (attempt: number) => Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempt - 1));

export interface DispatcherOptions {
  fetch?: typeof fetch;
  now?: () => number;
  /** How often pending retries are looked for. */
  pollMs?: number;
  log?: (message: string) => void;
}

/**
 * Persists a delivery per subscribed webhook, then sends it; failures are retried with backoff,
 * also after a restart (pending deliveries are in the database). The log is the delivery table.
 */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | null = null;
  private again = false;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  /** Subscriptions, read once: every stage change consults them. Call `webhooksChanged` after edits. */
  private hooks: Promise<(Webhook & { secret: string })[]> | undefined;

  constructor(
    private readonly store: ReleaseStore,
    private readonly options: DispatcherOptions = {},
  ) {
    this.fetch = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
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

  webhooksChanged(): void {
    this.hooks = undefined;
  }

  /** Queue `event` for every webhook subscribed to it, and try to deliver at once. */
  async emit(event: WebhookEvent, data: Record<string, unknown>): Promise<void> {
    this.hooks ??= this.store.listWebhooks();
    const hooks = (await this.hooks).filter((h) => h.events.includes('*') || h.events.includes(event));
    if (hooks.length === 0) return;
    const at = this.now();
    const payload = JSON.stringify({ event, at: new Date(at).toISOString(), data });
    await this.store.createDeliveries(event, payload, hooks.map((h) => h.id), at);
    void this.pump();
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
        const due = await this.store.dueDeliveries(this.now());
        if (due.length === 0) break;
        const secrets = new Map((await this.store.listWebhooks()).map((h) => [h.id, h]));
        await Promise.all(due.map((d) => this.attempt(d, secrets.get(d.webhookId))));
      } while (this.again);
    })().finally(() => {
      this.pumping = null;
    });
    return this.pumping;
  }

  private async attempt(delivery: WebhookDelivery, hook: { url: string; secret: string } | undefined): Promise<void> {
    if (!hook) return;
    const attempts = delivery.attempts + 1;
    const timestamp = this.now();
    let statusCode: number | null = null;
    let error: string;
    try {
      const response = await this.fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: sign(hook.secret, timestamp, delivery.payload), 'x-switchyard-event': delivery.event, 'x-switchyard-delivery': String(delivery.id) },
        body: delivery.payload,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      statusCode = response.status;
      await response.body?.cancel();
      if (response.ok) {
        await this.store.updateDelivery(delivery.id, { status: 'delivered', attempts, lastStatusCode: statusCode, lastError: null, nextAttemptAt: null, deliveredAt: this.now() });
        return;
      }
      error = `HTTP ${statusCode}`;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const failed = attempts >= MAX_ATTEMPTS;
    this.options.log?.(`webhook delivery ${delivery.id} to ${hook.url} failed (attempt ${attempts}): ${error}`);
    await this.store.updateDelivery(delivery.id, {
      status: failed ? 'failed' : 'pending',
      attempts,
      lastStatusCode: statusCode,
      lastError: error,
      nextAttemptAt: failed ? null : this.now() + retryDelay(attempts),
    });
  }
}
