import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp, type AppOptions, type Services } from '../app.js';
import { bootstrap } from '../services/bootstrap.js';
import type { AuditContext } from '../domain/audit.js';
import type { Flag, Managed } from '../domain/flags.js';
import type { Database } from '../store/ports.js';
import { dumpTables, openTestDatabase, type TestDatabase } from './databases.js';

/**
 * A whole server on a fresh database, for `app.inject` tests: the real repositories, the real
 * routes, no mocks. The dialect comes from SWITCHYARD_TEST_DIALECT (`sqlite`, the default: an
 * in-memory database; `postgres`: a fresh schema, see testing/databases.ts), so the same tests run
 * on both. Editor and viewer tokens and SDK keys are created through the API, so the helper itself
 * exercises token creation.
 */

export const TEST_ADMIN_TOKEN = 'sy_api_test_admin_token_0123456789abcdefghijklmnop';

export type TestApp = FastifyInstance & { services: Services };

export interface TestContext {
  app: TestApp;
  services: Services;
  db: Database;
  adminToken: string;
  tokens: { admin: string; editor: string; viewer: string };
  /** An SDK key for `environment` (created through the API on first use, then cached). */
  sdkKey(environment: string): Promise<string>;
  /** `app.inject` with `Authorization: Bearer <token>` (when a token is given). */
  request(token: string | null, options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface TestAppOptions extends Partial<Omit<AppOptions, 'db'>> {
  /** Clock for writes (audit timestamps, updatedAt). Default: a deterministic counter. */
  now?: () => number;
}

/** A clock that starts at a fixed instant and ticks one millisecond per reading. */
export function fakeClock(start = Date.UTC(2026, 0, 1)): () => number {
  let t = start;
  return () => t++;
}

export const bearerHeader = (token: string) => ({ authorization: `Bearer ${token}` });

export async function createTestApp(options: TestAppOptions = {}): Promise<TestContext> {
  const database: TestDatabase = await openTestDatabase('app');
  const app = await buildApp({ defaultMetrics: false, dashboardDir: null, ...options, now: options.now ?? fakeClock(), db: database.db });
  await bootstrap(app.services.writes, app.services.environments, TEST_ADMIN_TOKEN);
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
    services: app.services,
    db: database.db,
    adminToken: TEST_ADMIN_TOKEN,
    tokens,
    sdkKey,
    request,
    async close() {
      await app.close();
      await database.close();
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

/** Every table a request could change, read straight from the database: for "nothing changed" checks. */
export const SNAPSHOT_TABLES = ['environments', 'flags', 'flag_environments', 'segments', 'audit_log', 'api_tokens', 'sdk_keys', 'change_feed', 'webhook_deliveries'] as const;

export async function snapshotDatabase(db: Database): Promise<Record<string, unknown[]>> {
  const snapshot = await dumpTables(db, SNAPSHOT_TABLES);
  // lastUsedAt is informational and touched by authentication itself, not by the request's write.
  snapshot.api_tokens = snapshot.api_tokens!.map(({ last_used_at: _ignored, ...rest }) => rest);
  return snapshot;
}

export async function auditCount(db: Database): Promise<number> {
  return (await dumpTables(db, ['audit_log'])).audit_log!.length;
}

/**
 * A flag change through the service's one write path, for tests that need a mutation the API
 * cannot express (or one behind a Git sync's back, with `evenIfManaged`).
 */
export function changeFlag(
  t: Pick<TestContext, 'services'>,
  key: string,
  expected: number | undefined,
  mutate: (flag: Flag) => Flag,
  ctx: AuditContext = { actor: 'system', source: 'system' },
  evenIfManaged = false,
): Promise<Managed<Flag>> {
  const { writes, flags } = t.services;
  return writes.write(ctx, (tx, at) => flags.changeIn(tx, at, ctx, key, expected, { action: 'flag.updated', environment: null, evenIfManaged }, mutate));
}

/** A flag as the service reads it (not through the API). */
export async function readFlag(t: Pick<TestContext, 'services'>, key: string): Promise<Flag> {
  return (await t.services.flags.get(key)).value;
}
