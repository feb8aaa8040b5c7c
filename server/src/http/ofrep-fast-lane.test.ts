import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFlag, createTestApp, setStage, type TestContext } from '../testing/test-app.js';
import { fastLaneServer, ofrepFastLane, replayThrough } from './ofrep-fast-lane.js';
import { OFREP_SINGLE_ROUTE } from './ofrep.routes.js';

/**
 * The OFREP fast lane answers single evaluations outside Fastify. These tests hold it to the
 * route: every request below gets the same status, body and headers over a real socket (where the
 * lane may take it) as through `app.inject` (the Fastify route, which the lane never sees).
 */

let t: TestContext;
let url: string;
let sdk: string;
let client: string;

interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sent with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers of the connection, not of the answer. */
const CONNECTION = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);
const answerHeaders = (headers: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(headers)
      .filter(([name, value]) => !CONNECTION.has(name) && value !== undefined)
      .map(([name, value]): [string, string] => [name, String(value)])
      .sort(([a], [b]) => a.localeCompare(b)),
  );

function overSocket(base: string, sent: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = sent.body === undefined ? undefined : Buffer.from(sent.body);
    const headers = { ...(sent.headers ?? {}), ...(body && !sent.chunked ? { 'content-length': String(body.length) } : {}) };
    const req = httpRequest(`${base}${sent.path}`, { method: sent.method ?? 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: answerHeaders(res.headers), body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body && sent.chunked) {
      req.write(body.subarray(0, 5));
      req.end(body.subarray(5));
    } else req.end(body);
  });
}

async function injected(sent: Sent): Promise<Answer> {
  const body = sent.body === undefined ? undefined : Buffer.from(sent.body);
  const res = await t.app.inject({ method: (sent.method ?? 'POST') as 'POST', url: sent.path, headers: { ...(sent.headers ?? {}), ...(body ? { 'content-length': String(body.length) } : {}) }, payload: body });
  return { status: res.statusCode, headers: answerHeaders(res.headers), body: res.body };
}

const json = { 'content-type': 'application/json' };
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const evaluate = (key: string, context: unknown, headers: Record<string, string> = {}): Sent => ({ path: `/ofrep/v1/evaluate/flags/${key}`, headers: { ...json, ...auth(sdk), ...headers }, body: JSON.stringify({ context }) });

beforeAll(async () => {
  t = await createTestApp();
  sdk = await t.sdkKey('production');
  const created = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: 'web', environment: 'production', kind: 'client' } });
  client = created.json<{ key: string }>().key;
  await createFlag(t, 'checkout');
  await createFlag(t, 'color', { type: 'string', variations: [{ key: 'blue', value: 'blue' }, { key: 'green', value: 'green' }] });
  await t.request(t.adminToken, { method: 'PATCH', url: '/api/segments/internal', payload: { version: 1, included: ['dogfooder'] } });
  await setStage(t, 'checkout', 'production', '10%');
  await t.request(t.adminToken, {
    method: 'PATCH',
    url: '/api/flags/color/environments/production',
    payload: { version: 1, on: true, rules: [{ id: 'plan', clauses: [{ attribute: 'company.plan', operator: 'in', values: ['pro'] }], serve: { variation: 'green' } }] },
  });
  url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  // The key cached and the rules compiled, as on a server that has answered before.
  expect((await overSocket(url, evaluate('checkout', { targetingKey: 'warm-up' }))).status).toBe(200);
});
afterAll(async () => {
  await t.close();
});

/** Built when run: the keys exist only once `beforeAll` has made them. */
const CASES: [string, () => Sent][] = [
  ['a rollout, in and out', () => evaluate('checkout', { targetingKey: 'user-1' })],
  ['a rollout, another user', () => evaluate('checkout', { targetingKey: 'user-2', plan: 'pro' })],
  ['a dogfood member', () => evaluate('checkout', { targetingKey: 'dogfooder' })],
  ['a nested attribute a rule matches', () => evaluate('color', { targetingKey: 'u1', company: { plan: 'pro', size: { seats: 3 } } })],
  ['userId beside targetingKey', () => evaluate('color', { targetingKey: 'u1', userId: 'u2', company: { plan: 'free' } })],
  ['an unknown flag (404 FLAG_NOT_FOUND)', () => evaluate('nope', { targetingKey: 'u1' })],
  ['a rollout without a targeting key (400 TARGETING_KEY_MISSING)', () => evaluate('checkout', {})],
  ['an empty targeting key', () => evaluate('checkout', { targetingKey: '' })],
  ['no context at all', () => ({ ...evaluate('checkout', {}), body: '{}' })],
  ['a charset on the JSON type', () => evaluate('checkout', { targetingKey: 'u1' }, { 'content-type': 'application/json; charset=utf-8' })],
  ['a secure-mode signature attribute (removed before evaluating)', () => evaluate('checkout', { targetingKey: 'u1', switchyardSignature: 'abc' })],
  ['malformed JSON (PARSE_ERROR)', () => ({ ...evaluate('checkout', {}), body: '{"context": {' })],
  ['a JSON array', () => ({ ...evaluate('checkout', {}), body: '[1,2]' })],
  ['JSON null', () => ({ ...evaluate('checkout', {}), body: 'null' })],
  ['an unknown top-level field', () => ({ ...evaluate('checkout', {}), body: '{"context":{},"extra":1}' })],
  ['a context that is a string', () => ({ ...evaluate('checkout', {}), body: '{"context":"u1"}' })],
  ['too deep a context (INVALID_CONTEXT)', () => evaluate('checkout', { targetingKey: 'u', a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } })],
  ['too many attributes', () => evaluate('checkout', Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`a${i}`, i])))],
  ['an over-long string', () => evaluate('checkout', { targetingKey: 'x'.repeat(1025) })],
  ['__proto__ in the body', () => ({ ...evaluate('checkout', {}), body: '{"context":{"__proto__":{"x":1}}}' })],
  ['constructor.prototype in the body', () => ({ ...evaluate('checkout', {}), body: '{"context":{"constructor":{"prototype":{"x":1}}}}' })],
  ['an empty body', () => ({ ...evaluate('checkout', {}), body: '' })],
  ['a body over 64 KB (413)', () => evaluate('checkout', { targetingKey: 'u', pad: Array.from({ length: 100 }, () => 'y'.repeat(1000)) })],
  ['a body that is not JSON', () => ({ ...evaluate('checkout', {}), headers: { ...auth(sdk), 'content-type': 'text/plain' }, body: 'hello' })],
  ['a chunked body', () => ({ ...evaluate('checkout', { targetingKey: 'u1' }), chunked: true })],
  ['no credentials (401)', () => ({ ...evaluate('checkout', { targetingKey: 'u1' }), headers: json })],
  ['an unknown key (401)', () => evaluate('checkout', { targetingKey: 'u1' }, auth('sy_sdk_not_a_real_key_0000000000000000'))],
  ['a client key (403: bulk only)', () => ({ ...evaluate('checkout', { targetingKey: 'u1' }), headers: { ...json, authorization: `Bearer ${client}` } })],
  ['an API token (403)', () => ({ ...evaluate('checkout', { targetingKey: 'u1' }), headers: { ...json, ...auth('sy_api_test_admin_token_0123456789abcdefghijklmnop') } })],
  ['a lower-case bearer scheme', () => evaluate('checkout', { targetingKey: 'u1' }, { authorization: `bearer ${sdk}` })],
  ['a percent-encoded key', () => ({ ...evaluate('checkout', { targetingKey: 'u1' }), path: '/ofrep/v1/evaluate/flags/check%6Fut' })],
  ['a query string', () => ({ ...evaluate('checkout', { targetingKey: 'u1' }), path: '/ofrep/v1/evaluate/flags/checkout?x=1' })],
  ['a key over 200 characters', () => evaluate('k'.repeat(201), { targetingKey: 'u1' })],
  ['a trailing slash', () => ({ ...evaluate('checkout', { targetingKey: 'u1' }), path: '/ofrep/v1/evaluate/flags/checkout/' })],
  ['GET instead of POST', () => ({ path: '/ofrep/v1/evaluate/flags/checkout', method: 'GET', headers: auth(sdk) })],
  ['a CORS preflight', () => ({ path: '/ofrep/v1/evaluate/flags/checkout', method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })],
];

describe('OFREP single evaluation over a socket answers exactly as the Fastify route', () => {
  it.each(CASES)('%s', async (_name, build) => {
    const sent = build();
    const [socket, route] = [await overSocket(url, sent), await injected(sent)];
    expect(socket).toEqual(route);
  });

  it('counts what the lane answers in the route’s request metrics', async () => {
    const metrics = async () => (await t.request(t.adminToken, { method: 'GET', url: '/metrics' })).body;
    const count = async () => Number(new RegExp(`switchyard_http_requests_total\\{method="POST",route="${OFREP_SINGLE_ROUTE.replace(/[/]/g, '\\/')}",status="200"\\} (\\d+)`).exec(await metrics())?.[1] ?? 0);
    const before = await count();
    for (let i = 0; i < 5; i++) expect((await overSocket(url, evaluate('checkout', { targetingKey: `m${i}` }))).status).toBe(200);
    expect(await count()).toBe(before + 5);
  });
});

describe('which requests the lane takes', () => {
  let laneUrl: string;
  const seen = { fastify: 0, replayed: 0 };
  let failing = false;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const replay = replayThrough(t.app);
    const lane = ofrepFastLane({
      flagsOf: (environment) => {
        const flags = t.services.ruleSets.compiledNow(environment);
        if (!failing || !flags) return flags;
        // A compiled flag that throws when looked up: stands for any bug on the lane's path.
        return new Proxy(flags, { get: (target, name) => (name === 'get' ? () => { throw new Error('boom'); } : Reflect.get(target, name, target)) });
      },
      sdkKey: (authorization) => t.app.cachedSdkKey(authorization),
      stats: t.app.requestStats.route('POST', OFREP_SINGLE_ROUTE),
      replay: (request, response, body) => {
        seen.replayed++;
        replay(request, response, body);
      },
      closing: () => false,
    });
    const server = fastLaneServer(() => lane)((request: IncomingMessage, response: ServerResponse) => {
      seen.fastify++;
      t.app.routing(request, response);
    }, {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    laneUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    stop = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(async () => {
    await stop();
  });

  async function route(sent: Sent): Promise<'lane' | 'fastify' | 'replayed'> {
    const before = { ...seen };
    const answer = await overSocket(laneUrl, sent);
    expect(answer).toEqual(await injected(sent));
    if (seen.replayed > before.replayed) return 'replayed';
    return seen.fastify > before.fastify ? 'fastify' : 'lane';
  }

  it('takes evaluations by a cached server key, also those answering 404 and 400', async () => {
    expect(await route(evaluate('checkout', { targetingKey: 'u1' }))).toBe('lane');
    expect(await route(evaluate('nope', { targetingKey: 'u1' }))).toBe('lane');
    expect(await route(evaluate('checkout', {}))).toBe('lane');
    expect(await route(evaluate('checkout', { targetingKey: 'u1' }, { 'content-type': 'Application/JSON; charset=utf-8' }))).toBe('lane');
  });

  it('replays bodies that fail to parse or check through Fastify', async () => {
    expect(await route({ ...evaluate('checkout', {}), body: '{"context": {' })).toBe('replayed');
    expect(await route({ ...evaluate('checkout', {}), body: '{"context":{"__proto__":{"x":1}}}' })).toBe('replayed');
    expect(await route(evaluate('checkout', { targetingKey: 'x'.repeat(1025) }))).toBe('replayed');
  });

  it('replays a request whose evaluation throws (the route answers it as it would): nothing escapes to crash the process', async () => {
    failing = true;
    try {
      expect(await route(evaluate('checkout', { targetingKey: 'u1' }))).toBe('replayed');
    } finally {
      failing = false;
    }
  });

  it('leaves everything else to Fastify without reading it', async () => {
    expect(await route({ ...evaluate('checkout', { targetingKey: 'u1' }), headers: json })).toBe('fastify');
    expect(await route({ ...evaluate('checkout', { targetingKey: 'u1' }), headers: { ...json, authorization: `Bearer ${client}` } })).toBe('fastify');
    expect(await route({ ...evaluate('checkout', { targetingKey: 'u1' }), chunked: true })).toBe('fastify');
    expect(await route({ ...evaluate('checkout', { targetingKey: 'u1' }), path: '/ofrep/v1/evaluate/flags/check%6Fut' })).toBe('fastify');
    expect(await route({ ...evaluate('checkout', { targetingKey: 'u1' }), headers: { ...auth(sdk), 'content-type': 'text/plain' } })).toBe('fastify');
    expect(await route(evaluate('checkout', { targetingKey: 'u', pad: Array.from({ length: 100 }, () => 'y'.repeat(1000)) }))).toBe('fastify');
    expect(await route({ path: '/healthz', method: 'GET' })).toBe('fastify');
  });

  it('leaves a key it has not cached to Fastify, which looks it up; the next request takes the lane', async () => {
    const created = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: 'fresh', environment: 'production' } });
    const fresh = created.json<{ key: string }>().key;
    expect(await route(evaluate('checkout', { targetingKey: 'u1' }, auth(fresh)))).toBe('fastify');
    expect(await route(evaluate('checkout', { targetingKey: 'u1' }, auth(fresh)))).toBe('lane');
    // Revoked: the cache is cleared, Fastify refuses it.
    const id = created.json<{ id: number }>().id;
    expect((await t.request(t.adminToken, { method: 'DELETE', url: `/api/sdk-keys/${id}` })).statusCode).toBeLessThan(300);
    await vi.waitFor(() => expect(t.app.cachedSdkKey(`Bearer ${fresh}`)).toBeUndefined());
    expect(await route(evaluate('checkout', { targetingKey: 'u1' }, auth(fresh)))).toBe('fastify');
  });
});
