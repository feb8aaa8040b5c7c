import type { HTTPMethods } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintTables } from '../testing/databases.js';
import { MUTATING_METHODS, describeApi } from '../testing/openapi-operations.js';
import { SNAPSHOT_TABLES, createFlag, createTestApp, type ErrorBody, type TestContext } from '../testing/test-app.js';

/**
 * Who may call which mutating route: every POST/PUT/PATCH/DELETE of the OpenAPI document × every
 * kind of caller. The expectation comes from the documented access rules (README, "REST API" →
 * "Access"), written down once per route in ROUTES — never from the implementation — and a route
 * the document has but the table lacks fails the test, so a new route cannot skip the matrix.
 *
 * - viewer reads; editor also changes flags, segments, release plans and applies flag files;
 *   admin also manages environments, tokens, SDK keys and webhooks;
 * - SDK keys call only SDK routes, each for its own environment;
 * - revoked or missing credentials → 401; the wrong role or kind of credential → 403.
 *
 * A refused caller is refused before its body is read: it gets 401/403 even for a body that would
 * fail validation, and nothing is written. An allowed caller's request is valid, so it gets a 2xx.
 */

type Access = 'public' | 'viewer' | 'editor' | 'admin' | 'sdk';
const CALLERS = ['viewer', 'editor', 'admin', 'sdk key of the environment', 'sdk key of another environment', 'revoked admin token', 'no credential'] as const;
type Caller = (typeof CALLERS)[number];

const ALLOWED: Record<Access, readonly Caller[]> = {
  public: CALLERS,
  viewer: ['viewer', 'editor', 'admin'],
  editor: ['editor', 'admin'],
  admin: ['admin'],
  sdk: ['sdk key of the environment', 'sdk key of another environment'],
};

/** What a refused caller gets. */
const REFUSED: Record<Caller, 401 | 403> = {
  viewer: 403,
  editor: 403,
  admin: 403,
  'sdk key of the environment': 403,
  'sdk key of another environment': 403,
  'revoked admin token': 401,
  'no credential': 401,
};

/** The environment of the "own" SDK key: routes with {environment} act on it. */
const ENV = 'production';
const OTHER_ENV = 'staging';

interface Setup {
  t: TestContext;
  /** A name no other request of this test used. */
  unique(prefix: string): string;
  /** A fresh boolean flag, as the admin. */
  flag(): Promise<string>;
  /** As the admin; fails the test unless it succeeds. */
  admin(method: HTTPMethods, url: string, payload?: unknown): Promise<Record<string, unknown>>;
}

interface ValidRequest {
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
}

interface RouteAccess {
  access: Access;
  /** A request an allowed caller succeeds with (it may first create what it needs, as the admin). */
  request(s: Setup): Promise<ValidRequest>;
}

const flagEnv = (key: string, tail = '') => `/api/flags/${key}/environments/${ENV}${tail}`;

/** A flag with a guarded release plan, moved along as far as `state`. */
async function planned(s: Setup, state: 'draft' | 'running' | 'paused'): Promise<string> {
  const key = await s.flag();
  await s.admin('PUT', flagEnv(key, '/release-plan'), { strategy: 'guarded' });
  if (state !== 'draft') await s.admin('POST', flagEnv(key, '/release-plan/start'), {});
  if (state === 'paused') await s.admin('POST', flagEnv(key, '/release-plan/pause'), {});
  return key;
}

/** Every mutating route of the API and who may call it. */
const ROUTES: Record<string, RouteAccess> = {
  'POST /api/session': { access: 'public', request: async (s) => ({ url: '/api/session', payload: { token: s.t.tokens.viewer }, headers: { 'x-switchyard-csrf': '1' } }) },
  'DELETE /api/session': { access: 'public', request: async () => ({ url: '/api/session' }) },

  'POST /api/environments': { access: 'admin', request: async (s) => ({ url: '/api/environments', payload: { key: s.unique('env') } }) },
  'PATCH /api/environments/{environment}': { access: 'admin', request: async (s) => ({ url: `/api/environments/${OTHER_ENV}`, payload: { name: s.unique('Staging') } }) },
  'DELETE /api/environments/{environment}': {
    access: 'admin',
    request: async (s) => {
      const key = s.unique('env');
      await s.admin('POST', '/api/environments', { key });
      return { url: `/api/environments/${key}` };
    },
  },

  'POST /api/flags': { access: 'editor', request: async (s) => ({ url: '/api/flags', payload: { key: s.unique('flag') } }) },
  'PATCH /api/flags/{key}': { access: 'editor', request: async (s) => ({ url: `/api/flags/${await s.flag()}`, payload: { version: 1, name: 'Renamed' } }) },
  'DELETE /api/flags/{key}': { access: 'editor', request: async (s) => ({ url: `/api/flags/${await s.flag()}`, payload: { version: 1 } }) },
  'PATCH /api/flags/{key}/environments/{environment}': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag()), payload: { version: 1, on: true } }) },
  'POST /api/flags/{key}/environments/{environment}/stage': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag(), '/stage'), payload: { stage: '10%', version: 1 } }) },
  'POST /api/flags/{key}/environments/{environment}/kill': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag(), '/kill'), payload: {} }) },
  'POST /api/flags/{key}/environments/{environment}/switch': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag(), '/switch'), payload: {} }) },

  'PUT /api/flags/{key}/environments/{environment}/release-plan': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag(), '/release-plan'), payload: { strategy: 'guarded' } }) },
  'DELETE /api/flags/{key}/environments/{environment}/release-plan': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'draft'), '/release-plan') }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/start': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'draft'), '/release-plan/start'), payload: {} }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/pause': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'running'), '/release-plan/pause'), payload: { reason: 'checking' } }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/resume': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'paused'), '/release-plan/resume'), payload: {} }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/skip': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'running'), '/release-plan/skip'), payload: {} }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/abort': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'running'), '/release-plan/abort'), payload: {} }) },

  'POST /api/segments': { access: 'editor', request: async (s) => ({ url: '/api/segments', payload: { key: s.unique('segment'), name: 'Beta testers' } }) },
  'PATCH /api/segments/{key}': {
    access: 'editor',
    request: async (s) => {
      const key = s.unique('segment');
      await s.admin('POST', '/api/segments', { key, name: 'Beta testers' });
      return { url: `/api/segments/${key}`, payload: { version: 1, included: ['user-1'] } };
    },
  },
  'DELETE /api/segments/{key}': {
    access: 'editor',
    request: async (s) => {
      const key = s.unique('segment');
      await s.admin('POST', '/api/segments', { key, name: 'Beta testers' });
      return { url: `/api/segments/${key}`, payload: { version: 1 } };
    },
  },

  'POST /api/audit/{id}/revert': {
    access: 'editor',
    request: async (s) => {
      const key = await s.flag();
      const changed = await s.admin('PATCH', `/api/flags/${key}`, { version: 1, name: 'Renamed' });
      const history = (await s.admin('GET', `/api/flags/${key}/audit`)) as { items: { id: number }[] };
      return { url: `/api/audit/${history.items[0]!.id}/revert`, payload: { version: changed.version } };
    },
  },

  'POST /api/tokens': { access: 'admin', request: async (s) => ({ url: '/api/tokens', payload: { name: s.unique('token'), role: 'viewer' } }) },
  'DELETE /api/tokens/{id}': { access: 'admin', request: async (s) => ({ url: `/api/tokens/${(await s.admin('POST', '/api/tokens', { name: s.unique('token'), role: 'viewer' })).id}` }) },
  'POST /api/sdk-keys': { access: 'admin', request: async (s) => ({ url: '/api/sdk-keys', payload: { name: s.unique('key'), environment: 'development' } }) },
  'DELETE /api/sdk-keys/{id}': { access: 'admin', request: async (s) => ({ url: `/api/sdk-keys/${(await s.admin('POST', '/api/sdk-keys', { name: s.unique('key'), environment: 'development' })).id}` }) },
  'POST /api/webhooks': { access: 'admin', request: async () => ({ url: '/api/webhooks', payload: { url: 'http://127.0.0.1:9/hook' } }) },
  'DELETE /api/webhooks/{id}': { access: 'admin', request: async (s) => ({ url: `/api/webhooks/${(await s.admin('POST', '/api/webhooks', { url: 'http://127.0.0.1:9/hook' })).id}` }) },

  'POST /api/gitops/plan': { access: 'viewer', request: async () => ({ url: '/api/gitops/plan', payload: { document: 'flags: {}\n' } }) },
  'POST /api/gitops/apply': { access: 'editor', request: async (s) => ({ url: '/api/gitops/apply', payload: { document: `flags:\n  ${s.unique('gitops')}: {}\n` } }) },

  'POST /ofrep/v1/evaluate/flags/{key}': { access: 'sdk', request: async (s) => ({ url: `/ofrep/v1/evaluate/flags/${await s.flag()}`, payload: { context: { targetingKey: 'user-1' } } }) },
  'POST /ofrep/v1/evaluate/flags': { access: 'sdk', request: async () => ({ url: '/ofrep/v1/evaluate/flags', payload: { context: { targetingKey: 'user-1' } } }) },
  'POST /api/sdk/metrics': { access: 'sdk', request: async () => ({ url: '/api/sdk/metrics', payload: { exposures: [] } }) },
};

/** A body no route accepts: refusal must come before validation would reject it. */
const INVALID_BODY = { 'not a field': ['x'] };

const TABLES = [...SNAPSHOT_TABLES, 'webhooks', 'sessions', 'release_plans'];

describe('role matrix: every mutating route × every kind of caller', () => {
  it('ROUTES lists exactly the mutating operations of the OpenAPI document', async () => {
    const t = await createTestApp({ background: false });
    try {
      const documented = (await describeApi(t.app)).operations.filter((op) => (MUTATING_METHODS as readonly string[]).includes(op.method)).map((op) => op.id);
      expect(Object.keys(ROUTES).sort(), 'add every new route to ROUTES with who may call it').toEqual(documented.sort());
    } finally {
      await t.close();
    }
  });

  for (const [id, route] of Object.entries(ROUTES)) {
    const method = id.split(' ')[0] as HTTPMethods;
    describe(id, () => {
      let t: TestContext;
      let credentials: Record<Caller, string | null>;
      let counter = 0;
      let s: Setup;

      beforeAll(async () => {
        t = await createTestApp({ background: false });
        const admin = async (m: HTTPMethods, url: string, payload?: unknown) => {
          const res = await t.request(t.adminToken, { method: m, url, ...(payload === undefined ? {} : { payload: payload as object }) });
          if (res.statusCode >= 300) throw new Error(`setup ${m} ${url}: ${res.statusCode} ${res.body}`);
          return res.json<Record<string, unknown>>();
        };
        s = {
          t,
          unique: (prefix) => `${prefix}-${++counter}`,
          flag: async () => (await createFlag(t, `flag-${++counter}`)).key,
          admin,
        };
        const revoked = await admin('POST', '/api/tokens', { name: 'revoked', role: 'admin' });
        await admin('DELETE', `/api/tokens/${revoked.id}`);
        credentials = {
          viewer: t.tokens.viewer,
          editor: t.tokens.editor,
          admin: t.tokens.admin,
          'sdk key of the environment': await t.sdkKey(ENV),
          'sdk key of another environment': await t.sdkKey(OTHER_ENV),
          'revoked admin token': revoked.token as string,
          'no credential': null,
        };
      });
      afterAll(async () => {
        await t?.close();
      });

      const send = async (caller: Caller, request: ValidRequest, payload = request.payload) =>
        t.request(credentials[caller], { method, url: request.url, headers: request.headers ?? {}, ...(payload === undefined ? {} : { payload: payload as object }) });

      const refused = CALLERS.filter((c) => !ALLOWED[route.access].includes(c));
      for (const caller of refused) {
        it(`${REFUSED[caller]} for ${caller}, before validation, writing nothing`, async () => {
          const request = await route.request(s);
          for (const payload of [request.payload, INVALID_BODY]) {
            const before = await fingerprintTables(t.db, TABLES, ['last_used_at']);
            const res = await send(caller, request, payload);
            expect(res.statusCode, `${caller}, body ${JSON.stringify(payload)}: ${res.body}`).toBe(REFUSED[caller]);
            if (request.url.startsWith('/ofrep/')) expect(res.body, 'OFREP specifies no body for 401/403').toBe('');
            else expect(res.json<ErrorBody>().error.code).toBe(REFUSED[caller] === 401 ? 'unauthorized' : 'forbidden');
            expect(await fingerprintTables(t.db, TABLES, ['last_used_at'])).toEqual(before);
          }
        });
      }
      for (const caller of ALLOWED[route.access]) {
        it(`2xx for ${caller}`, async () => {
          const res = await send(caller, await route.request(s));
          expect(res.statusCode, `${caller}: ${res.body}`).toBeGreaterThanOrEqual(200);
          expect(res.statusCode, `${caller}: ${res.body}`).toBeLessThan(300);
        });
      }
    });
  }
});
