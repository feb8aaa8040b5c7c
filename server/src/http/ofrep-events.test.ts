import { get } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SSE_WAIT_MS, SseReader } from '../testing/sse.js';
import { createFlag, createTestApp, setStage, type TestAppOptions, type TestContext } from '../testing/test-app.js';

/**
 * GET /ofrep/v1/events on a real listening server (EventSource is a long-lived HTTP response that
 * `app.inject` cannot read): who may hold a stream, for how long, and what it says when.
 */

const ENV = 'production';
const OTHER_ENV = 'staging';
const MAX_STREAMS_PER_KEY = 2;

let t: TestContext;
let url: string;
const open: AbortController[] = [];

interface Key {
  id: number;
  key: string;
  /** The advertised stream URL, from bulk evaluation. */
  events: string;
}

async function start(options: TestAppOptions = {}): Promise<void> {
  t = await createTestApp({ maxStreamsPerKey: MAX_STREAMS_PER_KEY, ...options });
  url = await t.app.listen({ port: 0, host: '127.0.0.1' });
}

async function createKey(environment: string, kind: 'client' | 'server' = 'client'): Promise<Key> {
  const res = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: `${kind}-${environment}-${open.length}`, environment, kind } });
  expect(res.statusCode).toBe(201);
  const { id, key } = res.json<{ id: number; key: string }>();
  const bulk = await t.request(key, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: {} } });
  expect(bulk.statusCode).toBe(200);
  return { id, key, events: bulk.json<{ eventStreams: { endpoint: { requestUri: string } }[] }>().eventStreams[0]!.endpoint.requestUri };
}

/** Opens the stream (aborted after the test); `response.status` says whether it was accepted. */
async function connect(key: Key, headers: Record<string, string> = {}): Promise<SseReader> {
  const controller = new AbortController();
  open.push(controller);
  return new SseReader(await fetch(`${url}${key.events}`, { headers, signal: controller.signal }));
}

/** The status a stream request from another local address gets (the stream is then closed). */
function statusFrom(localAddress: string, key: Key): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(`${url}${key.events}`, { localAddress }, (response) => {
      resolve(response.statusCode ?? 0);
      request.destroy();
    });
    request.on('error', reject);
  });
}

/** The environment's rule-set version, as a server key sees it. */
async function version(environment: string): Promise<number> {
  const res = await t.request(await t.sdkKey(environment), { method: 'GET', url: '/api/sdk/rules' });
  return res.json<{ version: number }>().version;
}

async function gauge(environment: string): Promise<string | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').find((line) => line.startsWith(`switchyard_ofrep_event_streams{environment="${environment}"}`));
}

/** Polls until `check` holds (state that changes without an event to wait for). */
async function eventually(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + SSE_WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const refetch = (version: number) => ({ type: 'refetchEvaluation', etag: `"${version}"` });

beforeEach(async () => {
  await start();
  await createFlag(t, 'banner', { clientVisible: true });
});
afterEach(async () => {
  for (const controller of open.splice(0)) controller.abort();
  await t.close();
});

describe('GET /ofrep/v1/events', () => {
  it('takes the ticket alone (no Authorization header) and answers with an event stream', async () => {
    const stream = await connect(await createKey(ENV));
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.response.headers.get('cache-control')).toBe('no-cache');
    expect(stream.response.headers.get('access-control-allow-origin')).toBe('*');
    await setStage(t, 'banner', ENV, '100%');
    expect(JSON.parse((await stream.event(0)).data)).toEqual(refetch(await version(ENV)));
  });

  it('revoking the key ends its open streams at once, and its ticket then gets 401; other keys keep theirs', async () => {
    const key = await createKey(ENV);
    const other = await createKey(ENV);
    const streams = [await connect(key), await connect(key)];
    const survivor = await connect(other);
    for (const stream of [...streams, survivor]) expect(stream.response.status).toBe(200);
    const revoked = await t.request(t.adminToken, { method: 'DELETE', url: `/api/sdk-keys/${key.id}` });
    expect(revoked.statusCode).toBe(200);
    for (const stream of streams) await stream.until('the revoked key’s stream to end', () => stream.ended);
    expect(streams.flatMap((s) => s.events)).toEqual([]);
    const again = await fetch(`${url}${key.events}`);
    expect(again.status).toBe(401);
    expect(again.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await again.text()).toBe('');
    // The other key's stream is untouched and still told about changes.
    await setStage(t, 'banner', ENV, '100%');
    expect(JSON.parse((await survivor.event(0)).data)).toEqual(refetch(await version(ENV)));
    expect(survivor.ended).toBe(false);
  });

  it(`holds ${MAX_STREAMS_PER_KEY} streams per server key: the next gets 429 with Retry-After; a closed one frees its slot`, async () => {
    const key = await createKey(ENV, 'server');
    const first = await connect(key);
    const second = await connect(key);
    expect([first.response.status, second.response.status]).toEqual([200, 200]);
    const refused = await fetch(`${url}${key.events}`);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.text()).toBe('');
    // Per key: another key of the same environment is not held back.
    expect((await connect(await createKey(ENV, 'server'))).response.status).toBe(200);
    // The server notices a closed stream (the gauge counts it) and takes a new one.
    open[0]!.abort();
    await eventually('the closed stream to be let go', async () => (await gauge(ENV)) === `switchyard_ofrep_event_streams{environment="${ENV}"} 2`);
    expect((await connect(key)).response.status).toBe(200);
  });

  it('counts client keys\' streams per client address, not per key: every visitor of an app shares its public key', async () => {
    await t.close();
    await start({ maxStreamsPerAddress: 3 });
    const web = await createKey(ENV, 'client');
    const mobile = await createKey(ENV, 'client');
    // More streams of one client key than a server key may hold (2), from one address.
    const held = [await connect(web), await connect(web), await connect(mobile)];
    expect(held.map((stream) => stream.response.status)).toEqual([200, 200, 200]);
    // The address's fourth is refused, whichever client key it uses; a server key is not held back.
    for (const key of [web, mobile]) {
      const refused = await fetch(`${url}${key.events}`);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect((await connect(await createKey(ENV, 'server'))).response.status).toBe(200);
    // Another address (another visitor) still gets its streams.
    expect(await statusFrom('127.0.0.2', web)).toBe(200);
    // A closed stream frees the address's slot.
    open[0]!.abort();
    await eventually('the closed stream to be let go', async () => (await gauge(ENV)) === `switchyard_ofrep_event_streams{environment="${ENV}"} 3`);
    expect((await connect(web)).response.status).toBe(200);
  });

  it('Last-Event-ID older than the environment version gets an immediate refetchEvaluation; the current one or garbage gets none', async () => {
    const key = await createKey(ENV);
    await setStage(t, 'banner', ENV, '100%');
    const current = await version(ENV);
    const behind = await connect(key, { 'last-event-id': String(current - 1) });
    expect(behind.response.status).toBe(200);
    const missed = await behind.event(0);
    expect(missed.id).toBe(String(current));
    expect(JSON.parse(missed.data)).toEqual(refetch(current));

    const upToDate = await connect(key, { 'last-event-id': String(current) });
    const garbage = await createKey(ENV).then((k) => connect(k, { 'last-event-id': 'yesterday' }));
    expect([upToDate.response.status, garbage.response.status]).toEqual([200, 200]);
    // The next change is the first thing either hears.
    await setStage(t, 'banner', ENV, 'off');
    const next = await version(ENV);
    for (const stream of [upToDate, garbage]) expect((await stream.event(0)).id).toBe(String(next));
    expect(upToDate.events).toHaveLength(1);
    expect(garbage.events).toHaveLength(1);
  });

  it('a change in another environment sends nothing', async () => {
    const stream = await connect(await createKey(ENV));
    const staging = await connect(await createKey(OTHER_ENV));
    await setStage(t, 'banner', OTHER_ENV, '100%');
    await staging.event(0);
    // Then a production change: the first and only thing the production stream hears.
    await setStage(t, 'banner', ENV, '100%');
    const productionVersion = await version(ENV);
    await stream.until('the production change', () => stream.events.length > 0);
    expect(stream.events.map((e) => e.id)).toEqual([String(productionVersion)]);
    expect(staging.events.map((e) => Number(e.id))).not.toContain(productionVersion);
  });

  it('server shutdown ends the stream', async () => {
    const stream = await connect(await createKey(ENV));
    expect(stream.response.status).toBe(200);
    await t.app.close();
    await stream.until('the stream to end', () => stream.ended);
  });

  it('/metrics counts open streams per environment', async () => {
    const key = await createKey(ENV);
    await connect(key);
    await connect(key);
    await connect(await createKey(OTHER_ENV));
    await eventually('two production streams', async () => (await gauge(ENV)) === `switchyard_ofrep_event_streams{environment="${ENV}"} 2`);
    expect(await gauge(OTHER_ENV)).toBe(`switchyard_ofrep_event_streams{environment="${OTHER_ENV}"} 1`);
    for (const controller of open.splice(0)) controller.abort();
    await eventually('no production streams', async () => [undefined, `switchyard_ofrep_event_streams{environment="${ENV}"} 0`].includes(await gauge(ENV)));
  });
});

describe('GET /ofrep/v1/events heartbeats', () => {
  /**
   * Known gap: buildApp does not pass its `heartbeatMs` to the OFREP routes (app.ts registers
   * ofrepRoutes without it), so OFREP streams always beat every 25 s. Drop `.fails` once app.ts
   * passes `heartbeatMs: options.heartbeatMs`.
   */
  it('follow buildApp’s heartbeatMs with comments', async () => {
    await t.close();
    open.length = 0;
    await start({ heartbeatMs: 50 });
    await createFlag(t, 'banner', { clientVisible: true });
    const stream = await connect(await createKey(ENV));
    await stream.until('two heartbeats', () => stream.comments.filter((c) => c === 'heartbeat').length >= 2);
    expect(stream.events).toEqual([]);
  });
});
