import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.js';
import { bootstrap } from '../services/bootstrap.js';
import { openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { SseReader } from '../testing/sse.js';

const ADMIN = 'stream-test-admin-token-0123456789abcdef';
const HEARTBEAT_MS = 50;
const WAIT_MS = 5_000;

describe('GET /api/sdk/stream', () => {
  let app: Awaited<ReturnType<typeof buildApp>>;
  let url: string;
  let sdkKey: string;
  let flagVersion: number;
  const open: AbortController[] = [];

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await response.json()) as T;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  }

  async function stage(value: string): Promise<void> {
    const flag = await call<{ version: number }>('POST', '/api/flags/checkout/environments/development/stage', { stage: value, version: flagVersion });
    flagVersion = flag.version;
  }

  async function connect(headers: Record<string, string> = {}, key = sdkKey): Promise<SseReader> {
    const controller = new AbortController();
    open.push(controller);
    const response = await fetch(`${url}/api/sdk/stream`, { headers: { authorization: `Bearer ${key}`, ...headers }, signal: controller.signal });
    return new SseReader(response);
  }

  async function connections(): Promise<string> {
    const text = await (await fetch(`${url}/metrics`)).text();
    return text.split('\n').find((line) => line.startsWith('switchyard_stream_connections{environment="development"}')) ?? '';
  }

  let database: TestDatabase;

  beforeAll(async () => {
    database = await openTestDatabase('stream');
    app = await buildApp({ db: database.db, heartbeatMs: HEARTBEAT_MS, defaultMetrics: false, dashboardDir: null });
    await bootstrap(app.services.writes, app.services.environments, ADMIN);
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'web', environment: 'development' })).key;
    flagVersion = (await call<{ version: number }>('POST', '/api/flags', { key: 'checkout' })).version;
  });

  afterEach(() => {
    for (const controller of open.splice(0)) controller.abort();
  });

  afterAll(async () => {
    await app?.close();
    await database?.close();
  });

  it('sends the headers and a snapshot on connect, then a patch per stage change', async () => {
    const stream = await connect();
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.response.headers.get('cache-control')).toBe('no-cache');
    expect(stream.response.headers.get('x-accel-buffering')).toBe('no');

    const snapshot = await stream.event(0);
    const ruleSet = JSON.parse(snapshot.data) as { version: number; flags: Record<string, unknown> };
    expect(snapshot.event).toBe('snapshot');
    expect(snapshot.id).toBe(String(ruleSet.version));
    expect(Object.keys(ruleSet.flags)).toContain('checkout');

    await stage('10%');
    const patch = await stream.event(1);
    const body = JSON.parse(patch.data) as { version: number; flags: Record<string, { on: boolean }>; segments: object };
    expect(patch.event).toBe('patch');
    expect(body.version).toBe(ruleSet.version + 1);
    expect(patch.id).toBe(String(body.version));
    expect(Object.keys(body)).toEqual(['version', 'flags', 'segments']);
    expect(Object.keys(body.flags)).toEqual(['checkout']);
  });

  it('resumes from Last-Event-ID with only the missed patches, or nothing when current', async () => {
    const first = await connect();
    const version = Number((await first.event(0)).id);
    first.response.body?.cancel().catch(() => {});
    await stage('50%');
    await stage('100%');

    const resumed = await connect({ 'last-event-id': String(version) });
    await resumed.event(1);
    expect(resumed.events.map((e) => [e.event, e.id])).toEqual([
      ['patch', String(version + 1)],
      ['patch', String(version + 2)],
    ]);

    const current = await connect({ 'last-event-id': String(version + 2) });
    await current.until('a heartbeat', () => current.comments.length > 0);
    expect(current.events).toEqual([]);
  });

  it('sends a snapshot for a Last-Event-ID it cannot resume from', async () => {
    for (const lastEventId of ['999999', '0', 'not-a-version']) {
      const stream = await connect({ 'last-event-id': lastEventId });
      const event = await stream.event(0);
      expect(event.event, lastEventId).toBe('snapshot');
    }
  });

  it('ends the streams of an SDK key the moment it is revoked, and only those', async () => {
    const extra = await call<{ id: number; key: string }>('POST', '/api/sdk-keys', { name: 'to-revoke', environment: 'development' });
    const doomed = await connect({}, extra.key);
    const survivor = await connect();
    await doomed.event(0);
    await survivor.event(0);
    await call('DELETE', `/api/sdk-keys/${extra.id}`);
    await doomed.until('the revoked stream to end', () => doomed.ended);
    expect(survivor.ended).toBe(false);
  });

  it('lets browser SDKs on other origins connect (CORS)', async () => {
    const preflight = await fetch(`${url}/api/sdk/stream`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,last-event-id' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Last-Event-ID/i);
    const stream = await connect({ origin: 'https://app.example' });
    expect(stream.response.headers.get('access-control-allow-origin')).toBe('*');
    const rules = await fetch(`${url}/api/sdk/rules`, { headers: { authorization: `Bearer ${sdkKey}`, origin: 'https://app.example' } });
    expect(rules.headers.get('access-control-allow-origin')).toBe('*');
    const management = await fetch(`${url}/api/flags`, { headers: { authorization: `Bearer ${ADMIN}`, origin: 'https://app.example' } });
    expect(management.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends heartbeat comments', async () => {
    const stream = await connect();
    await stream.until('two heartbeats', () => stream.comments.filter((c) => c === 'heartbeat').length >= 2);
  });

  const authCases: { name: string; headers: Record<string, string>; status: number }[] = [
    { name: 'no credentials', headers: {}, status: 401 },
    { name: 'an unknown key', headers: { authorization: 'Bearer sdk-nope' }, status: 401 },
    { name: 'an API token instead of an SDK key', headers: { authorization: `Bearer ${ADMIN}` }, status: 403 },
  ];
  for (const { name, headers, status } of authCases) {
    it(`answers ${status} to ${name}`, async () => {
      const response = await fetch(`${url}/api/sdk/stream`, { headers });
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBeTypeOf('string');
    });
  }

  it('is GET only: a HEAD does not open a never-ending stream', async () => {
    const response = await fetch(`${url}/api/sdk/stream`, { method: 'HEAD', headers: { authorization: `Bearer ${sdkKey}` } });
    expect(response.status).toBe(404);
  });

  it('counts open streams on /metrics and forgets closed ones', async () => {
    await expect.poll(connections, { timeout: WAIT_MS }).toBe('switchyard_stream_connections{environment="development"} 0');
    const a = await connect();
    const b = await connect();
    await a.event(0);
    await b.event(0);
    await expect.poll(connections, { timeout: WAIT_MS }).toBe('switchyard_stream_connections{environment="development"} 2');
    for (const controller of open.splice(0)) controller.abort();
    await expect.poll(connections, { timeout: WAIT_MS }).toBe('switchyard_stream_connections{environment="development"} 0');
  });
});

describe('stream shutdown', () => {
  it('app.close() ends open streams promptly', async () => {
    const database = await openTestDatabase('stream-shutdown');
    const app = await buildApp({ db: database.db, heartbeatMs: 60_000, defaultMetrics: false, dashboardDir: null });
    await bootstrap(app.services.writes, app.services.environments, ADMIN);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const created = await fetch(`${url}/api/sdk-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'web', environment: 'production' }),
    });
    const { key } = (await created.json()) as { key: string };
    const streams = await Promise.all([1, 2, 3].map(async () => new SseReader(await fetch(`${url}/api/sdk/stream`, { headers: { authorization: `Bearer ${key}` } }))));
    await Promise.all(streams.map((s) => s.event(0)));
    const started = Date.now();
    await app.close();
    await Promise.all(streams.map((s) => s.until('the end of the stream', () => s.ended)));
    expect(Date.now() - started).toBeLessThan(2_000);
    await database.close();
  });
});

describe('streams per SDK key', () => {
  it('refuses streams beyond the per-key bound with 429 and Retry-After, counts closed ones out, and leaves other keys alone', async () => {
    const database = await openTestDatabase('stream-limit');
    const app = await buildApp({ db: database.db, heartbeatMs: 60_000, defaultMetrics: false, dashboardDir: null, maxStreamsPerKey: 2 });
    const controllers: AbortController[] = [];
    try {
      await bootstrap(app.services.writes, app.services.environments, ADMIN);
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const createKey = async (name: string) => {
        const created = await fetch(`${url}/api/sdk-keys`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name, environment: 'production' }),
        });
        return ((await created.json()) as { key: string }).key;
      };
      const [busy, other] = [await createKey('busy'), await createKey('other')];
      const connect = async (key: string) => {
        const controller = new AbortController();
        controllers.push(controller);
        return { controller, response: await fetch(`${url}/api/sdk/stream`, { headers: { authorization: `Bearer ${key}` }, signal: controller.signal }) };
      };

      const first = await connect(busy);
      const second = await connect(busy);
      await Promise.all([first, second].map((s) => new SseReader(s.response).event(0)));
      const refused = await connect(busy);
      expect(refused.response.status).toBe(429);
      expect(refused.response.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await refused.response.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('"busy"') });

      const otherKey = await connect(other);
      expect(otherKey.response.status).toBe(200);

      first.controller.abort();
      // The slot frees once the server has seen the close: poll the connect, do not sleep.
      await expect
        .poll(async () => {
          const attempt = await connect(busy);
          if (attempt.response.status !== 200) await attempt.response.body?.cancel();
          return attempt.response.status;
        }, { timeout: WAIT_MS })
        .toBe(200);
    } finally {
      for (const controller of controllers) controller.abort();
      await app.close();
      await database.close();
    }
  });
});
