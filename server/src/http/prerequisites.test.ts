import type { RuleSet } from '@switchyard/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

/** Prerequisites (issue 15) through every save path, on SQLite and PostgreSQL. */

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
  await createFlag(t, 'payments');
  await createFlag(t, 'checkout');
  await createFlag(t, 'theme', { type: 'string', variations: [{ key: 'light', value: 'light' }, { key: 'dark', value: 'dark' }] });
});
afterEach(async () => {
  await t.close();
});

const envUrl = (key: string, env = 'production') => `/api/flags/${key}/environments/${env}`;

async function version(key: string): Promise<number> {
  return (await t.request(t.adminToken, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>().version;
}

async function requireFlags(key: string, prerequisites: unknown, env = 'production') {
  return t.request(t.adminToken, { method: 'PATCH', url: envUrl(key, env), payload: { version: await version(key), prerequisites } });
}

function expectError(res: { statusCode: number; body: string; json: <T>() => T }, status: number, code: string, message: RegExp) {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json<ErrorBody>();
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(message);
  return body;
}

describe('saving prerequisites (PATCH targeting)', () => {
  it('stores them, returns them, and ships them to SDKs (absent when there are none)', async () => {
    const res = await requireFlags('checkout', [{ flag: 'payments', variation: 'on' }]);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<FlagBody>().environments.production).toMatchObject({ prerequisites: [{ flag: 'payments', variation: 'on' }] });
    const rules = (await t.request(await t.sdkKey('production'), { method: 'GET', url: '/api/sdk/rules' })).json<RuleSet>();
    expect(rules.flags.checkout!.prerequisites).toEqual([{ flag: 'payments', variation: 'on' }]);
    expect(rules.flags.payments).not.toHaveProperty('prerequisites');
    // Only production's configuration has them.
    const staging = (await t.request(await t.sdkKey('staging'), { method: 'GET', url: '/api/sdk/rules' })).json<RuleSet>();
    expect(staging.flags.checkout).not.toHaveProperty('prerequisites');
    // An empty list clears them: stored as none.
    const cleared = await requireFlags('checkout', []);
    expect(cleared.statusCode, cleared.body).toBe(200);
    expect(cleared.json<FlagBody>().environments.production).not.toHaveProperty('prerequisites');
  });

  it('400 for an unknown flag, naming the path', async () => {
    const body = expectError(await requireFlags('checkout', [{ flag: 'payments', variation: 'on' }, { flag: 'nope', variation: 'on' }]), 400, 'validation_failed', /unknown flag "nope"/);
    expect(body.error.message).toMatch(/^body\.prerequisites\[1\]\.flag: /);
  });

  it('400 for a variation the required flag does not have', async () => {
    const body = expectError(await requireFlags('checkout', [{ flag: 'theme', variation: 'blue' }]), 400, 'validation_failed', /flag "theme" has no variation "blue" \(it has "light", "dark"\)/);
    expect(body.error.details).toEqual([{ path: 'body.prerequisites[0].variation', message: expect.any(String) }]);
  });

  it('400 for malformed entries (zod), self-reference and duplicates', async () => {
    expectError(await requireFlags('checkout', [{ flag: 'payments' }]), 400, 'validation_failed', /prerequisites/);
    expectError(await requireFlags('checkout', [{ flag: 'Not A Key', variation: 'on' }]), 400, 'validation_failed', /prerequisites/);
    expectError(await requireFlags('checkout', [{ flag: 'payments', variation: 'on', extra: 1 }]), 400, 'validation_failed', /prerequisites/);
    expectError(await requireFlags('checkout', 'payments'), 400, 'validation_failed', /prerequisites/);
    expectError(await requireFlags('checkout', [{ flag: 'checkout', variation: 'on' }]), 400, 'validation_failed', /body\.prerequisites\[0\]\.flag: a flag cannot require itself/);
    expectError(
      await requireFlags('checkout', [{ flag: 'payments', variation: 'on' }, { flag: 'payments', variation: 'off' }]),
      400,
      'validation_failed',
      /body\.prerequisites\[1\]\.flag: flag "payments" is already a prerequisite/,
    );
    expect((await version('checkout'))).toBe(1);
  });

  it('400 for a cycle, naming it (two flags, and a longer chain), in the same environment only', async () => {
    expect((await requireFlags('checkout', [{ flag: 'payments', variation: 'on' }])).statusCode).toBe(200);
    expectError(await requireFlags('payments', [{ flag: 'checkout', variation: 'on' }]), 400, 'validation_failed', /prerequisite cycle in production: payments → checkout → payments/);
    expect((await requireFlags('payments', [{ flag: 'theme', variation: 'dark' }])).statusCode).toBe(200);
    expectError(await requireFlags('theme', [{ flag: 'checkout', variation: 'on' }]), 400, 'validation_failed', /cycle in production: theme → checkout → payments → theme/);
    // Another environment has its own graph: no cycle there.
    expect((await requireFlags('payments', [{ flag: 'checkout', variation: 'on' }], 'staging')).statusCode).toBe(200);
  });

  it('400 for a chain longer than the SDK evaluates', async () => {
    for (let i = 0; i <= 10; i++) await createFlag(t, `chain-${i}`);
    for (let i = 0; i < 10; i++) expect((await requireFlags(`chain-${i}`, [{ flag: `chain-${i + 1}`, variation: 'on' }])).statusCode).toBe(200);
    expectError(await requireFlags('chain-10', [{ flag: 'payments', variation: 'on' }]), 400, 'validation_failed', /longer than 10: chain-0 → .* → chain-10 → payments/);
  });

  it('400 for an archived prerequisite', async () => {
    const archived = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/payments', payload: { version: 1, archived: true } });
    expect(archived.statusCode).toBe(200);
    expectError(await requireFlags('checkout', [{ flag: 'payments', variation: 'on' }]), 400, 'validation_failed', /flag "payments" is archived/);
  });
});

describe('flags that others require', () => {
  beforeEach(async () => {
    expect((await requireFlags('checkout', [{ flag: 'payments', variation: 'on' }])).statusCode).toBe(200);
    expect((await requireFlags('checkout', [{ flag: 'payments', variation: 'on' }], 'staging')).statusCode).toBe(200);
  });

  it('409 deleting one, naming the dependents; fine once they let go', async () => {
    const body = expectError(
      await t.request(t.adminToken, { method: 'DELETE', url: '/api/flags/payments', payload: { version: 1 } }),
      409,
      'conflict',
      /flag "payments" is a prerequisite of "checkout" \(production, staging\)/,
    );
    expect(body.error.details).toMatchObject({ dependents: [{ flag: 'checkout', requires: 'payments', reason: 'missing' }, { flag: 'checkout' }] });
    expect((await t.request(t.adminToken, { method: 'GET', url: '/api/flags/payments' })).statusCode).toBe(200);
    await requireFlags('checkout', []);
    await requireFlags('checkout', [], 'staging');
    expect((await t.request(t.adminToken, { method: 'DELETE', url: '/api/flags/payments', payload: { version: 1 } })).statusCode).toBe(200);
  });

  it('409 archiving one; restoring an archived dependent checks its prerequisites again', async () => {
    expectError(await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/payments', payload: { version: 1, archived: true } }), 409, 'conflict', /prerequisite of "checkout"/);
    // Archive the dependent first: then the prerequisite may go.
    expect((await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout', payload: { version: await version('checkout'), archived: true } })).statusCode).toBe(200);
    expect((await t.request(t.adminToken, { method: 'DELETE', url: '/api/flags/payments', payload: { version: 1 } })).statusCode).toBe(200);
    expectError(
      await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout', payload: { version: await version('checkout'), archived: false } }),
      400,
      'validation_failed',
      /environments\.(production|staging)\.prerequisites\[0\]\.flag: unknown flag "payments"/,
    );
  });

  it('409 removing a variation a prerequisite requires', async () => {
    await requireFlags('payments', [{ flag: 'theme', variation: 'dark' }]);
    const res = await t.request(t.adminToken, {
      method: 'PATCH',
      url: '/api/flags/theme',
      payload: { version: await version('theme'), variations: [{ key: 'light', value: 'light' }, { key: 'dim', value: 'dim' }] },
    });
    expectError(res, 409, 'conflict', /variation "dark" of flag "theme" is a prerequisite of "payments" \(production\)/);
  });

  it('stage changes and kills keep the prerequisites; a killed prerequisite fails them (OFREP)', async () => {
    await setStage(t, 'checkout', 'production', '100%');
    const sdk = await t.sdkKey('production');
    const evaluate = async () => (await t.request(sdk, { method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', payload: { context: { targetingKey: 'user-1' } } })).json();
    expect(await evaluate()).toEqual({ key: 'checkout', value: false, reason: 'PREREQUISITE_FAILED', variant: 'off', metadata: { prerequisiteKey: 'payments' } });
    await setStage(t, 'payments', 'production', '100%');
    expect(await evaluate()).toMatchObject({ value: true, reason: 'STATIC', variant: 'on', metadata: {} });
    await setStage(t, 'payments', 'production', 'kill');
    expect(await evaluate()).toMatchObject({ value: false, reason: 'PREREQUISITE_FAILED', metadata: { prerequisiteKey: 'payments' } });
    const flag = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/checkout' })).json<FlagBody>();
    expect(flag.environments.production).toMatchObject({ prerequisites: [{ flag: 'payments', variation: 'on' }] });
    // Bulk evaluation with a client key: the value, never which flag it required.
    await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout', payload: { version: flag.version, clientVisible: true } });
    const client = await t.request(t.adminToken, { method: 'POST', url: '/api/sdk-keys', payload: { name: 'web', environment: 'production', kind: 'client' } });
    expect(client.statusCode, client.body).toBe(201);
    const bulk = await t.request(client.json<{ key: string }>().key, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: { targetingKey: 'user-1' } } });
    expect(bulk.json<{ flags: unknown[] }>().flags).toEqual([{ key: 'checkout', value: false, reason: 'PREREQUISITE_FAILED', variant: 'off', metadata: {} }]);
  });
});

describe('other save paths', () => {
  it('promotion copies prerequisites and refuses a cycle it would make', async () => {
    expect((await requireFlags('checkout', [{ flag: 'payments', variation: 'on' }], 'staging')).statusCode).toBe(200);
    const preview = await t.request(t.adminToken, { method: 'GET', url: '/api/flags/checkout/promote?from=staging&to=production' });
    expect(preview.statusCode, preview.body).toBe(200);
    expect(JSON.stringify(preview.json())).toContain('Prerequisites: none → payments is on');
    const promoted = await t.request(t.adminToken, { method: 'POST', url: '/api/flags/checkout/promote', payload: { from: 'staging', to: 'production', version: await version('checkout') } });
    expect(promoted.statusCode, promoted.body).toBe(200);
    expect((await t.request(t.adminToken, { method: 'GET', url: '/api/flags/checkout' })).json<FlagBody>().environments.production).toMatchObject({ prerequisites: [{ flag: 'payments', variation: 'on' }] });

    // payments requires checkout in staging only; promoting that to production would close a cycle.
    expect((await requireFlags('payments', [{ flag: 'checkout', variation: 'on' }], 'staging')).statusCode).toBe(400);
    expect((await requireFlags('checkout', [], 'staging')).statusCode).toBe(200);
    expect((await requireFlags('payments', [{ flag: 'checkout', variation: 'on' }], 'staging')).statusCode).toBe(200);
    const refused = await t.request(t.adminToken, { method: 'POST', url: '/api/flags/payments/promote', payload: { from: 'staging', to: 'production', version: await version('payments') } });
    expectError(refused, 400, 'validation_failed', /environments\.production\.prerequisites: prerequisite cycle in production: payments → checkout → payments/);
  });

  it('an audit revert that would bring back a deleted prerequisite is refused', async () => {
    await createFlag(t, 'gone');
    expect((await requireFlags('checkout', [{ flag: 'gone', variation: 'on' }])).statusCode).toBe(200);
    await requireFlags('checkout', []);
    expect((await t.request(t.adminToken, { method: 'DELETE', url: '/api/flags/gone', payload: { version: 1 } })).statusCode).toBe(200);
    const audit = await t.request(t.adminToken, { method: 'GET', url: '/api/audit?resourceType=flag&resourceKey=checkout' });
    const entries = audit.json<{ items: { id: number; action: string; before: { environments?: Record<string, { prerequisites?: unknown[] }> } | null }[] }>().items;
    // The change that cleared them: reverting it restores the prerequisite on "gone".
    const cleared = entries.find((e) => e.action === 'flag.environment_updated' && e.before?.environments?.production?.prerequisites?.length === 1)!;
    expect(cleared).toBeDefined();
    const res = await t.request(t.tokens.editor, { method: 'POST', url: `/api/audit/${cleared.id}/revert`, payload: { version: await version('checkout') } });
    expectError(res, 400, 'validation_failed', /prerequisites\[0\]\.flag: unknown flag "gone"/);
  });
});
