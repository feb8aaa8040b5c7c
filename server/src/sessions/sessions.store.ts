import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, lte } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { apiTokens, sessions } from '../db/schema.js';
import type { Role, Store } from '../store/store.js';

/** Sessions live 12 hours from sign-in (absolute, not sliding): a stolen cookie expires soon. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface SessionPrincipal {
  tokenId: number;
  name: string;
  role: Role;
}

/** Dashboard sessions: the cookie carries a random id; only its sha-256 is stored. */
export interface SessionStore {
  /** Start a session for an API token; returns the secret session id for the cookie. */
  create(tokenId: number, now: number): Promise<string>;
  /** The token behind a live session, or null (unknown, expired, or its token revoked). */
  resolve(sessionId: string, now: number): Promise<SessionPrincipal | null>;
  remove(sessionId: string): Promise<void>;
}

export const newSessionId = (): string => randomBytes(32).toString('base64url');
export const hashSessionId = (id: string): string => createHash('sha256').update(id).digest('hex');

export class SqliteSessionStore implements SessionStore {
  constructor(private readonly db: Db) {}

  async create(tokenId: number, now: number): Promise<string> {
    const id = newSessionId();
    this.db.transaction((tx) => {
      // Opportunistic clean-up keeps the table small without a timer.
      tx.delete(sessions).where(lte(sessions.expiresAt, now)).run();
      tx.insert(sessions).values({ sessionHash: hashSessionId(id), tokenId, createdAt: now, expiresAt: now + SESSION_TTL_MS }).run();
    });
    return id;
  }

  async resolve(sessionId: string, now: number): Promise<SessionPrincipal | null> {
    const row = this.db
      .select({ tokenId: apiTokens.id, name: apiTokens.name, role: apiTokens.role })
      .from(sessions)
      .innerJoin(apiTokens, eq(apiTokens.id, sessions.tokenId))
      .where(and(eq(sessions.sessionHash, hashSessionId(sessionId)), gt(sessions.expiresAt, now), isNull(apiTokens.revokedAt)))
      .get();
    return row ? { tokenId: row.tokenId, name: row.name, role: row.role as Role } : null;
  }

  async remove(sessionId: string): Promise<void> {
    this.db.delete(sessions).where(eq(sessions.sessionHash, hashSessionId(sessionId))).run();
  }
}

/** For stores without a sessions table (e.g. a future PostgreSQL store before it grows one). */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, { tokenId: number; expiresAt: number }>();

  constructor(private readonly store: Store) {}

  async create(tokenId: number, now: number): Promise<string> {
    const id = newSessionId();
    this.sessions.set(hashSessionId(id), { tokenId, expiresAt: now + SESSION_TTL_MS });
    return id;
  }

  async resolve(sessionId: string, now: number): Promise<SessionPrincipal | null> {
    const session = this.sessions.get(hashSessionId(sessionId));
    if (!session || session.expiresAt <= now) return null;
    const token = (await this.store.listApiTokens()).find((t) => t.id === session.tokenId && t.revokedAt === null);
    return token ? { tokenId: token.id, name: token.name, role: token.role } : null;
  }

  async remove(sessionId: string): Promise<void> {
    this.sessions.delete(hashSessionId(sessionId));
  }
}

function isDb(value: unknown): value is Db {
  return typeof value === 'object' && value !== null && '$client' in value && 'select' in value;
}

/**
 * The session store for a store. The SQLite store keeps its drizzle handle private; sessions share
 * that database (same file, same migrations), so we borrow it rather than open a second connection.
 */
export function sessionStoreFor(store: Store): SessionStore {
  const db: unknown = (store as unknown as { db?: unknown }).db;
  return isDb(db) ? new SqliteSessionStore(db) : new MemorySessionStore(store);
}
