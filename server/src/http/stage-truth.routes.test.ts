import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, type FlagBody, type FlagEnvironmentBody, type TestContext } from '../testing/test-app.js';

/**
 * The stage a flag reports is the truth: a stage only when the targeting is exactly that stage,
 * else `custom` with what it is (`stageSummary`); a killed flag says where it was (`killedFrom`) and
 * one stage change brings it back.
 */
const ENV = 'production';
const MINUTE = 60_000;
const PRO_RULE = { id: 'pro', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } };

type EnvironmentView = FlagEnvironmentBody & { stageSummary: string; killedFrom: string | null };

let t: TestContext;
const clock = { t: Date.UTC(2026, 0, 1) };
beforeEach(async () => {
  clock.t = Date.UTC(2026, 0, 1);
  t = await createTestApp({ now: () => clock.t++, background: false });
  await createFlag(t, 'checkout');
});
afterEach(async () => {
  await t.close();
});

async function read(key = 'checkout'): Promise<{ flag: FlagBody; env: EnvironmentView }> {
  const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` });
  expect(res.statusCode, res.body).toBe(200);
  const flag = res.json<FlagBody>();
  return { flag, env: flag.environments[ENV] as EnvironmentView };
}

/** Add the rule (`plan in [pro]` → the release variation) after the existing ones. */
async function addProRule(): Promise<void> {
  const { flag, env } = await read();
  const res = await t.request(t.tokens.editor, { method: 'PATCH', url: `/api/flags/checkout/environments/${ENV}`, payload: { version: flag.version, rules: [...env.rules, PRO_RULE] } });
  expect(res.statusCode, res.body).toBe(200);
}

async function evaluate(context: Record<string, string>): Promise<unknown> {
  const res = await t.request(await t.sdkKey(ENV), { method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', payload: { context } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ value: unknown }>().value;
}

const listKeys = async (query: string) =>
  (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags${query}` })).json<{ items: FlagBody[] }>().items.map((f) => f.key);

describe('the stage a flag reports', () => {
  it('is not "dogfood" when a rule also serves the release variation to pro users', async () => {
    await setStage(t, 'checkout', ENV, 'dogfood');
    expect((await read()).env).toMatchObject({ stage: 'dogfood', stageSummary: 'dogfood', killedFrom: null });
    await addProRule();
    // What SDKs get: a pro user who is not a dogfood user has it.
    expect(await evaluate({ targetingKey: 'customer-1', plan: 'pro' })).toBe(true);
    expect(await evaluate({ targetingKey: 'customer-2', plan: 'free' })).toBe(false);
    expect((await read()).env).toMatchObject({ stage: 'custom', stageSummary: 'dogfood + 1 rule', killedFrom: null });
    // The list filters on the same truth.
    expect(await listKeys(`?stage=dogfood&environment=${ENV}`)).toEqual([]);
    expect(await listKeys(`?stage=custom&environment=${ENV}`)).toEqual(['checkout']);
  });

  it('moving a custom configuration to a stage keeps its other rules, and says so', async () => {
    await setStage(t, 'checkout', ENV, 'dogfood');
    await addProRule();
    const after = (await setStage(t, 'checkout', ENV, '10%')).environments[ENV] as EnvironmentView;
    expect(after).toMatchObject({ stage: 'custom', stageSummary: '10% + 1 rule' });
    expect(after.rules.map((r) => r.id)).toEqual(['dogfood', 'pro']);
  });
});

describe('a kill remembers the stage it came from', () => {
  it('reports killedFrom, and one audited stage change restores it', async () => {
    await setStage(t, 'checkout', ENV, '100%');
    const killed = await t.request(t.tokens.editor, { method: 'POST', url: `/api/flags/checkout/environments/${ENV}/kill`, payload: { message: 'INC-7' } });
    expect(killed.statusCode, killed.body).toBe(200);
    expect(killed.json<FlagBody>().environments[ENV]).toMatchObject({ stage: 'kill', stageSummary: 'killed (was 100%)', killedFrom: '100%' });
    expect(await evaluate({ targetingKey: 'anyone' })).toBe(false);

    const { env } = await read();
    expect(env.killedFrom).toBe('100%');
    const restored = await setStage(t, 'checkout', ENV, env.killedFrom!, { message: 'restore after INC-7' });
    expect(restored.environments[ENV]).toMatchObject({ stage: '100%', stageSummary: '100%', killedFrom: null });
    expect(await evaluate({ targetingKey: 'anyone' })).toBe(true);

    const audit = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/audit?resourceType=flag&limit=1' });
    const [entry] = audit.json<{ items: { action: string; environment: string; message: string | null }[] }>().items;
    expect(entry).toMatchObject({ action: 'flag.stage_changed', environment: ENV, message: 'restore after INC-7' });
  });

  it('keeps the other rules through kill and restore', async () => {
    await setStage(t, 'checkout', ENV, 'dogfood');
    await addProRule();
    const before = (await read()).env;
    await t.request(t.tokens.editor, { method: 'POST', url: `/api/flags/checkout/environments/${ENV}/kill`, payload: {} });
    const killed = (await read()).env;
    expect(killed).toMatchObject({ stage: 'kill', stageSummary: 'killed (was dogfood + 1 rule)', killedFrom: 'dogfood' });
    const restored = (await setStage(t, 'checkout', ENV, killed.killedFrom!)).environments[ENV];
    expect(restored).toEqual(before);
  });

  it('a flag killed while off was off', async () => {
    const killed = await t.request(t.tokens.editor, { method: 'POST', url: `/api/flags/checkout/environments/${ENV}/kill`, payload: {} });
    expect(killed.json<FlagBody>().environments[ENV]).toMatchObject({ stage: 'kill', stageSummary: 'killed (was off)', killedFrom: 'off' });
  });
});

describe('release plans', () => {
  const planUrl = (suffix = '') => `/api/flags/checkout/environments/${ENV}/release-plan${suffix}`;

  it('the plan view says what the split alone does not: a rolled-back flag still serves dogfood users', async () => {
    await t.request(t.adminToken, { method: 'PUT', url: planUrl(), payload: { strategy: 'rolling', incrementPercent: 20, intervalMs: MINUTE, capPercent: 60 } });
    expect((await t.request(t.adminToken, { method: 'POST', url: planUrl('/start') })).statusCode).toBe(200);
    expect((await t.request(t.adminToken, { method: 'POST', url: planUrl('/abort') })).statusCode).toBe(200);
    const view = (await t.request(t.tokens.viewer, { method: 'GET', url: planUrl() })).json<{ stage: string; stageSummary: string; split: unknown }>();
    expect(view).toMatchObject({ stage: 'dogfood', stageSummary: 'dogfood', split: [{ variation: 'off', percentage: 100 }] });
  });

  it('a rule next to the ramp neither stops a running plan nor restarts it from 0%', async () => {
    await setStage(t, 'checkout', ENV, '20%');
    await addProRule();
    await t.request(t.adminToken, { method: 'PUT', url: planUrl(), payload: { strategy: 'rolling', incrementPercent: 20, intervalMs: MINUTE, capPercent: 60 } });
    // Already at 20%: the plan starts at its first step of at least 20%, not below.
    expect((await t.request(t.adminToken, { method: 'POST', url: planUrl('/start') })).json<{ currentStep: number }>().currentStep).toBe(0);
    expect((await read()).env).toMatchObject({ stage: 'custom', stageSummary: '20% + 1 rule' });
    clock.t += MINUTE;
    await t.services.runner.lookAt('checkout', ENV);
    const plan = (await t.request(t.tokens.viewer, { method: 'GET', url: planUrl() })).json<{ plan: { status: string; currentStep: number } }>().plan;
    expect(plan).toMatchObject({ status: 'running', currentStep: 1 });
    expect((await read()).env).toMatchObject({ stage: 'custom', stageSummary: '40% + 1 rule' });
  });
});
