import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasRole, type Role } from '../../domain/credentials.js';
import { AppError } from '../../domain/errors.js';
import type { CredentialsService } from '../../services/credentials.service.js';

export type Principal =
  | { kind: 'api'; tokenId: number; name: string; role: Role }
  | { kind: 'sdk'; keyId: number; name: string; environment: string };

/** Extra ways to authenticate (e.g. the dashboard's session cookie); tried after the bearer token. */
export type Authenticator = (request: FastifyRequest) => Promise<Principal | null>;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** preHandler: an API token (or session) with at least `role`. */
    requireRole(role: Role): (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** preHandler: an SDK key; `request.principal.environment` says which environment. */
    requireSdkKey: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    addAuthenticator(authenticator: Authenticator): void;
    /** A token or SDK key was revoked (on any replica: the change feed says so): drop cached lookups and tell listeners (e.g. open streams). */
    credentialsRevoked(kind: Principal['kind'], id: number): void;
    onCredentialsRevoked(listener: (kind: Principal['kind'], id: number) => void): void;
  }
}

/** lastUsedAt is informational: write it at most once a minute per token, not on every request. */
const TOUCH_INTERVAL_MS = 60_000;
/**
 * Valid credentials are cached briefly so hot endpoints (OFREP, polling) skip the database.
 * A revocation on any replica clears the cache at once (through the change feed); the TTL bounds
 * staleness should the feed be interrupted.
 */
const CREDENTIAL_TTL_MS = 30_000;
const CREDENTIAL_CACHE_SIZE = 10_000;

export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1];
}

export const authPlugin = fp(
  async (app: FastifyInstance, opts: { credentials: CredentialsService }) => {
    const { credentials } = opts;
    const authenticators: Authenticator[] = [];
    const touched = new Map<number, number>();
    const cache = new Map<string, { principal: Principal; expiresAt: number }>();

    async function lookup(secret: string): Promise<Principal | null> {
      const found = await credentials.authenticate(secret);
      if (found?.kind === 'api') return { kind: 'api', tokenId: found.token.id, name: found.token.name, role: found.token.role };
      if (found?.kind === 'sdk') return { kind: 'sdk', keyId: found.key.id, name: found.key.name, environment: found.key.environment };
      return null;
    }

    async function authenticate(request: FastifyRequest): Promise<Principal | null> {
      const secret = bearer(request);
      if (secret !== undefined) {
        const now = Date.now();
        // Keyed by the presented secret (which is in this process's memory for the request anyway),
        // so a cached credential costs no hashing; only the hash ever reaches the database.
        const cached = cache.get(secret);
        const principal = cached && cached.expiresAt > now ? cached.principal : await lookup(secret);
        if (!principal) throw new AppError('unauthorized', 'invalid or revoked credentials');
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
    const revokedListeners = new Set<(kind: Principal['kind'], id: number) => void>();
    app.decorate('credentialsRevoked', (kind: Principal['kind'], id: number) => {
      cache.clear();
      for (const listener of revokedListeners) listener(kind, id);
    });
    app.decorate('onCredentialsRevoked', (listener: (kind: Principal['kind'], id: number) => void) => {
      revokedListeners.add(listener);
    });
    app.decorate('addAuthenticator', (authenticator: Authenticator) => {
      authenticators.push(authenticator);
    });

    app.decorate('requireRole', (role: Role) => async (request: FastifyRequest) => {
      const principal = (request.principal ??= await authenticate(request));
      if (!principal) throw new AppError('unauthorized', 'missing credentials: send "Authorization: Bearer <API token>"');
      if (principal.kind !== 'api') throw new AppError('forbidden', 'SDK keys are read-only and cannot use the management API; use an API token');
      if (!hasRole(principal.role, role)) throw new AppError('forbidden', `this needs the ${role} role; token "${principal.name}" is ${principal.role}`);
    });

    app.decorate('requireSdkKey', async (request: FastifyRequest) => {
      const principal = (request.principal ??= await authenticate(request));
      if (!principal) throw new AppError('unauthorized', 'missing credentials: send "Authorization: Bearer <SDK key>"');
      if (principal.kind !== 'sdk') throw new AppError('forbidden', 'this endpoint takes an SDK key, not an API token');
    });
  },
  { name: 'auth' },
);
