import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { RuleSetCache } from '../services/rulesets.js';
import { MAX_ROW_ID } from './responses.js';

/**
 * OFREP change notifications (ADR-0008 of open-feature/protocol): bulk evaluation advertises an
 * `eventStreams` entry; providers connect to it with `EventSource` and, on each
 * `{"type":"refetchEvaluation"}` message, evaluate again (sending the event's `etag` as
 * `flagConfigEtag`). The stream says only that the environment changed — never what — so it is
 * safe for client keys: the re-fetch decides what the caller may see.
 *
 * `EventSource` cannot send an Authorization header, so the advertised URL carries a ticket:
 * the key's id and an HMAC keyed with the stored hash of the key's secret. Only someone who holds
 * the key (or the database) can make one; it grants nothing but these notifications, and stops
 * working when the key is revoked.
 */

const TICKET_LABEL = 'switchyard ofrep events v1';
/** Heartbeat comments keep proxies and load balancers from closing an idle stream. */
export const DEFAULT_OFREP_HEARTBEAT_MS = 25_000;

export function eventsTicket(keyId: number, keyHash: string): string {
  return `${keyId}.${createHmac('sha256', keyHash).update(TICKET_LABEL).digest('base64url')}`;
}

/**
 * The key id a ticket names (undefined for anything malformed), before checking its MAC. An id no
 * row can have is malformed too: PostgreSQL refuses to compare an integer column with it (a 500).
 */
export function ticketKeyId(ticket: string): number | undefined {
  const m = /^(\d{1,15})\.[\w-]{43}$/.exec(ticket);
  const id = m ? Number(m[1]) : undefined;
  return id !== undefined && id <= MAX_ROW_ID ? id : undefined;
}

export function ticketMatches(ticket: string, keyId: number, keyHash: string): boolean {
  const expected = Buffer.from(eventsTicket(keyId, keyHash));
  const given = Buffer.from(ticket);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** One SSE message: the id is the rule-set version (a change-feed position: the same on every replica). */
export function refetchFrame(version: number): Buffer {
  return Buffer.from(`id: ${version}\ndata: ${JSON.stringify({ type: 'refetchEvaluation', etag: `"${version}"` })}\n\n`);
}

const HEARTBEAT = Buffer.from(': heartbeat\n\n');

interface Listener {
  socket: Socket;
  keyId: number;
}

/** The open notification streams of this replica, by environment; fed by the rule-set cache (so by the change feed). */
export class OfrepEventHub {
  private readonly byEnvironment = new Map<string, Set<Listener>>();
  private readonly byKey = new Map<number, Set<Listener>>();
  /** Open streams per holder — a server key, or a client address (see ofrep.routes.ts) — for the limits. */
  private readonly byHolder = new Map<string, number>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(ruleSets: RuleSetCache, heartbeatMs = DEFAULT_OFREP_HEARTBEAT_MS) {
    ruleSets.on('change', (change) => this.notify(change.environment, change.version));
    // A reload (environment created or deleted, or the feed restarted) cannot be patched: re-fetch.
    ruleSets.on('reload', (environment) => {
      for (const env of environment === null ? [...this.byEnvironment.keys()] : [environment]) {
        void ruleSets.get(env).then(
          (ruleSet) => this.notify(env, ruleSet?.version ?? 0),
          () => this.notify(env, 0),
        );
      }
    });
    if (heartbeatMs > 0) {
      this.timer = setInterval(() => this.heartbeat(), heartbeatMs);
      this.timer.unref();
    }
  }

  /** Open streams on this replica, by environment (for /metrics). */
  *connections(): Iterable<[string, number]> {
    for (const [environment, listeners] of this.byEnvironment) yield [environment, listeners.size];
  }

  /** Open streams of `holder` on this replica. */
  countFor(holder: string): number {
    return this.byHolder.get(holder) ?? 0;
  }

  /** A stream of `keyId` (closed when the key is revoked), counted against `holder`. */
  add(environment: string, keyId: number, holder: string, socket: Socket): void {
    const listener = { socket, keyId };
    const env = this.byEnvironment.get(environment) ?? new Set<Listener>();
    this.byEnvironment.set(environment, env.add(listener));
    const key = this.byKey.get(keyId) ?? new Set<Listener>();
    this.byKey.set(keyId, key.add(listener));
    this.byHolder.set(holder, this.countFor(holder) + 1);
    socket.once('close', () => {
      const held = this.countFor(holder) - 1;
      if (held > 0) this.byHolder.set(holder, held);
      else this.byHolder.delete(holder);
      env.delete(listener);
      if (env.size === 0 && this.byEnvironment.get(environment) === env) this.byEnvironment.delete(environment);
      key.delete(listener);
      if (key.size === 0 && this.byKey.get(keyId) === key) this.byKey.delete(keyId);
    });
  }

  notify(environment: string, version: number): void {
    const listeners = this.byEnvironment.get(environment);
    if (!listeners) return;
    const frame = refetchFrame(version);
    for (const { socket } of listeners) if (socket.writable) socket.write(frame);
  }

  /** A revoked key loses its streams at once. */
  revoke(keyId: number): void {
    for (const { socket } of this.byKey.get(keyId) ?? []) socket.destroy();
  }

  heartbeat(): void {
    for (const listeners of this.byEnvironment.values()) for (const { socket } of listeners) if (socket.writable) socket.write(HEARTBEAT);
  }

  /** Server shutdown: end every stream (EventSource reconnects, to another replica if there is one). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const listeners of this.byEnvironment.values()) for (const { socket } of listeners) socket.end();
  }
}
