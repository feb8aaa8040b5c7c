import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

/**
 * Object-prototype names (issue 11, item 2). Attribute, environment, flag and segment names are
 * user data: `constructor`, `__proto__`, `toString`, `hasOwnProperty` are looked up as own keys
 * (or in Maps) everywhere, so they behave like any other name — never as Object.prototype members.
 * Attribute names like `__proto__` are allowed: every lookup is an own-property one.
 */

let t: TestContext;
let sdk: string;
beforeEach(async () => {
  t = await createTestApp();
  sdk = await t.sdkKey('production');
  await createFlag(t, 'checkout');
});
afterEach(async () => {
  await t.close();
});

const single = (context: Record<string, unknown>, key = 'checkout') => t.request(sdk, { method: 'POST', url: `/ofrep/v1/evaluate/flags/${key}`, payload: { context } });
const bulk = (context: Record<string, unknown>) => t.request(sdk, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context } });

async function saveRules(rules: unknown[]): Promise<void> {
  const res = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout/environments/production', payload: { version: 1, on: true, rules } });
  expect(res.statusCode, res.body).toBe(200);
}

interface AttributeCase {
  name: string;
  clause: { attribute: string; operator: string; values: unknown[] };
}

const ATTRIBUTE_RULES: AttributeCase[] = [
  { name: '__proto__ in', clause: { attribute: '__proto__', operator: 'in', values: ['x'] } },
  { name: '__proto__ not_in', clause: { attribute: '__proto__', operator: 'not_in', values: ['x'] } },
  { name: '__proto__ matches', clause: { attribute: '__proto__', operator: 'matches', values: ['^x$'] } },
  { name: 'constructor not_in', clause: { attribute: 'constructor', operator: 'not_in', values: ['x'] } },
  { name: 'toString contains', clause: { attribute: 'toString', operator: 'contains', values: ['native'] } },
  { name: 'hasOwnProperty starts_with', clause: { attribute: 'hasOwnProperty', operator: 'starts_with', values: ['f'] } },
];

describe('a rule on a prototype name', () => {
  it.each(ATTRIBUTE_RULES)('$name: saved, then single and bulk OFREP answer 200, and a context without the attribute does not match', async ({ clause }) => {
    await saveRules([{ id: 'proto', clauses: [clause], serve: { variation: 'on' } }]);
    const one = await single({ targetingKey: 'u' });
    expect(one.statusCode, one.body).toBe(200);
    expect(one.json()).toMatchObject({ value: false, reason: 'STATIC' });
    const all = await bulk({ targetingKey: 'u' });
    expect(all.statusCode, all.body).toBe(200);
    expect(all.json<{ flags: { key: string; value: unknown }[] }>().flags).toContainEqual(expect.objectContaining({ key: 'checkout', value: false }));
  });

  it('constructor not_in ["x"] matches a context that has constructor with another value', async () => {
    await saveRules([{ id: 'c', clauses: [{ attribute: 'constructor', operator: 'not_in', values: ['x'] }], serve: { variation: 'on' } }]);
    expect((await single({ targetingKey: 'u', constructor: 'y' })).json()).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect((await single({ targetingKey: 'u', constructor: 'x' })).json()).toMatchObject({ value: false });
  });

  it('a context carrying a __proto__ key is refused with a 400, never used as the prototype', async () => {
    await saveRules([{ id: 'proto', clauses: [{ attribute: '__proto__', operator: 'in', values: ['x'] }], serve: { variation: 'on' } }]);
    const res = await t.request(sdk, { method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', headers: { 'content-type': 'application/json' }, payload: '{"context":{"targetingKey":"u","__proto__":"x"}}' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ key: 'checkout', errorCode: 'PARSE_ERROR' });
  });
});

const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];

interface RouteCase {
  name: string;
  method: 'GET' | 'POST' | 'PATCH';
  url: (env: string) => string;
  payload?: Record<string, unknown>;
}

const ROUTES: RouteCase[] = [
  { name: 'GET release-plan', method: 'GET', url: (env) => `/api/flags/checkout/environments/${env}/release-plan` },
  { name: 'POST stage', method: 'POST', url: (env) => `/api/flags/checkout/environments/${env}/stage`, payload: { stage: 'dogfood', version: 1 } },
  { name: 'PATCH environment', method: 'PATCH', url: (env) => `/api/environments/${env}`, payload: { name: 'Renamed' } },
  { name: 'POST switch', method: 'POST', url: (env) => `/api/flags/checkout/environments/${env}/switch`, payload: { version: 1 } },
];

const ENVIRONMENT_CASES = NAMES.flatMap((env) => ROUTES.map((route) => ({ ...route, env, label: `${route.name} in "${env}"` })));

describe('an unknown environment with a prototype name', () => {
  it.each(ENVIRONMENT_CASES)('$label → 404 naming it', async ({ method, url, payload, env }) => {
    const res = await t.request(t.adminToken, { method, url: url(env), ...(payload ? { payload } : {}) });
    expect(res.statusCode, res.body).toBe(404);
    expect(res.json<ErrorBody>().error).toMatchObject({ code: 'not_found', message: `environment "${env}" not found` });
  });

  it('filtering flags by stage in an unknown environment named constructor finds none', async () => {
    const res = await t.request(t.adminToken, { method: 'GET', url: '/api/flags?environment=constructor&stage=custom' });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ items: unknown[] }>().items).toEqual([]);
  });
});

describe('an environment called constructor (a valid slug)', () => {
  beforeEach(async () => {
    const res = await t.request(t.adminToken, { method: 'POST', url: '/api/environments', payload: { key: 'constructor' } });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('GitOps apply writes to it (merging SDK patches by environment)', async () => {
    const document = 'environments:\n  constructor: {}\n  production: {}\nflags:\n  fresh:\n    environments:\n      constructor: { stage: off }\n';
    const res = await t.request(t.adminToken, { method: 'POST', url: '/api/gitops/apply', payload: { document, filename: 'flags.yaml' } });
    expect(res.statusCode, res.body).toBe(200);
    const flag = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/fresh' })).json<FlagBody>();
    expect(Object.keys(flag.environments)).toContain('constructor');
  });

  it('its SDKs get its rule set and OFREP evaluates in it', async () => {
    const key = await t.sdkKey('constructor');
    const rules = await t.request(key, { method: 'GET', url: '/api/sdk/rules' });
    expect(rules.statusCode).toBe(200);
    expect(Object.keys(rules.json<{ flags: object }>().flags)).toEqual(['checkout']);
    const res = await t.request(key, { method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', payload: { context: { targetingKey: 'u' } } });
    expect(res.json()).toMatchObject({ key: 'checkout', reason: 'DISABLED' });
  });
});

describe('an environment called constructor created after a change', () => {
  it('reverting the change gives it a fresh configuration', async () => {
    const staged = await t.request(t.adminToken, { method: 'POST', url: '/api/flags/checkout/environments/production/stage', payload: { stage: 'dogfood', version: 1 } });
    expect(staged.statusCode, staged.body).toBe(200);
    const created = await t.request(t.adminToken, { method: 'POST', url: '/api/environments', payload: { key: 'constructor' } });
    expect(created.statusCode, created.body).toBe(201);
    // The stage change's snapshot predates "constructor": it has no configuration for it.
    const entries = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/checkout/audit' })).json<{ items: { id: number; action: string }[] }>().items;
    const stageEntry = entries.find((e) => e.action === 'flag.stage_changed')!;
    const res = await t.request(t.adminToken, { method: 'POST', url: `/api/audit/${stageEntry.id}/revert`, payload: { version: 2 } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ flag: FlagBody }>().flag.environments.constructor).toMatchObject({ on: false, stage: 'off' });
  });
});
