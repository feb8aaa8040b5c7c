import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

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
  'change_request.requested',
  'change_request.approved',
  'change_request.applied',
  'change_request.rejected',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const SIGNATURE_HEADER = 'x-switchyard-signature';
export const MAX_DELIVERY_ATTEMPTS = 8;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 5 * 60_000;

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

/** The outcome of one attempt, as stored. */
export type DeliveryOutcome = Pick<WebhookDelivery, 'status' | 'attempts' | 'lastStatusCode' | 'lastError' | 'nextAttemptAt' | 'deliveredAt'>;

/** A queued event: the same payload goes to every subscribed webhook. */
export interface WebhookMessage {
  event: WebhookEvent;
  payload: string;
}

/** The payload is serialised on first use: most changes reach no webhook at all. */
export function webhookMessage(event: WebhookEvent, at: number, data: Record<string, unknown>): WebhookMessage {
  let payload: string | undefined;
  return {
    event,
    get payload() {
      return (payload ??= JSON.stringify({ event, at: new Date(at).toISOString(), data }));
    },
  };
}

/** A webhook hears an event when its list names it, or `*`. */
export const subscribes = (events: readonly string[], event: string): boolean => events.includes(event) || events.includes('*');

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

/** What an attempt leaves behind: delivered, retried later, or given up after the last attempt. */
export function deliveryOutcome(attempts: number, statusCode: number | null, error: string | null, now: number): DeliveryOutcome {
  if (error === null) return { status: 'delivered', attempts, lastStatusCode: statusCode, lastError: null, nextAttemptAt: null, deliveredAt: now };
  const failed = attempts >= MAX_DELIVERY_ATTEMPTS;
  return { status: failed ? 'failed' : 'pending', attempts, lastStatusCode: statusCode, lastError: error, nextAttemptAt: failed ? null : now + retryDelay(attempts), deliveredAt: null };
}
