import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintTables, testDialect } from '../testing/databases.js';
import { MAX_URL_TEXT, PROTOTYPE_NAMES, RAW_BODIES, fromSchema, hostileUrlString, hostileValue, toJsonText } from '../testing/hostile-input.js';
import { describeApi, fillPath, isEventStream, isSdkRoute, type ApiDescription, type Operation } from '../testing/openapi-operations.js';
import { SNAPSHOT_TABLES, createFlag, createTestApp, type TestContext } from '../testing/test-app.js';

/**
 * Fuzzes every route and method of the app's own OpenAPI document with hostile requests, sent with
 * valid credentials (an admin token; an SDK key for SDK routes) so authorisation never hides a bug:
 * wrong types, huge values, 10,000-level nesting, prototype keys, NUL bytes and lone surrogates,
 * path traversal, bad JSON and wrong content types. Every response must be < 500 and arrive within
 * 5 s, and a rejected (4xx) request must leave the database exactly as it was.
 *
 * Replayable: the requests are drawn from a fixed seed (SWITCHYARD_FUZZ_SEED to change it,
 * SWITCHYARD_FUZZ_RUNS for the count); a failure prints the seed and each failing request.
 * Every request is checked against a digest of every table taken just before and just after it.
 */

const SEED = Number(process.env.SWITCHYARD_FUZZ_SEED ?? 20_261_111);
/** PostgreSQL round trips make each request and dump ~3× slower: the same seed, fewer requests. */
const RUNS = Number(process.env.SWITCHYARD_FUZZ_RUNS ?? (testDialect() === 'postgres' ? 2_000 : 2_400));
/** Successful writes change state (a deleted flag, a revoked key): start over on a fresh app this often. */
const FRESH_APP_EVERY = 300;
const REQUEST_TIMEOUT_MS = 5_000;
const SDK_ENVIRONMENT = 'production';
/** Every table a request can write. */
const TABLES = [...SNAPSHOT_TABLES, 'webhooks', 'sessions', 'release_plans', 'release_events', 'release_metrics', 'release_metric_buckets'];
/** Touched by authentication itself, not by the request's write. */
const IGNORED_COLUMNS = ['last_used_at'];
const fingerprint = (fx: Fixture) => fingerprintTables(fx.t.db, TABLES, IGNORED_COLUMNS);

/** Path parameters that exist in the fixture, so requests reach the services, not just the router. */
const EXISTING: Record<string, readonly string[]> = {
  key: ['f', 'm', 'internal'],
  environment: ['production', 'staging', 'development'],
  id: ['1', '2', '3', '4'],
};

/** Already-encoded path segments that attack the router and the URL decoder. */
const RAW_SEGMENTS = ['..', '../..', '%2e%2e%2f', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%2E%2E%5C', '%', '%zz', '%00', 'a%00b', '%ED%A0%80', '%C0%AE%C0%AE', '.%00.', '0', '-1', '1.5', '2147483648', '9007199254740993', '1e3', ...PROTOTYPE_NAMES];

const CONTENT_TYPES = [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/vnd.api+json', '*/*', ''];

interface FuzzRequest {
  op: string;
  method: Operation['method'];
  url: string;
  headers: Record<string, string>;
  payload?: string;
  caller: 'admin' | 'sdk';
}

/** encodeURIComponent, except that lone surrogates become their (invalid) WTF-8 bytes instead of throwing. */
function encodeSegment(value: string): string {
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    else out += encodeURIComponent(ch);
  }
  return out;
}

const pathSegment = (name: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...(EXISTING[name] ?? ['f'])) },
    { weight: 3, arbitrary: hostileUrlString.map(encodeSegment) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
  );

function queryFor(op: Operation, api: ApiDescription): fc.Arbitrary<string> {
  const declared = op.queryParams.map(({ name, schema }) =>
    fc.option(fc.oneof(fromSchema(schema, api.resolve, 'shaped').map((v) => (typeof v === 'string' ? v : toJsonText(v)).slice(0, MAX_URL_TEXT)), hostileUrlString), { nil: undefined }).map((v) => (v === undefined ? '' : `${name}=${encodeSegment(v)}`)),
  );
  const params = fc.tuple(...declared).map((parts) => parts.filter(Boolean).join('&'));
  const junk = fc.oneof(fc.constantFrom('__proto__[x]=1', 'constructor=1', 'limit=1&limit=2', 'a=%', '%zz=1', 'q=%00'), hostileUrlString.map((v) => `${encodeSegment(v)}=${encodeSegment(v)}`));
  return fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 3, arbitrary: params }, { weight: 1, arbitrary: junk }).map((q) => (q ? `?${q}` : ''));
}

function bodyFor(op: Operation, api: ApiDescription): fc.Arbitrary<string | undefined> {
  const rawBody = fc.constantFrom(...RAW_BODIES);
  if (!op.body) return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: hostileValue.map(toJsonText) }, { weight: 1, arbitrary: rawBody });
  return fc.oneof(
    { weight: 2, arbitrary: fromSchema(op.body, api.resolve, 'minimal').map(toJsonText) },
    { weight: 3, arbitrary: fromSchema(op.body, api.resolve, 'shaped').map(toJsonText) },
    { weight: 4, arbitrary: fromSchema(op.body, api.resolve, 'hostile').map(toJsonText) },
    { weight: 2, arbitrary: rawBody },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.constantFrom('"1"', '2', 'W/"1"', '*', '"abc"', '"99999999999999999999"', '-1', '').map((v) => ({ 'if-match': v })) },
  { weight: 1, arbitrary: fc.constantFrom('0', '1', '999999999999999', '-1', '1e9', 'abc', '').map((v) => ({ 'last-event-id': v })) },
  { weight: 1, arbitrary: fc.constantFrom('system', 'release-guard', 'cli', '__proto__', 'x'.repeat(10_000)).map((v) => ({ 'x-switchyard-source': v })) },
  { weight: 1, arbitrary: fc.constantFrom('switchyard_session=__proto__', 'switchyard_session=%', 'switchyard_session=%00', 'switchyard_session=' + 'a'.repeat(5000)).map((v) => ({ cookie: v })) },
);

function requestFor(op: Operation, api: ApiDescription): fc.Arbitrary<FuzzRequest> {
  const contentType = fc.oneof({ weight: 12, arbitrary: fc.constant<string | undefined>('application/json') }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) });
  return fc
    .record({ params: fc.tuple(...op.pathParams.map(pathSegment)), query: queryFor(op, api), payload: bodyFor(op, api), contentType, extra: extraHeaders })
    .map(({ params, query, payload, contentType: type, extra }) => {
      const url = fillPath(op.path, Object.fromEntries(op.pathParams.map((name, i) => [name, params[i]!]))) + query;
      const headers: Record<string, string> = { ...extra, ...(payload !== undefined && type !== undefined ? { 'content-type': type } : {}) };
      return { op: op.id, method: op.method, url, headers, ...(payload !== undefined ? { payload } : {}), caller: isSdkRoute(op) ? 'sdk' : 'admin' };
    });
}

/** Every operation gets its share, interleaved, each from its own seed derived from SEED. */
function draw(api: ApiDescription): FuzzRequest[] {
  const perOperation = Math.ceil(RUNS / api.operations.length);
  const lists = api.operations.map((op, i) => fc.sample(requestFor(op, api), { seed: SEED + i, numRuns: perOperation }));
  const all: FuzzRequest[] = [];
  for (let i = 0; i < perOperation; i++) for (const list of lists) if (list[i]) all.push(list[i]!);
  return all;
}

interface Fixture {
  t: TestContext;
  sdk: string;
  port: number;
  /** Revoking either of these would turn every later request into a 401. */
  adminTokenId: number;
  sdkKeyId: number;
  logged: string[];
}

/** A fresh app with something to find: flags f (boolean) and m (string), release plans, a webhook, an SDK key, a real port for streams. */
async function fixture(): Promise<Fixture> {
  // No background work: the only writes are the requests' own, so the digests compare cleanly.
  // Errors the server logs are kept: a 5xx is reported with the error behind it.
  const logged: string[] = [];
  const logger = { level: 'error', stream: { write: (line: string) => void logged.push(line) } };
  const t = await createTestApp({ background: false, logger });
  await createFlag(t, 'f');
  await createFlag(t, 'm', { type: 'string', variations: [{ key: 'a', value: 'a' }, { key: 'b', value: 'b' }] });
  const sdk = await t.sdkKey(SDK_ENVIRONMENT);
  const admin = async (method: 'POST' | 'PUT', url: string, payload: object) => {
    const res = await t.request(t.adminToken, { method, url, payload });
    if (res.statusCode >= 300) throw new Error(`fixture ${method} ${url}: ${res.statusCode} ${res.body}`);
  };
  // Release plans to control (a draft in production, a running one in staging) and a webhook.
  await admin('PUT', '/api/flags/f/environments/production/release-plan', { strategy: 'guarded' });
  await admin('PUT', '/api/flags/f/environments/staging/release-plan', { strategy: 'guarded' });
  await admin('POST', '/api/flags/f/environments/staging/release-plan/start', {});
  await admin('POST', '/api/webhooks', { url: 'http://127.0.0.1:9/hook' });
  const list = async <T>(url: string) => (await t.request(t.adminToken, { method: 'GET', url })).json<{ items: T[] }>().items;
  // By name: the first start names its token "admin"; createTestApp names SDK keys sdk-<environment>.
  const adminTokenId = (await list<{ id: number; name: string }>('/api/tokens')).find((k) => k.name === 'admin')!.id;
  const sdkKeyId = (await list<{ id: number; name: string }>('/api/sdk-keys')).find((k) => k.name === `sdk-${SDK_ENVIRONMENT}`)!.id;
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return { t, sdk, port: (t.app.server.address() as AddressInfo).port, adminTokenId, sdkKeyId, logged };
}

interface Outcome {
  status: number;
  body: string;
}

/** Event streams never end: their answer is the status line, read over a real socket. */
function sendToStream(fx: Fixture, r: FuzzRequest, token: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    // With a body, say how long it is: a GET is not sent chunked, so the server would read it as the next request.
    const length = r.payload === undefined ? {} : { 'content-length': String(Buffer.byteLength(r.payload)) };
    const req = httpRequest({ host: '127.0.0.1', port: fx.port, method: r.method, path: r.url, headers: { ...r.headers, ...length, authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      // A stream that started is an answer: close it. An error body ends by itself.
      const done = () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        req.destroy();
      };
      if (res.statusCode === 200) done();
      else res.on('end', done);
    });
    req.on('error', reject);
    req.end(r.payload);
  });
}

async function send(fx: Fixture, r: FuzzRequest, stream: boolean): Promise<Outcome | 'timeout'> {
  const token = r.caller === 'sdk' ? fx.sdk : fx.t.adminToken;
  const pending = stream
    ? sendToStream(fx, r, token)
    : fx.t.request(token, { method: r.method, url: r.url, headers: r.headers, ...(r.payload !== undefined ? { payload: r.payload } : {}) }).then((res) => ({ status: res.statusCode, body: res.body }));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), REQUEST_TIMEOUT_MS)));
  try {
    return await Promise.race([pending, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
const describeRequest = (r: FuzzRequest) =>
  `${r.method} ${clip(JSON.stringify(r.url).slice(1, -1), 200)} as ${r.caller} headers=${clip(JSON.stringify(r.headers), 200)} body=${r.payload === undefined ? '(none)' : clip(JSON.stringify(r.payload))}`;

function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys(after).filter((table) => before[table] !== after[table]);
}

/**
 * Error bodies have one shape (OFREP's own failures aside: the protocol defines them, and gives
 * 401, 403 and 429 no body — the notification stream's hostile tickets get those).
 */
function hasErrorShape(op: string, status: number, body: string): boolean {
  if (op.includes('/ofrep/') && body === '' && (status === 401 || status === 403 || status === 429)) return true;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown }; errorCode?: unknown };
    if (op.includes('/ofrep/') && typeof parsed.errorCode === 'string') return true;
    return typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string' && parsed.error.message.length > 0;
  } catch {
    return false;
  }
}

describe(`OpenAPI fuzzer (seed ${SEED}, ${RUNS} requests, ${testDialect()})`, () => {
  let fx: Fixture;
  let api: ApiDescription;

  beforeAll(async () => {
    fx = await fixture();
    api = await describeApi(fx.t.app);
  });
  afterAll(async () => {
    await fx?.t.close();
  });

  it('sends hostile requests to every operation: no 5xx, no hang, no change from a rejected request', { timeout: 240_000 }, async () => {
    const requests = draw(api);
    const streams = new Set(api.operations.filter(isEventStream).map((op) => op.id));
    const failures: string[] = [];
    const statuses = new Map<string, Map<number, number>>();
    let sinceFresh = 0;
    let before = await fingerprint(fx);
    const ms = { sending: 0, dumping: 0 };
    const slowest: { ms: number; label: string }[] = [];
    const timed = async <T>(what: keyof typeof ms, work: Promise<T>): Promise<T> => {
      const start = performance.now();
      try {
        return await work;
      } finally {
        ms[what] += performance.now() - start;
      }
    };

    for (const [index, r] of requests.entries()) {
      if (sinceFresh >= FRESH_APP_EVERY) {
        await fx.t.close();
        fx = await fixture();
        before = await fingerprint(fx);
        sinceFresh = 0;
      }
      sinceFresh++;
      const started = performance.now();
      fx.logged.length = 0;
      const outcome = await timed('sending', send(fx, r, streams.has(r.op)));
      const label = `#${index} ${describeRequest(r)}`;
      slowest.push({ ms: performance.now() - started, label });
      if (slowest.length > 10) slowest.sort((a, b) => b.ms - a.ms).pop();
      if (outcome === 'timeout') {
        failures.push(`${label}\n    → no answer within ${REQUEST_TIMEOUT_MS} ms`);
        fx.t.close().catch(() => {});
        fx = await fixture();
        before = await fingerprint(fx);
        sinceFresh = 0;
        continue;
      }
      // Nothing but the requests writes (no background work), so this dump is also the next request's "before".
      const after = await timed('dumping', fingerprint(fx));
      const byStatus = statuses.get(r.op) ?? new Map<number, number>();
      statuses.set(r.op, byStatus.set(outcome.status, (byStatus.get(outcome.status) ?? 0) + 1));
      if (outcome.status >= 500) {
        const cause = fx.logged.map((line) => (JSON.parse(line) as { err?: { stack?: string } }).err?.stack ?? line).join('\n') || '(nothing logged)';
        failures.push(`${label}\n    → ${outcome.status} ${clip(outcome.body)}\n    server: ${clip(cause, 600)}`);
      } else if (outcome.status >= 400) {
        const changed = changedTables(before, after);
        if (changed.length > 0) failures.push(`${label}\n    → ${outcome.status} but changed ${changed.join(', ')}: ${clip(outcome.body)}`);
        if (!hasErrorShape(r.op, outcome.status, outcome.body)) failures.push(`${label}\n    → ${outcome.status} without the error shape: ${clip(outcome.body)}`);
      }
      before = after;
      if (outcome.status < 300 && r.method === 'DELETE') {
        const revoked = /^\/api\/(tokens|sdk-keys)\/[^/?]+/.test(r.url) ? (JSON.parse(outcome.body) as { id?: number }).id : undefined;
        if (revoked === (r.url.startsWith('/api/tokens/') ? fx.adminTokenId : fx.sdkKeyId)) sinceFresh = FRESH_APP_EVERY;
      }
    }

    const summary = [...statuses].map(([op, byStatus]) => `${op}: ${[...byStatus].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ')}`);
    const slow = slowest.sort((a, b) => b.ms - a.ms).map((x) => `${Math.round(x.ms)} ms ${clip(x.label, 160)}`);
    console.info(`fuzzer: ${requests.length} requests, ${Math.round(ms.sending)} ms sending, ${Math.round(ms.dumping)} ms fingerprinting the database\n${summary.join('\n')}\nslowest:\n${slow.join('\n')}`);
    const uncovered = api.operations.filter((op) => !statuses.has(op.id)).map((op) => op.id);
    expect(uncovered, 'operations the fuzzer never reached').toEqual([]);
    // Most requests are hostile, but some must get through, or the fuzzer only tests the validator.
    const succeeded = [...statuses.values()].filter((byStatus) => [...byStatus.keys()].some((status) => status < 300)).length;
    expect(succeeded, 'operations with at least one 2xx').toBeGreaterThan(api.operations.length / 2);
    if (failures.length > 0) {
      throw new Error(`fuzzer (seed ${SEED}, replay with SWITCHYARD_FUZZ_SEED=${SEED}): ${failures.length} of ${requests.length} requests failed:\n${failures.join('\n')}`);
    }
    expect(requests.length).toBeGreaterThanOrEqual(2_000);
  });
});

