import { SwitchyardError } from '../errors.js';
import type { FetchLike } from '../options.js';
import { isRuleSet } from '../store.js';
import type { RuleSet } from '../types.js';
import { authHeaders, httpFailure, networkFailure, type RequestFailure } from './http.js';

export type PollResult =
  | { readonly kind: 'rules'; readonly ruleSet: RuleSet; readonly etag: string | undefined }
  | { readonly kind: 'not-modified' }
  | RequestFailure;

export interface PollRequest {
  fetch: FetchLike;
  baseUrl: string;
  sdkKey: string;
  /** The `ETag` of the last rule set received by polling; sent as `If-None-Match`. */
  etag: string | undefined;
  signal: AbortSignal;
  now: number;
}

/** `GET {url}/api/sdk/rules` once. Never throws; an aborted request reports a NETWORK failure. */
export async function fetchRules(request: PollRequest): Promise<PollResult> {
  const headers = authHeaders(request.sdkKey, 'application/json');
  if (request.etag !== undefined) headers['If-None-Match'] = request.etag;
  let response: Response;
  try {
    response = await request.fetch(`${request.baseUrl}/api/sdk/rules`, { method: 'GET', headers, signal: request.signal });
  } catch (error) {
    return networkFailure('polling', error);
  }
  if (response.status === 304) {
    response.body?.cancel().catch(() => {});
    return { kind: 'not-modified' };
  }
  if (response.status !== 200) return httpFailure(response, 'polling', request.now);
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    if (request.signal.aborted) return networkFailure('polling', error);
    return { kind: 'failed', error: new SwitchyardError('INVALID_DATA', 'polling: the response is not JSON', 200, { cause: error }) };
  }
  if (!isRuleSet(body)) {
    return { kind: 'failed', error: new SwitchyardError('INVALID_DATA', 'polling: the response is not a rule set', 200) };
  }
  return { kind: 'rules', ruleSet: body, etag: response.headers.get('etag') ?? undefined };
}
