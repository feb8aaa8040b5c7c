import { createHash, randomBytes } from 'node:crypto';
import type { Role } from '../store/ports.js';

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
