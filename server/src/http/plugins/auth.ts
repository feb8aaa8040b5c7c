import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasRole, type Revocation, type Role } from '../../domain/credentials.js';
import { AppError } from '../../domain/errors.js';
import type { CredentialsService } from '../../services/credentials.service.js';

export type Principal =
  /**
   * `sessionHash`: signed in to the dashboard with this session (its streams end when it does);
   * `sessionEndsAt`: when the session expires (`Date.now()` time).
   */
  | { kind: 'api'; tokenId: number; name: string; role: Role; sessionHash?: string; sessionEndsAt?: number }
  /**
   * An SDK key. `client`: a public client key (OFREP bulk evaluation of client-visible flags and
   * its change notifications only); `clientSecret`: the environment's secure-mode secret, if on.
   */
  | { kind: 'sdk'; keyId: number; name: string; environment: string; client: boolean; clientSecret: string | null };
export type SdkPrincipal = Extract<Principal, { kind: 'sdk' }>;

/** Extra ways to authenticate (e.g. the dashboard's session cookie); tried after the bearer token. */
export type Authenticator = (request: FastifyRequest) => Promise<Principal | null>;

/**
 * A route `onRequest` hook for SDK endpoints, callback style: a key already in the credential cache
 * is checked synchronously (no promise per request on the hottest routes); otherwise it is looked up.
 */
export type SdkKeyHook = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /**
     * Route hook: an API token (or session) with at least `role`. Routes use it as `onRequest`, so
     * a caller without the right credentials gets 401/403 before its body is read or validated.
     */
    requireRole(role: Role): (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** Route hook (`onRequest`): a server SDK key; `request.principal.environment` says which environment. */
    requireSdkKey: SdkKeyHook;
    /** Route hook (`onRequest`): a server or a client SDK key (OFREP bulk evaluation and its change notifications). */
    requireEvaluationKey: SdkKeyHook;
    addAuthenticator(authenticator: Authenticator): void;
    /** The SDK key an `Authorization` header names, if this replica has it cached (no lookup, no promise); else undefined. */
    cachedSdkKey(authorization: string | undefined): SdkPrincipal | undefined;
    /** A token, SDK key or session was revoked (on any replica: the change feed says so): drop cached lookups and tell listeners (e.g. open streams). */
    credentialsRevoked(revocation: Revocation): void;
    onCredentialsRevoked(listener: (revocation: Revocation) => void): void;
    /**
     * Count a failed authentication (a wrong token, SDK key or sign-in) against the client's
     * address. Returns the error to answer with: `refusal` itself, or a 429 (with Retry-After set
     * on `reply`) once the address has failed too often this minute.
     */
    authenticationFailed(request: FastifyRequest, reply: FastifyReply, refusal: AppError): Promise<AppError>;
  }
}

export interface AuthOptions {
  credentials: CredentialsService;
  /** Failed authentications per client address and minute before 429s (per replica). */
  authFailuresPerMinute?: number;
}

export const DEFAULT_AUTH_FAILURES_PER_MINUTE = 30;
const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Addresses remembered by the failure counter (least recently seen are forgotten first). */
const AUTH_FAILURE_ADDRESSES = 10_000;

/** lastUsedAt is informational: write it at most once a minute per token, not on every request. */
const TOUCH_INTERVAL_MS = 60_000;
/**
 * Valid credentials are cached briefly so hot endpoints (OFREP, polling) skip the database.
 * A revocation on any replica clears the cache at once (through the change feed); the TTL bounds
 * staleness should the feed be interrupted.
 */
const CREDENTIAL_TTL_MS = 30_000;
const CREDENTIAL_CACHE_SIZE = 10_000;

const BEARER = /^Bearer\s+(\S+)$/i;

export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  return BEARER.exec(header)?.[1];
}

export const authPlugin = fp(
  async (app: FastifyInstance, opts: AuthOptions) => {
    const { credentials } = opts;
    // Only failures are counted, and only the answer to a failure changes: a valid credential is
    // never refused for its address, so an office behind one NAT is not locked out by a
    // misconfigured script (or an attacker) sharing the address. Per replica, in memory.
    await app.register(rateLimit, { global: false, cache: AUTH_FAILURE_ADDRESSES });
    const failures = app.createRateLimit({ max: opts.authFailuresPerMinute ?? DEFAULT_AUTH_FAILURES_PER_MINUTE, timeWindow: AUTH_FAILURE_WINDOW_MS });
    async function authenticationFailed(request: FastifyRequest, reply: FastifyReply, refusal: AppError): Promise<AppError> {
      const limit = await failures(request);
      if (limit.isAllowed || !limit.isExceeded) return refusal;
      void reply.header('retry-after', String(Math.max(1, limit.ttlInSeconds)));
      return new AppError('rate_limited', `too many failed authentication attempts from this address; retry in ${Math.max(1, limit.ttlInSeconds)} s`);
    }

    const authenticators: Authenticator[] = [];
    const touched = new Map<number, number>();
    const cache = new Map<string, { principal: Principal; expiresAt: number }>();

    async function lookup(secret: string): Promise<Principal | null> {
      const found = await credentials.authenticate(secret);
      if (found?.kind === 'api') return { kind: 'api', tokenId: found.token.id, name: found.token.name, role: found.token.role };
      if (found?.kind === 'sdk') {
        const { key } = found;
        return { kind: 'sdk', keyId: key.id, name: key.name, environment: key.environment, client: key.kind === 'client', clientSecret: key.kind === 'client' ? key.clientSecret : null };
      }
      return null;
    }

    async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Principal | null> {
      const secret = bearer(request);
      if (secret !== undefined) {
        const now = Date.now();
        // Keyed by the presented secret (which is in this process's memory for the request anyway),
        // so a cached credential costs no hashing; only the hash ever reaches the database.
        const cached = cache.get(secret);
        const principal = cached && cached.expiresAt > now ? cached.principal : await lookup(secret);
        if (!principal) throw await authenticationFailed(request, reply, new AppError('unauthorized', 'invalid or revoked credentials'));
        if (cached?.principal !== principal) {
          if (cache.size >= CREDENTIAL_CACHE_SIZE) cache.clear();
          cache.set(secret, { principal, expiresAt: now + CREDENTIAL_TTL_MS });
        }
        if (principal.kind === 'api' && (touched.get(principal.tokenId) ?? 0) + TOUCH_INTERVAL_MS < now) {
          touched.set(principal.tokenId, now);
          await credentials.touchToken(principal.tokenId, now);
        }
        return principal;
      }
      for (const authenticator of authenticators) {
        const principal = await authenticator(request);
        if (principal) return principal;
      }
      return null;
    }

    app.decorateRequest('principal', null);
    const revokedListeners = new Set<(revocation: Revocation) => void>();
    app.decorate('credentialsRevoked', (revocation: Revocation) => {
      // Session cookies are not cached here: only a token or key revocation touches the cache.
      if (revocation.kind !== 'session') cache.clear();
      for (const listener of revokedListeners) listener(revocation);
    });
    app.decorate('onCredentialsRevoked', (listener: (revocation: Revocation) => void) => {
      revokedListeners.add(listener);
    });
    app.decorate('authenticationFailed', authenticationFailed);
    app.decorate('addAuthenticator', (authenticator: Authenticator) => {
      authenticators.push(authenticator);
    });

    app.decorate('requireRole', (role: Role) => async (request: FastifyRequest, reply: FastifyReply) => {
      const principal = (request.principal ??= await authenticate(request, reply));
      if (!principal) throw new AppError('unauthorized', 'missing credentials: send "Authorization: Bearer <API token>"');
      if (principal.kind !== 'api') throw new AppError('forbidden', 'SDK keys are read-only and cannot use the management API; use an API token');
      if (!hasRole(principal.role, role)) throw new AppError('forbidden', `this needs the ${role} role; token "${principal.name}" is ${principal.role}`);
    });

    /** The SDK-key principal of an Authorization header from the cache, or undefined when it must be looked up. */
    function cachedSdkKey(header: string | undefined): SdkPrincipal | undefined {
      if (header === undefined) return undefined;
      // The usual spelling is looked up without the regular expression: cached secrets came out of
      // bearer() (no whitespace), so a hit means bearer() would have found this very secret.
      const cached = cache.get(header.startsWith('Bearer ') ? header.slice(7) : (BEARER.exec(header)?.[1] ?? ''));
      return cached && cached.expiresAt > Date.now() && cached.principal.kind === 'sdk' ? cached.principal : undefined;
    }
    app.decorate('cachedSdkKey', cachedSdkKey);
    /** An SDK-key principal from the cache without a promise, or undefined when it must be looked up. */
    function cachedSdkPrincipal(request: FastifyRequest): Principal | undefined {
      return request.principal ?? cachedSdkKey(request.headers.authorization);
    }
    function sdkKeyHook(check: (principal: Principal | null) => void): SdkKeyHook {
      const settle = (request: FastifyRequest, principal: Principal | null, done: (error?: Error) => void) => {
        let failure: Error | undefined;
        try {
          request.principal = principal;
          check(principal);
        } catch (error) {
          failure = error as Error;
        }
        done(failure);
      };
      return (request, reply, done) => {
        const cached = cachedSdkPrincipal(request);
        if (cached) return settle(request, cached, done);
        authenticate(request, reply).then((principal) => settle(request, principal, done), done);
      };
    }

    app.decorate('requireSdkKey', sdkKeyHook((principal) => {
      if (!principal) throw new AppError('unauthorized', 'missing credentials: send "Authorization: Bearer <SDK key>"');
      if (principal.kind !== 'sdk') throw new AppError('forbidden', 'this endpoint takes an SDK key, not an API token');
      if (principal.client) throw new AppError('forbidden', `"${principal.name}" is a client key: it may only call OFREP bulk evaluation (POST /ofrep/v1/evaluate/flags) and its change notifications; this endpoint takes a server SDK key`);
    }));

    app.decorate('requireEvaluationKey', sdkKeyHook((principal) => {
      if (!principal) throw new AppError('unauthorized', 'missing credentials: send "Authorization: Bearer <SDK key or client key>"');
      if (principal.kind !== 'sdk') throw new AppError('forbidden', 'this endpoint takes an SDK key or a client key, not an API token');
    }));
  },
  { name: 'auth' },
);
