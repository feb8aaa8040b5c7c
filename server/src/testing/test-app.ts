import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp, type Services } from '../app.js';
import { bootstrap } from '../services/bootstrap.js';
import { createDb, migrate, type Db } from '../store/sqlite/connection.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';

/**
 * A whole server on a fresh in-memory SQLite database, for `app.inject` tests: the real store, the
 * real routes, no mocks. Editor and viewer tokens and SDK keys are created through the API, so the
 * helper itself exercises token creation.
 */

export const TEST_ADMIN_TOKEN = 'sy_api_test_admin_token_0123456789abcdefghijklmnop';

export type TestApp = FastifyInstance & { services: Services };

export interface TestContext {
  app: TestApp;
  store: SqliteStore;
  db: Db;
  adminToken: string;
  tokens: { admin: string; editor: string; viewer: string };
  /** An SDK key for `environment` (created through the API on first use, then cached). */
  sdkKey(environment: string): Promise<string>;
  /** `app.inject` with `Authorization: Bearer <token>` (when a token is given). */
  request(token: string | null, options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Clock for the store (audit timestamps, updatedAt). Default: a deterministic counter. */
  now?: () => number;
}

/** A clock that starts at a fixed instant and ticks one millisecond per reading. */
export function fakeClock(start = Date.UTC(2026, 0, 1)): () => number {
  let t = start;
  return () => t++;
}

export const bearerHeader = (token: string) => ({ authorization: `Bearer ${token}` });

export async function createTestApp(options: TestAppOptions = {}): Promise<TestContext> {
  const db = createDb(':memory:');
  migrate(db);
  const store = new SqliteStore(db, options.now ?? fakeClock());
  await bootstrap(store, TEST_ADMIN_TOKEN);
  const app = await buildApp({ store, defaultMetrics: false, dashboardDir: null });
  await app.ready();

  async function request(token: string | null, opts: InjectOptions): Promise<LightMyRequestResponse> {
    const headers = { ...(token === null ? {} : bearerHeader(token)), ...(opts.headers ?? {}) };
    return app.inject({ ...opts, headers });
  }

  async function createToken(name: string, role: 'editor' | 'viewer'): Promise<string> {
    const res = await request(TEST_ADMIN_TOKEN, { method: 'POST', url: '/api/tokens', payload: { name, role } });
    if (res.statusCode !== 201) throw new Error(`creating the ${role} token failed: ${res.statusCode} ${res.body}`);
    return res.json<{ token: string }>().token;
  }

  const tokens = { admin: TEST_ADMIN_TOKEN, editor: await createToken('editor', 'editor'), viewer: await createToken('viewer', 'viewer') };
  const sdkKeys = new Map<string, string>();

  async function sdkKey(environment: string): Promise<string> {
    const cached = sdkKeys.get(environment);
    if (cached) return cached;
    const res = await request(TEST_ADMIN_TOKEN, { method: 'POST', url: '/api/sdk-keys', payload: { name: `sdk-${environment}`, environment } });
    if (res.statusCode !== 201) throw new Error(`creating an SDK key for ${environment} failed: ${res.statusCode} ${res.body}`);
    const key = res.json<{ key: string }>().key;
    sdkKeys.set(environment, key);
    return key;
  }

  return {
    app,
    store,
    db,
    adminToken: TEST_ADMIN_TOKEN,
    tokens,
    sdkKey,
    request,
    async close() {
      await app.close();
      await store.close();
    },
  };
}

/** The error body every failure has: `{ error: { code, message, details? } }`. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** Create a boolean flag as the admin; returns the response body. */
export async function createFlag(t: TestContext, key: string, extra: Record<string, unknown> = {}): Promise<FlagBody> {
  const res = await t.request(t.adminToken, { method: 'POST', url: '/api/flags', payload: { key, ...extra } });
  if (res.statusCode !== 201) throw new Error(`creating flag ${key} failed: ${res.statusCode} ${res.body}`);
  return res.json<FlagBody>();
}

/** Move a flag to a stage (reading its current version first). */
export async function setStage(t: TestContext, key: string, environment: string, stage: string, extra: Record<string, unknown> = {}): Promise<FlagBody> {
  const current = await t.request(t.adminToken, { method: 'GET', url: `/api/flags/${key}` });
  const version = current.json<FlagBody>().version;
  const res = await t.request(t.adminToken, { method: 'POST', url: `/api/flags/${key}/environments/${environment}/stage`, payload: { stage, version, ...extra } });
  if (res.statusCode !== 200) throw new Error(`stage ${stage} for ${key} failed: ${res.statusCode} ${res.body}`);
  return res.json<FlagBody>();
}

/** The loose shape of a flag response, enough for assertions. */
export interface FlagBody {
  key: string;
  name: string;
  description: string;
  tags: string[];
  owner: string;
  type: string;
  variations: { key: string; value: unknown }[];
  archived: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
  environments: Record<string, FlagEnvironmentBody>;
}

export interface FlagEnvironmentBody {
  on: boolean;
  killed: boolean;
  offVariation: string;
  targets: { variation: string; values: string[] }[];
  rules: { id: string; clauses: { attribute: string; operator: string; values: unknown[] }[]; serve: unknown }[];
  defaultServe: { variation: string } | { rollout: { variations: { variation: string; weight: number }[] } };
  salt: string;
  bucketBy: string;
  stage: string;
}

/** Every table a request could change, read straight from SQLite: for "nothing changed" checks. */
export function snapshotDatabase(db: Db): Record<string, unknown[]> {
  const tables = ['environments', 'flags', 'flag_environments', 'segments', 'audit_log', 'api_tokens', 'sdk_keys'];
  const snapshot: Record<string, unknown[]> = {};
  for (const table of tables) {
    const rows = db.$client.prepare(`select * from ${table} order by rowid`).all() as Record<string, unknown>[];
    // lastUsedAt is informational and touched by authentication itself, not by the request's write.
    snapshot[table] = table === 'api_tokens' ? rows.map(({ last_used_at: _ignored, ...rest }) => rest) : rows;
  }
  return snapshot;
}

export function auditCount(db: Db): number {
  return (db.$client.prepare('select count(*) as n from audit_log').get() as { n: number }).n;
}
