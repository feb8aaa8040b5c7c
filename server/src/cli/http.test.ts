import { describe, expect, it } from 'vitest';
import { ApiError, UnreachableError, UsageError } from './errors.js';
import { createApiClient, describeNetworkError, resolveBaseUrl } from './http.js';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

function fakeFetch(status: number, body: string, seen: Seen[] = []): typeof fetch {
  return async (input, init) => {
    seen.push({ url: String(input), method: init?.method ?? 'GET', headers: init?.headers as Record<string, string>, body: init?.body as string | undefined });
    return new Response(body, { status, headers: { 'content-type': 'application/json' } });
  };
}

const client = (doFetch: typeof fetch, token: string | undefined) => createApiClient({ baseUrl: 'http://sy.test/base', token, version: '1.2.3', fetch: doFetch });

describe('resolveBaseUrl', () => {
  it('prefers --url, then SWITCHYARD_URL, then the default', () => {
    expect(resolveBaseUrl('http://a:1/', { SWITCHYARD_URL: 'http://b:2' })).toBe('http://a:1');
    expect(resolveBaseUrl(undefined, { SWITCHYARD_URL: 'https://b:2/prefix/' })).toBe('https://b:2/prefix');
    expect(resolveBaseUrl(undefined, {})).toBe('http://127.0.0.1:4242');
  });
  it('rejects what is not an http URL as a usage error', () => {
    expect(() => resolveBaseUrl('localhost:4242', {})).toThrow(UsageError);
    expect(() => resolveBaseUrl(undefined, { SWITCHYARD_URL: 'not a url' })).toThrow(/SWITCHYARD_URL is not a URL/);
  });
});

describe('createApiClient', () => {
  it('sends the token, the cli source header and JSON only when there is a body', async () => {
    const seen: Seen[] = [];
    const api = client(fakeFetch(200, '{"ok":true}', seen), 'secret');
    await api.request('POST', '/api/flags', { body: { key: 'a' } });
    await api.request('GET', '/api/flags', { query: { tag: 'x y', env: undefined } });
    expect(seen[0]).toMatchObject({ url: 'http://sy.test/base/api/flags', method: 'POST', body: '{"key":"a"}' });
    expect(seen[0]!.headers).toMatchObject({ authorization: 'Bearer secret', 'x-switchyard-source': 'cli', 'content-type': 'application/json', 'user-agent': 'switchyard-cli/1.2.3' });
    expect(seen[1]!.url).toBe('http://sy.test/base/api/flags?tag=x+y');
    expect(seen[1]!.headers['content-type']).toBeUndefined();
  });

  it('returns the body text exactly as sent', async () => {
    const text = '{ "items" : [] }';
    const response = await client(fakeFetch(200, text), 'secret').request('GET', '/api/flags');
    expect(response).toEqual({ status: 200, data: { items: [] }, text });
  });

  it("turns an error response into an ApiError with the server's message and every detail", async () => {
    const body = JSON.stringify({ error: { code: 'validation_failed', message: 'body.key: bad (and 1 more)', details: [{ path: 'body.key', message: 'bad' }, { path: 'body.name', message: 'too long' }] } });
    const error = await client(fakeFetch(400, body), 'secret').request('POST', '/api/flags').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'validation_failed', message: 'body.key: bad (and 1 more)', body, details: ['body.key: bad', 'body.name: too long'] });
  });

  it('hints at SWITCHYARD_TOKEN on a 401 without a token', async () => {
    const body = JSON.stringify({ error: { code: 'unauthorized', message: 'missing credentials' } });
    const error = await client(fakeFetch(401, body), undefined).request('GET', '/api/flags').catch((e: unknown) => e);
    expect((error as Error).message).toBe('missing credentials (set SWITCHYARD_TOKEN or pass --token)');
  });

  it('says so when the answer is not from a Switchyard server', async () => {
    const error = await client(fakeFetch(404, '<html>nope</html>'), 'secret').request('GET', '/api/flags').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 404, message: expect.stringContaining('without a Switchyard error') });
    const ok = await client(fakeFetch(200, '<html>hi</html>'), 'secret').request('GET', '/api/flags').catch((e: unknown) => e);
    expect((ok as Error).message).toContain('something other than JSON');
  });

  it('turns a network failure into an UnreachableError naming the URL', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    const error = await client(async () => Promise.reject(refused), 'secret').request('GET', '/api/flags').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnreachableError);
    expect((error as Error).message).toBe('cannot reach the Switchyard server at http://sy.test/base (connection refused); is it running? Set SWITCHYARD_URL or pass --url');
  });
});

describe('describeNetworkError', () => {
  it('names a timeout', () => {
    expect(describeNetworkError(new DOMException('x', 'TimeoutError'), 'http://a', 30_000)).toBe('the Switchyard server at http://a did not answer within 30s');
  });
  it('names an unknown host', () => {
    const error = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('x'), { code: 'ENOTFOUND' }) });
    expect(describeNetworkError(error, 'http://a', 1000)).toContain('(host not found)');
  });
});
