import type { RuleSet } from '@switchyard/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditCount, createFlag, createTestApp, setStage, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

/**
 * Promotion between environments: the preview, one flag, every flag compared, and several flags at
 * once — on the one write path (version checks, one audit entry per flag, the change feed to SDKs).
 */

const PRO_RULE = { id: 'pro', description: 'Pro plan', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } };

interface Promotion {
  flag: string;
  version: number;
  upToDate: boolean;
  summary: string;
  from: { key: string; name: string; critical: boolean };
  to: { key: string; name: string; critical: boolean };
  stage: { before: string; after: string };
  changes: { field: string; kind: string; text: string }[];
  kept: { field: string; text: string }[];
  blockers: { code: string; message: string }[];
}
interface Result {
  changed: boolean;
  promotion: Promotion;
  flag?: FlagBody;
}
interface AuditItem {
  id: number;
  action: string;
  environment: string | null;
  message: string | null;
  summary: string;
  after: Record<string, unknown> | null;
}

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp({ background: false });
  await createFlag(t, 'checkout');
});
afterEach(async () => {
  await t.close();
});

const read = async (key = 'checkout') => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>();
const preview = (key: string, query: string, token = t.tokens.viewer) => t.request(token, { method: 'GET', url: `/api/flags/${key}/promote${query}` });
const promote = (key: string, payload: Record<string, unknown>, token = t.tokens.editor, headers: Record<string, string> = {}) =>
  t.request(token, { method: 'POST', url: `/api/flags/${key}/promote`, payload, headers });
const history = async (key = 'checkout') => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}/audit` })).json<{ items: AuditItem[] }>().items;

/** Staging at 10% with a rule for pro users; production off. */
async function stagingReleased(key = 'checkout'): Promise<FlagBody> {
  await setStage(t, key, 'staging', '10%');
  const flag = await read(key);
  const res = await t.request(t.tokens.editor, { method: 'PATCH', url: `/api/flags/${key}/environments/staging`, payload: { version: flag.version, rules: [...flag.environments.staging!.rules, PRO_RULE] } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<FlagBody>();
}

describe('GET /api/flags/{key}/promote', () => {
  it('previews the diff, with the version it was planned against, and writes nothing', async () => {
    const flag = await stagingReleased();
    const entries = await auditCount(t.db);
    const res = await preview('checkout', '?from=staging&to=production');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers.etag).toBe(`"${flag.version}"`);
    const body = res.json<Promotion>();
    expect(body).toMatchObject({ flag: 'checkout', version: flag.version, upToDate: false, stage: { before: 'off', after: '10% + 1 rule' }, blockers: [] });
    expect(body.from).toEqual({ key: 'staging', name: 'Staging', critical: false });
    expect(body.to).toEqual({ key: 'production', name: 'Production', critical: true });
    expect(body.changes.map((c) => c.text)).toEqual([
      'On / off: off → on',
      'Default rule: off → 10% on / 90% off',
      '+ rule dogfood: if in segment internal serve on',
      '+ rule pro: if plan in ["pro"] serve on',
    ]);
    expect(await auditCount(t.db)).toBe(entries);
    expect((await read()).environments.production!.on).toBe(false);
  });

  it('names bad input: a missing or identical environment (400), unknown ones (404)', async () => {
    const missing = await preview('checkout', '?from=staging');
    expect(missing.statusCode).toBe(400);
    expect(missing.json<ErrorBody>().error.message).toMatch(/to/);
    const same = await preview('checkout', '?from=staging&to=staging');
    expect(same.statusCode).toBe(400);
    expect(same.json<ErrorBody>().error.message).toMatch(/two different environments/);
    const unknownEnv = await preview('checkout', '?from=qa&to=production');
    expect(unknownEnv.statusCode).toBe(404);
    expect(unknownEnv.json<ErrorBody>().error.message).toBe('environment "qa" not found');
    const unknownFlag = await preview('nope', '?from=staging&to=production');
    expect(unknownFlag.statusCode).toBe(404);
    expect(unknownFlag.json<ErrorBody>().error.message).toBe('flag "nope" not found');
  });
});

describe('POST /api/flags/{key}/promote', () => {
  it('makes production what staging is: one audit entry, and SDKs get it at once', async () => {
    const flag = await stagingReleased();
    const sdkKey = await t.sdkKey('production');
    const rulesBefore = (await t.request(sdkKey, { method: 'GET', url: '/api/sdk/rules' })).json<RuleSet>();
    expect(rulesBefore.flags.checkout).toMatchObject({ on: false });
    const entries = await auditCount(t.db);

    const res = await promote('checkout', { from: 'staging', to: 'production', version: flag.version, message: 'QA signed off' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<Result>();
    expect(body.changed).toBe(true);
    expect(res.headers.etag).toBe(`"${flag.version + 1}"`);
    const { staging, production } = body.flag!.environments;
    expect(production).toMatchObject({ on: true, rules: staging!.rules, defaultServe: staging!.defaultServe, targets: staging!.targets, stage: 'custom', stageSummary: '10% + 1 rule' });

    expect(await auditCount(t.db)).toBe(entries + 1);
    const [entry] = await history();
    expect(entry).toMatchObject({ action: 'flag.promoted', environment: 'production', message: 'QA signed off' });
    expect(entry!.summary).toBe('promoted Staging\'s targeting to Production: off → 10%, added rule "Pro plan"');
    expect(entry!.after).toMatchObject({ promotion: { from: 'staging', to: 'production' } });

    const rulesAfter = await t.request(sdkKey, { method: 'GET', url: '/api/sdk/rules' });
    const ruleSet = rulesAfter.json<RuleSet>();
    expect(ruleSet.version).toBeGreaterThan(rulesBefore.version);
    expect(ruleSet.flags.checkout).toMatchObject({ on: true, rules: staging!.rules, defaultServe: staging!.defaultServe });
    // A pro user outside the 10% gets it in production now.
    const evaluated = await t.request(sdkKey, { method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', payload: { context: { targetingKey: 'customer-1', plan: 'pro' } } });
    expect(evaluated.json<{ value: unknown }>().value).toBe(true);
  });

  it('keeps the target’s salt and kill state; the audit comment may come as a header', async () => {
    const flag = await stagingReleased();
    // Re-randomise staging: production must keep its own buckets.
    const salted = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/checkout/environments/staging', payload: { version: flag.version, salt: 'staging-salt' } });
    const version = salted.json<FlagBody>().version;
    const res = await promote('checkout', { from: 'staging', to: 'production' }, t.tokens.editor, { 'if-match': `"${version}"`, 'x-switchyard-message': encodeURIComponent('go – live') });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<Result>();
    expect(body.flag!.environments.production).toMatchObject({ salt: 'checkout', killed: false, on: true });
    expect(body.promotion.kept.map((k) => k.field)).toEqual(['salt']);
    expect((await history())[0]!.message).toBe('go – live');
  });

  it('tells flag.stage_changed webhooks when the target’s stage moved', async () => {
    const hook = await t.request(t.adminToken, { method: 'POST', url: '/api/webhooks', payload: { url: 'http://127.0.0.1:9/hook', events: ['flag.stage_changed'] } });
    expect(hook.statusCode, hook.body).toBe(201);
    const { version } = await stagingReleased();
    const deliveries = async () =>
      (await t.request(t.adminToken, { method: 'GET', url: `/api/webhooks/${hook.json<{ id: number }>().id}/deliveries` })).json<{ items: { event: string; payload: string }[] }>().items;
    const before = (await deliveries()).length;
    expect((await promote('checkout', { from: 'staging', to: 'production', version })).statusCode).toBe(200);
    const items = await deliveries();
    expect(items.length).toBe(before + 1);
    expect(items[0]!.event).toBe('flag.stage_changed');
    expect(JSON.parse(items[0]!.payload).data).toMatchObject({ flag: 'checkout', environment: 'production', action: 'flag.promoted', stage: 'custom' });
  });

  it('with nothing to promote: 200, changed false, nothing written', async () => {
    const entries = await auditCount(t.db);
    const { version } = await read();
    const res = await promote('checkout', { from: 'staging', to: 'production', version });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<Result>()).toMatchObject({ changed: false, promotion: { upToDate: true, summary: '' } });
    expect(await auditCount(t.db)).toBe(entries);
    expect((await read()).version).toBe(version);
  });

  it('a dry run answers with the diff and writes nothing', async () => {
    await stagingReleased();
    const entries = await auditCount(t.db);
    const res = await promote('checkout', { from: 'staging', to: 'production', dryRun: true });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<Result>()).toMatchObject({ changed: false, promotion: { upToDate: false } });
    expect(res.json<Result>().flag).toBeUndefined();
    expect(await auditCount(t.db)).toBe(entries);
  });

  it('409 for a stale version: the diff previewed is the diff applied', async () => {
    const flag = await stagingReleased();
    await setStage(t, 'checkout', 'staging', '50%');
    const res = await promote('checkout', { from: 'staging', to: 'production', version: flag.version });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.code).toBe('version_conflict');
    expect((await read()).environments.production!.on).toBe(false);
  });

  it('refuses bad input with 400s naming the problem, and 404s', async () => {
    const cases = [
      { payload: { from: 'staging' }, status: 400, message: /to/ },
      { payload: { from: 'staging', to: 'staging' }, status: 400, message: /two different environments/ },
      { payload: { from: 'staging', to: 'production', version: 0 }, status: 400, message: /version/ },
      { payload: { from: 'staging', to: 'production', extra: 1 }, status: 400, message: /extra/ },
      { payload: { from: 'staging', to: 'qa' }, status: 404, message: /environment "qa" not found/ },
    ];
    for (const c of cases) {
      const res = await promote('checkout', c.payload);
      expect(res.statusCode, JSON.stringify(c.payload)).toBe(c.status);
      expect(res.json<ErrorBody>().error.message, JSON.stringify(c.payload)).toMatch(c.message);
    }
    expect((await promote('nope', { from: 'staging', to: 'production' })).statusCode).toBe(404);
  });

  it('a viewer may preview but not promote (403)', async () => {
    await stagingReleased();
    expect((await preview('checkout', '?from=staging&to=production')).statusCode).toBe(200);
    const res = await promote('checkout', { from: 'staging', to: 'production' }, t.tokens.viewer);
    expect(res.statusCode).toBe(403);
    expect((await read()).environments.production!.on).toBe(false);
  });

  it('a Git-managed flag is refused with the message every other write gives', async () => {
    await stagingReleased();
    await t.db.transaction((tx) => t.db.repos.flags.setManaged(tx, 'flags.yaml', ['checkout']));
    const res = await promote('checkout', { from: 'staging', to: 'production' });
    const patch = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/checkout/environments/production', payload: { version: (await read()).version, on: true } });
    expect(res.statusCode).toBe(423);
    expect(res.json<ErrorBody>().error).toEqual(patch.json<ErrorBody>().error);
    const previewed = (await preview('checkout', '?from=staging&to=production')).json<Promotion>();
    expect(previewed.blockers.map((b) => b.code)).toEqual(['managed_by_git']);
  });

  it('a killed target is refused: the promotion does not lift the kill', async () => {
    await stagingReleased();
    await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/kill', payload: {} });
    const res = await promote('checkout', { from: 'staging', to: 'production' });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toMatch(/killed in Production: a promotion does not lift a kill/);
    expect((await read()).environments.production).toMatchObject({ on: false, killed: true });
  });

  it('a release plan running in the target is refused, naming it', async () => {
    await stagingReleased();
    const planned = await t.request(t.tokens.editor, { method: 'PUT', url: '/api/flags/checkout/environments/production/release-plan', payload: { strategy: 'guarded' } });
    expect(planned.statusCode, planned.body).toBeLessThan(300);
    const started = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/release-plan/start', payload: {} });
    expect(started.statusCode, started.body).toBe(200);
    const before = await read();
    const res = await promote('checkout', { from: 'staging', to: 'production' });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toMatch(/a release plan is running for "checkout" in Production \(step 1 of \d+ at [\d.]+%\); pause or abort it/);
    expect((await read()).version).toBe(before.version);
  });
});

describe('GET /api/compare?from=&to=', () => {
  it('lists every active flag with whether it differs and a short summary', async () => {
    await stagingReleased();
    await createFlag(t, 'banner');
    await createFlag(t, 'old');
    await setStage(t, 'old', 'staging', '100%');
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/old', payload: { version: (await read('old')).version, archived: true } });
    const res = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/compare?from=staging&to=production' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ differing: number; items: { key: string; differs: boolean; summary: string; stage: { from: string; to: string } }[] }>();
    expect(body.differing).toBe(1);
    expect(body.items.map((i) => [i.key, i.differs, i.summary])).toEqual([
      ['banner', false, ''],
      ['checkout', true, 'off → 10% + 1 rule, 2 rules added'],
    ]);
    expect(body.items[1]!.stage).toEqual({ from: '10% + 1 rule', to: 'off' });
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/compare?from=staging&to=qa' })).statusCode).toBe(404);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/compare?from=staging&to=staging' })).statusCode).toBe(400);
  });
});

describe('POST /api/environments/{from}/promote/{to}', () => {
  it('promotes several flags in one transaction: an audit entry each, one feed entry', async () => {
    await stagingReleased('checkout');
    await createFlag(t, 'banner');
    await setStage(t, 'banner', 'staging', 'dogfood');
    await createFlag(t, 'same');
    const feedBefore = t.services.feed.position;
    const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/environments/staging/promote/production', payload: { flags: ['checkout', { key: 'banner' }, 'same'], message: 'release train 42' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ items: Result[] }>().items.map((i) => [i.promotion.flag, i.changed])).toEqual([
      ['checkout', true],
      ['banner', true],
      ['same', false],
    ]);
    expect((await read('banner')).environments.production!.stage).toBe('dogfood');
    expect((await history('banner'))[0]).toMatchObject({ action: 'flag.promoted', message: 'release train 42' });
    expect(t.services.feed.position).toBe(feedBefore + 1);
  });

  it('is all or nothing: one refused flag (named) leaves every flag as it was', async () => {
    await stagingReleased('checkout');
    await createFlag(t, 'banner');
    await setStage(t, 'banner', 'staging', '100%');
    await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/banner/environments/production/kill', payload: {} });
    const entries = await auditCount(t.db);
    const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/environments/staging/promote/production', payload: { flags: ['checkout', 'banner'] } });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toMatch(/flag "banner" is killed in Production/);
    expect(await auditCount(t.db)).toBe(entries);
    expect((await read('checkout')).environments.production!.on).toBe(false);
  });

  it('refuses a flag listed twice, an empty list and a viewer', async () => {
    const twice = await t.request(t.tokens.editor, { method: 'POST', url: '/api/environments/staging/promote/production', payload: { flags: ['checkout', 'checkout'] } });
    expect(twice.statusCode).toBe(400);
    expect(twice.json<ErrorBody>().error.message).toMatch(/listed twice/);
    expect((await t.request(t.tokens.editor, { method: 'POST', url: '/api/environments/staging/promote/production', payload: { flags: [] } })).statusCode).toBe(400);
    expect((await t.request(t.tokens.viewer, { method: 'POST', url: '/api/environments/staging/promote/production', payload: { flags: ['checkout'] } })).statusCode).toBe(403);
  });
});
