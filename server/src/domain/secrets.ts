import { createHash, randomBytes } from 'node:crypto';

/**
 * Secrets are 32 random bytes (256 bits) behind a readable prefix. Only their sha-256 is stored:
 * with this much entropy a fast hash is safe, and it keeps per-request authentication cheap.
 */
export const API_TOKEN_PREFIX = 'sy_api_';
export const SDK_KEY_PREFIX = 'sy_sdk_';
export const CLIENT_KEY_PREFIX = 'sy_client_';
/** Secure-mode secrets (an environment's HMAC key for signing user keys). */
export const SECURE_MODE_PREFIX = 'sy_sign_';

export function newSecret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** What may be shown of a secret after creation: enough to recognise it, useless to an attacker. */
export function displayPrefix(secret: string): string {
  return `${secret.slice(0, 11)}…`;
}

/** Dashboard session ids: random, and only their sha-256 is stored. */
export const newSessionId = (): string => randomBytes(32).toString('base64url');
export const hashSessionId = (id: string): string => hashSecret(id);
