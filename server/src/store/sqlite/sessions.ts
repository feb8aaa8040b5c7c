import { and, eq, gt, isNull, lte } from 'drizzle-orm';
import type { Db } from './connection.js';
import { apiTokens, sessions } from './schema.js';
import { SESSION_TTL_MS, hashSessionId, newSessionId, type SessionPrincipal, type SessionStore } from '../../services/sessions.js';
import type { Role } from '../ports.js';

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
