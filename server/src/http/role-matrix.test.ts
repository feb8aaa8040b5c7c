import type { HTTPMethods, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintTables } from '../testing/databases.js';
import { MUTATING_METHODS, describeApi, fillPath, isEventStream, isSdkRoute, type Operation } from '../testing/openapi-operations.js';
import { SNAPSHOT_TABLES, createFlag, createTestApp, type ErrorBody, type TestContext } from '../testing/test-app.js';

/**
 * Who may call which mutating route: every POST/PUT/PATCH/DELETE of the OpenAPI document × every
 * kind of caller. The expectation comes from the documented access rules (README, "REST API" →
 * "Access"), written down once per route in ROUTES — never from the implementation — and a route
 * the document has but the table lacks fails the test, so a new route cannot skip the matrix.
 *
 * - viewer reads; editor also changes flags, segments, release plans and applies flag files;
 *   admin also manages environments, tokens, SDK keys and webhooks;
 * - server SDK keys call only SDK routes, each for its own environment;
 * - client keys (public, in browsers) call OFREP bulk evaluation and upload evaluation counts only — and its change
 *   notifications, which take a ticket, not a key (the second describe covers every read);
 * - revoked or missing credentials → 401; the wrong role or kind of credential → 403.
 *
 * A refused caller is refused before its body is read: it gets 401/403 even for a body that would
 * fail validation, and nothing is written. An allowed caller's request is valid, so it gets a 2xx.
 */

/** `sdk`: server SDK keys; `evaluation`: server SDK keys and client keys. */
type Access = 'public' | 'viewer' | 'editor' | 'admin' | 'sdk' | 'evaluation';
const CALLERS = [
  'viewer',
  'editor',
  'admin',
  'server sdk key of the environment',
  'server sdk key of another environment',
  'client key of the environment',
  'revoked admin token',
  'revoked client key',
  'no credential',
] as const;
type Caller = (typeof CALLERS)[number];

const ALLOWED: Record<Access, readonly Caller[]> = {
  public: CALLERS,
  viewer: ['viewer', 'editor', 'admin'],
  editor: ['editor', 'admin'],
  admin: ['admin'],
  sdk: ['server sdk key of the environment', 'server sdk key of another environment'],
  evaluation: ['server sdk key of the environment', 'server sdk key of another environment', 'client key of the environment'],
};

/** What a refused caller gets. */
const REFUSED: Record<Caller, 401 | 403> = {
  viewer: 403,
  editor: 403,
  admin: 403,
  'server sdk key of the environment': 403,
  'server sdk key of another environment': 403,
  'client key of the environment': 403,
  'revoked admin token': 401,
  'revoked client key': 401,
  'no credential': 401,
};

/** The only operations a client key may call; the change notifications authenticate by ticket, not by key. */
const CLIENT_KEY_OPERATIONS = ['POST /ofrep/v1/evaluate/flags', 'GET /ofrep/v1/events', 'POST /api/sdk/evaluations'];
/** Reads that need no credential at all (README: the flags file's JSON Schema, for editors). */
const PUBLIC_READS = ['GET /api/gitops/schema.json'];

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

/** A change request body moving a fresh flag to 10%. */
async function changeRequestBody(s: Setup): Promise<Record<string, unknown>> {
  return { title: 'ramp', environment: ENV, changes: [{ type: 'stage', flag: await s.flag(), stage: '10%', baseVersion: 1 }] };
}

/**
 * An open change request by a third token, so that neither the editor nor the admin caller is its
 * author (authors may not approve or reject; withdrawing someone else's request is for admins).
 */
async function changeRequest(s: Setup, by?: string): Promise<number> {
  const author = by ?? ((await s.admin('POST', '/api/tokens', { name: s.unique('author'), role: 'editor' })).token as string);
  const res = await s.t.request(author, { method: 'POST', url: '/api/change-requests', payload: await changeRequestBody(s) });
  if (res.statusCode !== 201) throw new Error(`setup change request: ${res.statusCode} ${res.body}`);
  return res.json<{ id: number }>().id;
}

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
  'POST /api/environments/{environment}/secure-mode': { access: 'admin', request: async () => ({ url: `/api/environments/${OTHER_ENV}/secure-mode` }) },
  'DELETE /api/environments/{environment}/secure-mode': { access: 'admin', request: async () => ({ url: `/api/environments/${OTHER_ENV}/secure-mode` }) },

  'POST /api/flags': { access: 'editor', request: async (s) => ({ url: '/api/flags', payload: { key: s.unique('flag') } }) },
  'PATCH /api/flags/{key}': { access: 'editor', request: async (s) => ({ url: `/api/flags/${await s.flag()}`, payload: { version: 1, name: 'Renamed' } }) },
  'DELETE /api/flags/{key}': { access: 'editor', request: async (s) => ({ url: `/api/flags/${await s.flag()}`, payload: { version: 1 } }) },
  'PATCH /api/flags/{key}/environments/{environment}': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag()), payload: { version: 1, on: true } }) },
  'POST /api/flags/{key}/environments/{environment}/stage': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag(), '/stage'), payload: { stage: '10%', version: 1 } }) },
  'POST /api/flags/{key}/environments/{environment}/kill': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag(), '/kill'), payload: {} }) },
  'POST /api/flags/{key}/environments/{environment}/resume': {
    access: 'editor',
    request: async (s) => {
      // A kill holds only a Git-managed flag: mark one as a sync would, then kill it.
      const key = await s.flag();
      await s.t.db.transaction((tx) => s.t.db.repos.flags.setManaged(tx, 'flags.yaml', [key]));
      await s.admin('POST', flagEnv(key, '/kill'), {});
      return { url: flagEnv(key, '/resume'), payload: {} };
    },
  },
  'POST /api/flags/{key}/environments/{environment}/switch': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag(), '/switch'), payload: {} }) },
  'POST /api/flags/{key}/promote': { access: 'editor', request: async (s) => ({ url: `/api/flags/${await s.flag()}/promote`, payload: { from: OTHER_ENV, to: ENV } }) },
  'POST /api/environments/{from}/promote/{to}': { access: 'editor', request: async (s) => ({ url: `/api/environments/${OTHER_ENV}/promote/${ENV}`, payload: { flags: [await s.flag()] } }) },

  'PUT /api/flags/{key}/environments/{environment}/release-plan': { access: 'editor', request: async (s) => ({ url: flagEnv(await s.flag(), '/release-plan'), payload: { strategy: 'guarded' } }) },
  'DELETE /api/flags/{key}/environments/{environment}/release-plan': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'draft'), '/release-plan') }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/start': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'draft'), '/release-plan/start'), payload: {} }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/pause': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'running'), '/release-plan/pause'), payload: { reason: 'checking' } }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/resume': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'paused'), '/release-plan/resume'), payload: {} }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/skip': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'running'), '/release-plan/skip'), payload: {} }) },
  'POST /api/flags/{key}/environments/{environment}/release-plan/abort': { access: 'editor', request: async (s) => ({ url: flagEnv(await planned(s, 'running'), '/release-plan/abort'), payload: {} }) },

  'POST /api/flags/{key}/environments/{environment}/schedules': {
    access: 'editor',
    request: async (s) => ({ url: flagEnv(await s.flag(), '/schedules'), payload: { at: '2030-01-01T09:00Z', action: { type: 'stage', stage: '50%' } } }),
  },
  'PATCH /api/schedules/{id}': {
    access: 'editor',
    request: async (s) => ({ url: `/api/schedules/${(await s.admin('POST', flagEnv(await s.flag(), '/schedules'), { at: '2030-01-01T09:00Z', action: { type: 'kill' } })).id}`, payload: { message: 'edited' } }),
  },
  'DELETE /api/schedules/{id}': {
    access: 'editor',
    request: async (s) => ({ url: `/api/schedules/${(await s.admin('POST', flagEnv(await s.flag(), '/schedules'), { at: '2030-01-01T09:00Z', action: { type: 'kill' } })).id}` }),
  },

  'PUT /api/environments/{environment}/approval-policy': { access: 'admin', request: async () => ({ url: `/api/environments/${OTHER_ENV}/approval-policy`, payload: { required: false } }) },
  'POST /api/change-requests': { access: 'editor', request: async (s) => ({ url: '/api/change-requests', payload: await changeRequestBody(s) }) },
  'POST /api/change-requests/{id}/comments': { access: 'editor', request: async (s) => ({ url: `/api/change-requests/${await changeRequest(s)}/comments`, payload: { body: 'ok' } }) },
  'POST /api/change-requests/{id}/approve': { access: 'editor', request: async (s) => ({ url: `/api/change-requests/${await changeRequest(s)}/approve`, payload: {} }) },
  'POST /api/change-requests/{id}/reject': { access: 'editor', request: async (s) => ({ url: `/api/change-requests/${await changeRequest(s)}/reject`, payload: { reason: 'no' } }) },
  // By the editor caller: its author may withdraw it, and so may an admin.
  'POST /api/change-requests/{id}/withdraw': { access: 'editor', request: async (s) => ({ url: `/api/change-requests/${await changeRequest(s, s.t.tokens.editor)}/withdraw`, payload: {} }) },
  'POST /api/change-requests/{id}/rebase': { access: 'editor', request: async (s) => ({ url: `/api/change-requests/${await changeRequest(s)}/rebase` }) },
  'POST /api/change-requests/{id}/apply': { access: 'editor', request: async (s) => ({ url: `/api/change-requests/${await changeRequest(s)}/apply`, payload: {} }) },
  // Without a policy where it applies, an open request needs no approval: it can be scheduled.
  'POST /api/change-requests/{id}/schedule': { access: 'editor', request: async (s) => ({ url: `/api/change-requests/${await changeRequest(s)}/schedule`, payload: { at: '2027-06-01T09:00Z' } }) },

  'PUT /api/code-refs': { access: 'editor', request: async (s) => ({ url: '/api/code-refs', payload: { repository: 'shop', branch: s.unique('branch'), commit: 'abc123', references: [{ flag: await s.flag(), path: 'src/app.ts', line: 3, snippet: 'isEnabled(flag)' }] } }) },

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
  'POST /ofrep/v1/evaluate/flags': { access: 'evaluation', request: async () => ({ url: '/ofrep/v1/evaluate/flags', payload: { context: { targetingKey: 'user-1' } } }) },
  'POST /api/sdk/metrics': { access: 'sdk', request: async () => ({ url: '/api/sdk/metrics', payload: { exposures: [] } }) },
  'POST /api/sdk/evaluations': { access: 'evaluation', request: async () => ({ url: '/api/sdk/evaluations', payload: { sdk: 'switchyard-node', version: '0.1.0', evaluations: [] } }) },
};

type Admin = Setup['admin'];

function asAdmin(t: TestContext): Admin {
  return async (method, url, payload) => {
    const res = await t.request(t.adminToken, { method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
    if (res.statusCode >= 300) throw new Error(`setup ${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json<Record<string, unknown>>();
  };
}

/** One credential per kind of caller (the SDK keys are checked to be of the kind they claim). */
async function callers(t: TestContext, admin: Admin): Promise<Record<Caller, string | null>> {
  const revoked = await admin('POST', '/api/tokens', { name: 'revoked', role: 'admin' });
  await admin('DELETE', `/api/tokens/${revoked.id}`);
  const client = await admin('POST', '/api/sdk-keys', { name: 'browser', environment: ENV, kind: 'client' });
  const revokedClient = await admin('POST', '/api/sdk-keys', { name: 'revoked browser', environment: ENV, kind: 'client' });
  await admin('DELETE', `/api/sdk-keys/${revokedClient.id}`);
  const server = { own: await t.sdkKey(ENV), other: await t.sdkKey(OTHER_ENV) };
  // t.sdkKey names its keys `sdk-<environment>` and leaves the kind to the default: server.
  const keys = (await admin('GET', '/api/sdk-keys')) as { items: { name: string; environment: string; kind: string }[] };
  for (const environment of [ENV, OTHER_ENV]) {
    expect(keys.items.find((k) => k.name === `sdk-${environment}` && k.environment === environment)?.kind, 'the helper makes server keys').toBe('server');
  }
  expect(client.kind).toBe('client');
  return {
    viewer: t.tokens.viewer,
    editor: t.tokens.editor,
    admin: t.tokens.admin,
    'server sdk key of the environment': server.own,
    'server sdk key of another environment': server.other,
    'client key of the environment': client.key as string,
    'revoked admin token': revoked.token as string,
    'revoked client key': revokedClient.key as string,
    'no credential': null,
  };
}

/** A body no route accepts: refusal must come before validation would reject it. */
const INVALID_BODY = { 'not a field': ['x'] };

const TABLES = [...SNAPSHOT_TABLES, 'webhooks', 'sessions', 'release_plans', 'approval_policies', 'change_requests'];

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
        const admin = asAdmin(t);
        s = {
          t,
          unique: (prefix) => `${prefix}-${++counter}`,
          flag: async () => (await createFlag(t, `flag-${++counter}`)).key,
          admin,
        };
        credentials = await callers(t, admin);
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

/** How long a refusal may take; an accepted event stream would never answer `app.inject` at all. */
const ANSWER_WITHIN_MS = 5_000;

async function answered(request: Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse | 'no answer'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'no answer'>((resolve) => (timer = setTimeout(() => resolve('no answer'), ANSWER_WITHIN_MS)));
  try {
    return await Promise.race([request, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * ROUTES covers the writes; a client key must reach none of the reads either. They come straight
 * from the OpenAPI document, so a new read is checked without anyone listing it. Each is also sent
 * with the credential it takes, which must get past authorisation, so a refusal here is about the
 * kind of key.
 */
describe('client keys: every read of the OpenAPI document', () => {
  let t: TestContext;
  let credentials: Record<Caller, string | null>;
  let reads: Operation[];
  let params: Record<string, string>;

  beforeAll(async () => {
    // Every read is tried with a revoked key: more reads than the default failed-authentication limit per minute.
    t = await createTestApp({ background: false, authFailuresPerMinute: 1000 });
    const admin = asAdmin(t);
    credentials = await callers(t, admin);
    await createFlag(t, 'shared');
    await admin('POST', '/api/segments', { key: 'shared', name: 'Shared' });
    await admin('PUT', flagEnv('shared', '/release-plan'), { strategy: 'guarded' });
    const hook = await admin('POST', '/api/webhooks', { url: 'http://127.0.0.1:9/hook' });
    params = { key: 'shared', environment: ENV, id: String(hook.id), from: OTHER_ENV, to: ENV };
    reads = (await describeApi(t.app)).operations.filter((op) => op.method === 'GET');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the exceptions named here are operations of the document', () => {
    const ids = reads.map((op) => op.id);
    expect(ids).toEqual(expect.arrayContaining([...CLIENT_KEY_OPERATIONS.filter((id) => id.startsWith('GET ')), ...PUBLIC_READS]));
    expect(Object.keys(ROUTES)).toEqual(expect.arrayContaining(CLIENT_KEY_OPERATIONS.filter((id) => !id.startsWith('GET '))));
    expect(reads.length).toBeGreaterThan(15);
  });

  it('every read answers a client key 403 and a revoked one 401; the rightful credential is let in', async () => {
    const failures: string[] = [];
    const checked: string[] = [];
    for (const op of reads) {
      if (CLIENT_KEY_OPERATIONS.includes(op.id)) continue;
      const url = fillPath(op.path, params);
      const as = (caller: Caller) => answered(t.request(credentials[caller], { method: 'GET', url }));
      const client = await as('client key of the environment');
      const revoked = await as('revoked client key');
      if (client === 'no answer' || revoked === 'no answer') {
        failures.push(`${op.id}: no answer within ${ANSWER_WITHIN_MS} ms (an event stream accepted the key?)`);
        continue;
      }
      if (PUBLIC_READS.includes(op.id)) {
        // Public: the key adds nothing to what anyone gets.
        const anonymous = await t.request(null, { method: 'GET', url });
        if (client.statusCode !== anonymous.statusCode || client.body !== anonymous.body) failures.push(`${op.id}: a client key got ${client.statusCode}, no credential ${anonymous.statusCode}`);
        continue;
      }
      checked.push(op.id);
      for (const [caller, res, status] of [['client key', client, 403], ['revoked client key', revoked, 401]] as const) {
        if (res.statusCode !== status) {
          failures.push(`${op.id}: ${caller} got ${res.statusCode}, expected ${status}: ${res.body.slice(0, 200)}`);
        } else if (url.startsWith('/ofrep/')) {
          if (res.body !== '' || !String(res.headers['www-authenticate']).startsWith('Bearer ')) failures.push(`${op.id}: ${caller}: OFREP answers ${status} with WWW-Authenticate and no body`);
        } else if (res.json<ErrorBody>().error.code !== (status === 401 ? 'unauthorized' : 'forbidden')) {
          failures.push(`${op.id}: ${caller}: error code ${res.json<ErrorBody>().error.code}`);
        }
      }
      // An event stream never ends: `app.inject` cannot read one (ofrep-events and stream tests do).
      if (isEventStream(op)) continue;
      // (Reaching it is enough: an {id} may name the wrong kind of row for a route added later.)
      const rightful = await t.request(credentials[isSdkRoute(op) ? 'server sdk key of the environment' : 'admin'], { method: 'GET', url });
      if ([401, 403].includes(rightful.statusCode) || rightful.statusCode >= 500) failures.push(`${op.id}: the rightful credential got ${rightful.statusCode}: ${rightful.body.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    expect(checked).toEqual(expect.arrayContaining(['GET /api/sdk/rules', 'GET /api/sdk/stream', 'GET /api/events', 'GET /api/flags/{key}', 'GET /api/segments/{key}']));
  });

  it('GET /ofrep/v1/events takes a ticket, not a key: the client key alone gets nothing', async () => {
    const key = credentials['client key of the environment']!;
    const noTicket = await t.request(key, { method: 'GET', url: '/ofrep/v1/events' });
    expect(noTicket.statusCode).toBe(400);
    // (The last names an id beyond any row: once a PostgreSQL 500.)
    for (const ticket of [key, '1.' + 'A'.repeat(43), `${'9'.repeat(15)}.${'A'.repeat(43)}`]) {
      const res = await t.request(key, { method: 'GET', url: `/ofrep/v1/events?ticket=${encodeURIComponent(ticket)}` });
      expect(res.statusCode, ticket).toBe(401);
      expect(res.body).toBe('');
    }
  });
});
