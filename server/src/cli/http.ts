import { ApiError, UnreachableError, UsageError } from './errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:4242';
const DEFAULT_TIMEOUT_MS = 30_000;

export interface ApiResponse<T> {
  status: number;
  data: T;
  /** The body exactly as the server sent it. */
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
}

export interface ApiClient {
  readonly baseUrl: string;
  request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
}

export interface ClientOptions {
  baseUrl: string;
  token: string | undefined;
  version: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Who is calling, for the audit log (`X-Switchyard-Source`) and the user agent: the CLI, or `switchyard mcp`. */
  source?: 'cli' | 'mcp';
}

/** `--url`, else `SWITCHYARD_URL`, else the default; a URL that cannot work is a usage error. */
export function resolveBaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw = flag ?? (env.SWITCHYARD_URL || DEFAULT_URL);
  const source = flag !== undefined ? '--url' : 'SWITCHYARD_URL';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${source} is not a URL: ${JSON.stringify(raw)}`, 'Use the server address, e.g. http://127.0.0.1:4242');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${source} must be an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  // Keep a path prefix (a server behind a reverse proxy at /switchyard), drop the trailing slash.
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function createApiClient(options: ClientOptions): ApiClient {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const source = options.source ?? 'cli';
  return {
    baseUrl: options.baseUrl,
    async request<T>(method: string, path: string, { body, query }: RequestOptions = {}): Promise<ApiResponse<T>> {
      const url = new URL(options.baseUrl + path);
      for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
      const headers: Record<string, string> = {
        accept: 'application/json',
        'user-agent': `switchyard-${source}/${options.version}`,
        // Recorded as the source of every change in the audit log.
        'x-switchyard-source': source,
      };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      // Only with a body: Fastify rejects an empty body that claims to be JSON.
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await doFetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw new UnreachableError(describeNetworkError(error, options.baseUrl, timeoutMs));
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw new UnreachableError(describeNetworkError(error, options.baseUrl, timeoutMs));
      }
      const data = parseJson(text);
      if (!response.ok) throw toApiError(response, text, data, options.token !== undefined && options.token !== '');
      if (data === undefined) {
        throw new ApiError(response.status, 'not_json', `${options.baseUrl} answered ${method} ${path} with something other than JSON; is it a Switchyard server?`, text);
      }
      return { status: response.status, data: data as T, text };
    },
  };
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toApiError(response: Response, text: string, data: unknown, hadToken: boolean): ApiError {
  const error = isRecord(data) && isRecord(data.error) ? data.error : undefined;
  if (error && typeof error.message === 'string') {
    const code = typeof error.code === 'string' ? error.code : 'error';
    let message = error.message;
    if (response.status === 401 && !hadToken) message += ' (set SWITCHYARD_TOKEN or pass --token)';
    return new ApiError(response.status, code, message, text, listDetails(error.details));
  }
  const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  return new ApiError(response.status, 'http_error', `server answered ${status} without a Switchyard error; is the URL right?`, text);
}

/** `[{ path, message }, …]` → `path: message` lines, only when there are several (the message names the first). */
function listDetails(details: unknown): string[] {
  if (!Array.isArray(details) || details.length < 2) return [];
  return details.filter(isRecord).map((d) => `${String(d.path)}: ${String(d.message)}`);
}

/** Name the URL and the likely cause; never a stack trace. */
export function describeNetworkError(error: unknown, baseUrl: string, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `the Switchyard server at ${baseUrl} did not answer within ${timeoutMs / 1000}s`;
  }
  const cause = error instanceof Error && isRecord(error.cause) ? error.cause : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const reason =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'host not found'
        : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
          ? 'connection reset'
          : (code ?? (typeof cause?.message === 'string' ? cause.message : error instanceof Error ? error.message : String(error)));
  return `cannot reach the Switchyard server at ${baseUrl} (${reason}); is it running? Set SWITCHYARD_URL or pass --url`;
}
