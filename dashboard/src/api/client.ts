import type { ConflictDetails, ErrorDetail } from './types.js';

/** An API failure in the server's one error shape; `network` when the server could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get fieldErrors(): ErrorDetail[] {
    return Array.isArray(this.details) ? (this.details as ErrorDetail[]).filter((d) => typeof d?.path === 'string') : [];
  }

  get conflict(): ConflictDetails | undefined {
    return this.code === 'version_conflict' && this.details && typeof this.details === 'object' ? (this.details as ConflictDetails) : undefined;
  }
}

export const NETWORK_ERROR = 'network';

type Listener = (reachable: boolean) => void;
const reachability = new Set<Listener>();
/** Tell the app whether the server answered (drives the "server unreachable" banner). */
export function onReachability(listener: Listener): () => void {
  reachability.add(listener);
  return () => reachability.delete(listener);
}
const report = (reachable: boolean) => reachability.forEach((l) => l(reachable));

let onUnauthorized: (() => void) | undefined;
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

/** The longest comment the server stores with a change. */
export const COMMENT_LIMIT = 4000;

export interface WriteOptions {
  /**
   * Why: stored with the change's audit entry. Sent as `X-Switchyard-Message`, percent-encoded
   * (a header carries Latin-1 only, and fetch refuses anything else), so every write can carry one.
   */
  message?: string;
}

/**
 * JSON request with the session cookie. Every request carries the CSRF header: the server demands
 * it on cookie-authenticated writes, and a cross-site page cannot add it.
 */
export async function api<T>(method: string, path: string, body?: unknown, options: WriteOptions = {}): Promise<T> {
  let response: Response;
  const message = options.message?.trim();
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: {
        accept: 'application/json',
        'x-switchyard-csrf': '1',
        'x-switchyard-source': 'dashboard',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(message ? { 'x-switchyard-message': encodeURIComponent(message) } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    report(false);
    throw new ApiError(0, NETWORK_ERROR, 'The Switchyard server cannot be reached. Check that it is running.');
  }
  if (response.status >= 502 && response.status <= 504) {
    report(false);
    throw new ApiError(response.status, NETWORK_ERROR, 'The Switchyard server cannot be reached. Check that it is running.');
  }
  report(true);
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    const failure = new ApiError(response.status, error?.code ?? 'http_' + response.status, error?.message ?? `request failed (${response.status})`, error?.details);
    if (response.status === 401 && path !== '/api/session') onUnauthorized?.();
    throw failure;
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown, options?: WriteOptions) => api<T>('POST', path, body ?? {}, options);
export const patch = <T>(path: string, body: unknown, options?: WriteOptions) => api<T>('PATCH', path, body, options);
export const del = <T>(path: string, body?: unknown, options?: WriteOptions) => api<T>('DELETE', path, body, options);

export const enc = encodeURIComponent;
