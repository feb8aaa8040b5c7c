import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, type Services } from '../app.js';
import { SESSION_TTL_MS } from '../domain/credentials.js';
import { PostgresDatabase, openPostgres } from '../store/postgres/database.js';
import { SseReader } from '../testing/sse.js';
import { createFlag, createTestApp, type TestContext } from '../testing/test-app.js';
import { CSRF_HEADER, SESSION_COOKIE } from './sessions.routes.js';

const MAX_STREAMS = 3;

/**
 * The dashboard's live stream against two replicas of one database (on SQLite, two apps in one
 * process on the same database; on PostgreSQL, a second connection pool): a stream opened on one
 * replica must end when its credential is revoked through the other, by way of the change feed.
 */
describe('GET /api/events', () => {
  let t: TestContext;
  let other: FastifyInstance & { services: Services };
  let urls: { writer: string; other: string };
  const cleanups: (() => Promise<unknown>)[] = [];
  const open: AbortController[] = [];

  beforeEach(async () => {
    t = await createTestApp({ heartbeatMs: 60_000, maxDashboardStreams: MAX_STREAMS });
    const otherDb = t.db instanceof PostgresDatabase ? await openPostgres(t.db.pool.options.connectionString!, { max: 2 }) : t.db;
    // The same clock as the first replica's (a fake one): sessions it creates are live here too.
    other = await buildApp({ db: otherDb, now: t.services.writes.now, heartbeatMs: 60_000, maxDashboardStreams: MAX_STREAMS, defaultMetrics: false, dashboardDir: null });
    urls = { writer: await t.app.listen({ port: 0, host: '127.0.0.1' }), other: await other.listen({ port: 0, host: '127.0.0.1' }) };
    cleanups.push(async () => {
      await other.close();
      if (otherDb !== t.db) await otherDb.close();
      await t.close();
    });
  });

  afterEach(async () => {
    for (const controller of open.splice(0)) controller.abort();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function connect(base: string, headers: Record<string, string>): Promise<SseReader> {
    const controller = new AbortController();
    open.push(controller);
    const response = await fetch(`${base}/api/events`, { headers, signal: controller.signal });
    expect(response.status, await peekError(response)).toBe(200);
    const stream = new SseReader(response);
    await stream.event(0);
    return stream;
  }

  async function signIn(token: string): Promise<string> {
    const res = await t.app.inject({ method: 'POST', url: '/api/session', headers: { [CSRF_HEADER]: '1' }, payload: { token } });
    expect(res.statusCode).toBe(200);
    return `${SESSION_COOKIE}=${res.cookies.find((c) => c.name === SESSION_COOKIE)!.value}`;
  }

  async function tokenId(name: string): Promise<number> {
    const tokens = (await t.request(t.adminToken, { method: 'GET', url: '/api/tokens' })).json<{ items: { id: number; name: string }[] }>();
    return tokens.items.find((x) => x.name === name)!.id;
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  /** A stream that is still live receives the next change (a positive check, not "nothing happened"). */
  async function stillLive(stream: SseReader, flag: string): Promise<void> {
    await createFlag(t, flag);
    await stream.until(`a change for ${flag}`, () => stream.events.some((e) => e.event === 'change' && e.data.includes(`"${flag}"`)));
    expect(stream.ended).toBe(false);
  }

  it('ends the streams of a revoked token on every replica, and only those', async () => {
    const here = await connect(urls.writer, bearer(t.tokens.viewer));
    const there = await connect(urls.other, bearer(t.tokens.viewer));
    const survivor = await connect(urls.other, bearer(t.tokens.editor));

    expect((await t.request(t.adminToken, { method: 'DELETE', url: `/api/tokens/${await tokenId('viewer')}` })).statusCode).toBe(200);
    for (const stream of [here, there]) {
      await stream.until('the revoked stream to end', () => stream.ended);
      expect(stream.events.at(-1)).toMatchObject({ event: 'revoked', data: expect.stringContaining('revoked') });
    }
    await stillLive(survivor, 'after-revocation');
  });

  it('ends a session\'s streams on sign-out on every replica, and not those of another session of the same token', async () => {
    const [leaving, staying] = [await signIn(t.tokens.editor), await signIn(t.tokens.editor)];
    const here = await connect(urls.writer, { cookie: leaving });
    const there = await connect(urls.other, { cookie: leaving });
    const survivor = await connect(urls.other, { cookie: staying });

    const out = await fetch(`${urls.writer}/api/session`, { method: 'DELETE', headers: { cookie: leaving, [CSRF_HEADER]: '1' } });
    expect(out.status).toBe(204);
    for (const stream of [here, there]) {
      await stream.until('the signed-out stream to end', () => stream.ended);
      expect(stream.events.at(-1)).toMatchObject({ event: 'revoked', data: expect.stringContaining('signed out') });
    }
    await stillLive(survivor, 'after-sign-out');
  });

  it('ends session streams when the token behind the session is revoked', async () => {
    const cookie = await signIn(t.tokens.viewer);
    const stream = await connect(urls.other, { cookie });
    expect((await t.request(t.adminToken, { method: 'DELETE', url: `/api/tokens/${await tokenId('viewer')}` })).statusCode).toBe(200);
    await stream.until('the stream to end', () => stream.ended);
  });

  it('signing out an unknown session writes nothing to the change feed', async () => {
    const before = t.services.feed.position;
    const out = await t.app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie: `${SESSION_COOKIE}=not-a-session`, [CSRF_HEADER]: '1' } });
    expect(out.statusCode).toBe(204);
    await t.services.feed.catchUp();
    expect(t.services.feed.position).toBe(before);
  });

  it(`refuses more than ${MAX_STREAMS} streams per token or session with 429 and Retry-After, per credential`, async () => {
    for (let i = 0; i < MAX_STREAMS; i++) await connect(urls.writer, bearer(t.tokens.viewer));
    const refused = await fetch(`${urls.writer}/api/events`, { headers: bearer(t.tokens.viewer) });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('"viewer"') });

    // Other credentials have bounds of their own: a session of the same token, another token.
    await connect(urls.writer, { cookie: await signIn(t.tokens.viewer) });
    await connect(urls.writer, bearer(t.tokens.editor));

    // A closed stream frees its slot once the server has seen the close.
    open[0]!.abort();
    await expect
      .poll(async () => {
        const attempt = await fetch(`${urls.writer}/api/events`, { headers: bearer(t.tokens.viewer), signal: track() });
        if (attempt.status !== 200) await attempt.body?.cancel();
        return attempt.status;
      }, { timeout: 5_000 })
      .toBe(200);
  });

  function track(): AbortSignal {
    const controller = new AbortController();
    open.push(controller);
    return controller.signal;
  }
});

async function peekError(response: Response): Promise<string> {
  return response.status === 200 ? '' : await response.clone().text();
}

describe('GET /api/events headers', () => {
  it('carries the security headers like any dashboard response', async () => {
    const t = await createTestApp({ heartbeatMs: 60_000 });
    const controller = new AbortController();
    try {
      const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const response = await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${t.tokens.viewer}` }, signal: controller.signal });
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      await new SseReader(response).event(0);
    } finally {
      controller.abort();
      await t.close();
    }
  });
});

describe('GET /api/events and session expiry', () => {
  it('ends a session\'s stream with `revoked` when the session expires; a bearer token\'s stream stays', async () => {
    let now = Date.UTC(2026, 0, 1);
    const t = await createTestApp({ heartbeatMs: 60_000, now: () => now });
    const controllers = [new AbortController(), new AbortController()];
    try {
      const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const res = await t.app.inject({ method: 'POST', url: '/api/session', headers: { [CSRF_HEADER]: '1' }, payload: { token: t.tokens.viewer } });
      expect(res.statusCode).toBe(200);
      const cookie = `${SESSION_COOKIE}=${res.cookies.find((c) => c.name === SESSION_COOKIE)!.value}`;
      // Almost twelve hours later: the session has 300 ms left.
      now += SESSION_TTL_MS - 300;
      const session = new SseReader(await fetch(`${url}/api/events`, { headers: { cookie, [CSRF_HEADER]: '1' }, signal: controllers[0]!.signal }));
      const token = new SseReader(await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${t.tokens.viewer}` }, signal: controllers[1]!.signal }));
      expect([session.response.status, token.response.status]).toEqual([200, 200]);
      await session.until('the expired session\'s stream to end', () => session.ended);
      expect(session.events.at(-1)).toMatchObject({ event: 'revoked', data: expect.stringContaining('the session expired') });
      await createFlag(t, 'after-expiry');
      await token.until('a change on the token\'s stream', () => token.events.some((e) => e.event === 'change' && e.data.includes('"after-expiry"')));
      expect(token.ended).toBe(false);
    } finally {
      for (const controller of controllers) controller.abort();
      await t.close();
    }
  });
});
