import type { RuleSet } from '@switchyard/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

/** Prerequisites in flags-as-code files (issue 15): validated on plan and apply, exported back. */

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

const apply = (document: string, extra: Record<string, unknown> = {}) => t.request(t.adminToken, { method: 'POST', url: '/api/gitops/apply', payload: { document, filename: 'flags.yaml', ...extra } });
const plan = (document: string, extra: Record<string, unknown> = {}) => t.request(t.adminToken, { method: 'POST', url: '/api/gitops/plan', payload: { document, filename: 'flags.yaml', ...extra } });

const HEAD = `environments:
  production: { name: Production, critical: true }
  staging: { name: Staging }
  development: { name: Development }
segments:
  internal:
    included: [alice]
flags:
`;

const file = (flags: string) => `${HEAD}${flags}`;

function expectInvalid(res: { statusCode: number; body: string; json: <T>() => T }, message: RegExp) {
  expect(res.statusCode, res.body).toBe(400);
  const body = res.json<ErrorBody>();
  expect(body.error.code).toBe('validation_failed');
  expect(body.error.message).toMatch(message);
  return body;
}

describe('prerequisites in flag files', () => {
  it('applies them (full targeting and stage entries), ships them to SDKs and exports them back', async () => {
    const doc = file(`  payments:
    environments:
      production: { stage: 100% }
  checkout:
    environments:
      production:
        stage: 10%
        prerequisites: [{ flag: payments, variation: "on" }]
      staging:
        on: true
        offVariation: "off"
        prerequisites:
          - { flag: payments, variation: "on" }
        targets: []
        rules: []
        defaultServe: { variation: "on" }
        salt: checkout
        bucketBy: userId
`);
    const planned = await plan(doc);
    expect(planned.statusCode, planned.body).toBe(200);
    const res = await apply(doc);
    expect(res.statusCode, res.body).toBe(200);
    const flag = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/checkout' })).json<FlagBody>();
    expect(flag.environments.production).toMatchObject({ prerequisites: [{ flag: 'payments', variation: 'on' }], stage: '10%' });
    expect(flag.environments.staging).toMatchObject({ prerequisites: [{ flag: 'payments', variation: 'on' }] });
    const rules = (await t.request(await t.sdkKey('production'), { method: 'GET', url: '/api/sdk/rules' })).json<RuleSet>();
    expect(rules.flags.checkout!.prerequisites).toEqual([{ flag: 'payments', variation: 'on' }]);

    const exported = (await t.request(t.adminToken, { method: 'GET', url: '/api/gitops/export', headers: { accept: 'application/json' } })).json<{
      flags: Record<string, { environments: Record<string, Record<string, unknown>> }>;
    }>();
    // The stage entry keeps its prerequisites; flags without any do not mention them.
    expect(exported.flags.checkout!.environments.production).toEqual({ stage: '10%', prerequisites: [{ flag: 'payments', variation: 'on' }] });
    expect(exported.flags.payments!.environments.production).not.toHaveProperty('prerequisites');
    // Applying the export again changes nothing.
    const again = await plan(JSON.stringify(exported));
    expect(again.json<{ changes: unknown[] }>().changes).toEqual([]);
  });

  it('plan and apply refuse an unknown flag, with the file position and path', async () => {
    const doc = file(`  checkout:
    environments:
      production:
        stage: 10%
        prerequisites: [{ flag: nope, variation: "on" }]
`);
    for (const res of [await plan(doc), await apply(doc)]) {
      const body = expectInvalid(res, /flags\.yaml:\d+:\d+ .*flags\.checkout\.environments\.production\.prerequisites\[0\]\.flag.*unknown flag "nope"|unknown flag "nope"/);
      expect(body.error.details).toMatchObject([{ path: 'flags.checkout.environments.production.prerequisites[0].flag', file: 'flags.yaml', line: 13 }]);
    }
    expect((await t.request(t.adminToken, { method: 'GET', url: '/api/flags/checkout' })).statusCode).toBe(404);
  });

  it('refuses a variation the required flag lacks, and a flag the server has but the file does not define is fine', async () => {
    await createFlag(t, 'theme', { type: 'string', variations: [{ key: 'light', value: 'light' }, { key: 'dark', value: 'dark' }] });
    expectInvalid(
      await plan(file(`  checkout:
    environments:
      production: { stage: "off", prerequisites: [{ flag: theme, variation: blue }] }
`)),
      /flag "theme" has no variation "blue"/,
    );
    const ok = await apply(file(`  checkout:
    environments:
      production: { stage: "off", prerequisites: [{ flag: theme, variation: dark }] }
`));
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('refuses a cycle inside the file, naming it', async () => {
    const doc = file(`  a:
    environments:
      production: { stage: "off", prerequisites: [{ flag: b, variation: "on" }] }
  b:
    environments:
      production: { stage: "off", prerequisites: [{ flag: c, variation: "on" }] }
  c:
    environments:
      production: { stage: "off", prerequisites: [{ flag: a, variation: "on" }] }
`);
    expectInvalid(await plan(doc), /prerequisite cycle in production: a → b → c → a/);
    expectInvalid(await apply(doc), /prerequisite cycle in production/);
  });

  it('a prune that deletes a required flag is refused, naming the dependents', async () => {
    const both = file(`  payments: {}
  checkout:
    environments:
      production: { stage: "off", prerequisites: [{ flag: payments, variation: "on" }] }
`);
    expect((await apply(both)).statusCode).toBe(200);
    // The file drops payments but checkout still requires it.
    const dropped = file(`  checkout:
    environments:
      production: { stage: "off", prerequisites: [{ flag: payments, variation: "on" }] }
`);
    expectInvalid(await plan(dropped, { prune: true }), /unknown flag "payments"/);
    // A flag the server has and the file does not name, required by a flag the server has, cannot be pruned either.
    await createFlag(t, 'other');
    const other = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/other/environments/production', payload: { version: 1, prerequisites: [{ flag: 'payments', variation: 'on' }] } });
    expect(other.statusCode, other.body).toBe(200);
    expectInvalid(
      await apply(file(`  checkout:
    environments:
      production: { stage: "off" }
  other: {}
`), { prune: true }),
      /flag "payments" is a prerequisite of "other" \(production\)/,
    );
    expect((await t.request(t.adminToken, { method: 'GET', url: '/api/flags/payments' })).statusCode).toBe(200);
  });

  it('the published JSON Schema describes prerequisites', async () => {
    const schema = await t.request(t.adminToken, { method: 'GET', url: '/api/gitops/schema.json' });
    expect(schema.statusCode).toBe(200);
    expect(schema.body).toContain('PREREQUISITE_FAILED');
  });
});
