import { SwitchyardError } from '../errors.js';

/** Why a request gave no usable answer; `retryAfterMs` honours a server's `Retry-After`. */
export interface RequestFailure {
  readonly kind: 'failed';
  readonly error: SwitchyardError;
  readonly retryAfterMs?: number;
}

export function authHeaders(sdkKey: string, accept: string): Record<string, string> {
  return { Authorization: `Bearer ${sdkKey}`, Accept: accept };
}

function retryAfterMs(response: Response, now: number): number | undefined {
  const header = response.headers.get('retry-after');
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A non-success response as a failure; 401/403 are `UNAUTHORIZED` (a bad key: stop retrying). */
export function httpFailure(response: Response, what: string, now: number): RequestFailure {
  // Free the connection: nobody will read this body.
  response.body?.cancel().catch(() => {});
  const unauthorized = response.status === 401 || response.status === 403;
  const error = unauthorized
    ? new SwitchyardError('UNAUTHORIZED', `${what}: the server rejected the SDK key (HTTP ${response.status})`, response.status)
    : new SwitchyardError('HTTP', `${what}: HTTP ${response.status}`, response.status);
  const retry = retryAfterMs(response, now);
  return retry === undefined ? { kind: 'failed', error } : { kind: 'failed', error, retryAfterMs: retry };
}

export function networkFailure(what: string, cause: unknown): RequestFailure {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return { kind: 'failed', error: new SwitchyardError('NETWORK', `${what}: ${detail}`, undefined, { cause }) };
}
