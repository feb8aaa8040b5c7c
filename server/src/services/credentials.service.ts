import type { AuditContext } from '../domain/audit.js';
import { SESSION_TTL_MS, type ActiveSdkKey, type ApiToken, type Role, type SdkKey, type SdkKeyKind, type SessionPrincipal } from '../domain/credentials.js';
import { AppError } from '../domain/errors.js';
import { API_TOKEN_PREFIX, CLIENT_KEY_PREFIX, SDK_KEY_PREFIX, displayPrefix, hashSecret, hashSessionId, newSecret, newSessionId } from '../domain/secrets.js';
import type { Writes } from './write.js';

/** A credential's secret, shown once at creation: we keep only its sha-256. */
export type Created<T> = T & { secret: string };

/**
 * API tokens, SDK keys and dashboard sessions. A revocation is recorded in the change feed, so
 * every replica drops its cached lookups and open streams for it; sessions live in the database,
 * so signing out on one replica signs out everywhere.
 */
export class CredentialsService {
  constructor(private readonly w: Writes) {}

  // ---- API tokens ----

  listTokens(): Promise<ApiToken[]> {
    return this.w.read((tx) => this.w.repos.tokens.list(tx));
  }

  async createToken(input: { name: string; role: Role }, ctx: AuditContext, secret = newSecret(API_TOKEN_PREFIX), prefix = displayPrefix(secret)): Promise<Created<ApiToken>> {
    const token = await this.w.write(ctx, async (tx, at) => {
      const created = await this.w.repos.tokens.insert(tx, { ...input, tokenHash: hashSecret(secret), prefix, createdAt: at, createdBy: ctx.actor });
      return { value: created, change: { audit: [{ action: 'api_token.created', resourceType: 'api_token' as const, resourceKey: String(created.id), environment: null, before: null, after: created }] } };
    });
    return { ...token, secret };
  }

  async revokeToken(id: number, ctx: AuditContext): Promise<ApiToken> {
    return this.w.write(ctx, async (tx, at) => {
      const before = await this.w.repos.tokens.get(tx, id);
      if (!before) throw AppError.notFound('API token', id);
      const after = await this.w.repos.tokens.revoke(tx, id, at);
      if (!after) throw new AppError('conflict', `API token ${id} is already revoked`);
      const change = { audit: [{ action: 'api_token.revoked', resourceType: 'api_token' as const, resourceKey: String(id), environment: null, before, after }], revoked: [{ kind: 'api' as const, id }] };
      return { value: after, change };
    });
  }

  // ---- SDK keys ----

  listSdkKeys(): Promise<SdkKey[]> {
    return this.w.read((tx) => this.w.repos.sdkKeys.list(tx));
  }

  /** A server key (secret: rule sets) or, with `kind: 'client'`, a public client key (evaluated values only). */
  async createSdkKey(input: { name: string; environment: string; kind?: SdkKeyKind }, ctx: AuditContext): Promise<Created<SdkKey>> {
    const kind = input.kind ?? 'server';
    const secret = newSecret(kind === 'client' ? CLIENT_KEY_PREFIX : SDK_KEY_PREFIX);
    const key = await this.w.write(ctx, async (tx, at) => {
      const created = await this.w.repos.sdkKeys.insert(tx, { name: input.name, environment: input.environment, kind, keyHash: hashSecret(secret), prefix: displayPrefix(secret), createdAt: at, createdBy: ctx.actor });
      return { value: created, change: { audit: [{ action: 'sdk_key.created', resourceType: 'sdk_key' as const, resourceKey: String(created.id), environment: created.environment, before: null, after: created }] } };
    });
    return { ...key, secret };
  }

  async revokeSdkKey(id: number, ctx: AuditContext): Promise<SdkKey> {
    return this.w.write(ctx, async (tx, at) => {
      const before = await this.w.repos.sdkKeys.get(tx, id);
      if (!before) throw AppError.notFound('SDK key', id);
      const after = await this.w.repos.sdkKeys.revoke(tx, id, at);
      if (!after) throw new AppError('conflict', `SDK key ${id} is already revoked`);
      const change = { audit: [{ action: 'sdk_key.revoked', resourceType: 'sdk_key' as const, resourceKey: String(id), environment: before.environment, before, after }], revoked: [{ kind: 'sdk' as const, id }] };
      return { value: after, change };
    });
  }

  // ---- authentication ----

  /** The active token or SDK key whose secret this is. */
  async authenticate(secret: string): Promise<{ kind: 'api'; token: ApiToken } | { kind: 'sdk'; key: ActiveSdkKey } | undefined> {
    const hash = hashSecret(secret);
    return this.w.read(async (tx) => {
      const token = await this.w.repos.tokens.findActive(tx, hash);
      if (token) return { kind: 'api' as const, token };
      const key = await this.w.repos.sdkKeys.findActive(tx, hash);
      return key ? { kind: 'sdk' as const, key } : undefined;
    });
  }

  /** An active SDK key with the stored hash of its secret, or undefined (unknown or revoked). */
  activeSdkKey(id: number): Promise<(SdkKey & { keyHash: string }) | undefined> {
    return this.w.read((tx) => this.w.repos.sdkKeys.activeById(tx, id));
  }

  /** lastUsedAt is informational: not audited, not in the feed. */
  async touchToken(id: number, at: number): Promise<void> {
    await this.w.db.transaction((tx) => this.w.repos.tokens.touch(tx, id, at));
  }

  // ---- dashboard sessions ----

  /** Exchange an API token for a session; returns the session id for the cookie (its hash is stored). */
  async signIn(tokenSecret: string): Promise<{ sessionId: string; token: ApiToken }> {
    const token = await this.w.read((tx) => this.w.repos.tokens.findActive(tx, hashSecret(tokenSecret)));
    if (!token) throw new AppError('unauthorized', 'invalid or revoked API token');
    const sessionId = newSessionId();
    const now = this.w.now();
    await this.w.db.transaction(async (tx) => {
      // Opportunistic clean-up keeps the table small without a timer.
      await this.w.repos.sessions.deleteExpired(tx, now);
      await this.w.repos.sessions.insert(tx, { sessionHash: hashSessionId(sessionId), tokenId: token.id, createdAt: now, expiresAt: now + SESSION_TTL_MS });
    });
    return { sessionId, token };
  }

  /**
   * The token behind a live session, and how long the session has left (`endsInMs`, by this
   * service's clock): unknown, expired, or revoked-token sessions resolve to nothing.
   */
  async session(sessionId: string): Promise<(SessionPrincipal & { endsInMs: number }) | undefined> {
    const now = this.w.now();
    const found = await this.w.read((tx) => this.w.repos.sessions.resolve(tx, hashSessionId(sessionId), now));
    return found && { ...found, endsInMs: found.expiresAt - now };
  }

  /**
   * End a session everywhere: the row goes, and — for a live session — the change feed says so, so
   * every replica ends the dashboard streams it opened. An unknown or expired id writes nothing
   * (anyone may call sign-out: it must not be a way to fill the feed).
   */
  async signOut(sessionId: string): Promise<void> {
    const sessionHash = hashSessionId(sessionId);
    const live = await this.session(sessionId);
    if (!live) {
      await this.w.db.transaction((tx) => this.w.repos.sessions.delete(tx, sessionHash));
      return;
    }
    await this.w.write({ actor: live.name, source: 'api' }, async (tx) => {
      await this.w.repos.sessions.delete(tx, sessionHash);
      return { value: undefined, change: { audit: [], revoked: [{ kind: 'session' as const, sessionHash }] } };
    });
  }
}
