import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditCount, createFlag, createTestApp, setStage, type FlagBody, type TestContext } from '../testing/test-app.js';

/**
 * Promotion into an environment with an approval policy, on the dialect under test: refused
 * directly (409 `approval_required`), proposed as ONE change request holding the promoted
 * configuration (single and bulk), applied atomically, refused after an intervening edit, and an
 * admin's audited bypass where the policy allows it.
 */

const PRO_RULE = { id: 'pro', description: 'Pro plan', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } };

interface RequestBody {
  id: number;
  title: string;
  description: string;
  environment: string;
  status: string;
  author: string;
  bypassed: boolean;
  changes: { type: string; flag?: string; environment?: string; baseVersion: number; config?: Record<string, unknown>; promotedFrom?: string; diff: { field: string; text: string }[] }[];
}
interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}
interface AuditItem {
  action: string;
  environment: string | null;
  message: string | null;
  after?: { promotion?: { from: string; to: string } } | null;
}

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp({ background: false });
  await createFlag(t, 'checkout');
  await createFlag(t, 'search');
});
afterEach(() => t.close());

const read = async (key = 'checkout') => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>();
const protect = async (settings: Record<string, unknown> = {}) => {
  const res = await t.request(t.adminToken, { method: 'PUT', url: '/api/environments/production/approval-policy', payload: { required: true, ...settings } });
  expect(res.statusCode, res.body).toBe(200);
};
const promote = (key: string, payload: Record<string, unknown>, { token = t.tokens.editor, query = '' } = {}) =>
  t.request(token, { method: 'POST', url: `/api/flags/${key}/promote${query}`, payload: { from: 'staging', to: 'production', ...payload } });
const promoteAll = (payload: Record<string, unknown>, { token = t.tokens.editor, query = '' } = {}) =>
  t.request(token, { method: 'POST', url: `/api/environments/staging/promote/production${query}`, payload });
const requestsCount = async () => (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/change-requests' })).json<{ items: unknown[] }>().items.length;
const approve = (id: number, token = t.adminToken) => t.request(token, { method: 'POST', url: `/api/change-requests/${id}/approve`, payload: {} });
const apply = (id: number, token = t.tokens.editor, payload: Record<string, unknown> = {}) => t.request(token, { method: 'POST', url: `/api/change-requests/${id}/apply`, payload });

/** Staging at 10% with a rule for pro users; production off. */
async function stagingReleased(key = 'checkout'): Promise<FlagBody> {
  await setStage(t, key, 'staging', '10%');
  const flag = await read(key);
  const res = await t.request(t.adminToken, { method: 'PATCH', url: `/api/flags/${key}/environments/staging`, payload: { version: flag.version, rules: [...flag.environments.staging!.rules, PRO_RULE] } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<FlagBody>();
}

/** Production's targeting fields that a promotion moves, to compare with staging's. */
const promoted = (flag: FlagBody, env: string) => {
  const { on, rules, defaultServe, targets, offVariation, bucketBy } = flag.environments[env]!;
  return { on, rules, defaultServe, targets, offVariation, bucketBy };
};

describe('promotion into an environment whose policy requires approval', () => {
  it('is refused directly with 409 approval_required (one flag and several), nothing written', async () => {
    const flag = await stagingReleased();
    await stagingReleased('search');
    await protect();
    const entries = await auditCount(t.db);

    const one = await promote('checkout', { version: flag.version });
    expect(one.statusCode, one.body).toBe(409);
    const { error } = one.json<ErrorBody>();
    expect(error.code).toBe('approval_required');
    expect(error.message).toContain('promoting checkout in production needs 1 approval');
    expect(error.message).toContain('?changeRequest=true');

    const bulk = await promoteAll({ flags: ['checkout', 'search'] });
    expect(bulk.statusCode, bulk.body).toBe(409);
    expect(bulk.json<ErrorBody>().error.code).toBe('approval_required');
    expect(await auditCount(t.db)).toBe(entries);
    expect((await read()).environments.production!.on).toBe(false);

    // The other way round is not governed: staging has no policy.
    expect((await promote('checkout', { from: 'production', to: 'staging' })).statusCode).toBe(200);
  });

  it('?changeRequest=true opens one request holding the promoted configuration; approved and applied, production is staging', async () => {
    const flag = await stagingReleased();
    await protect();
    const before = await read();

    const res = await promote('checkout', { version: flag.version, message: 'Ship checkout' }, { query: '?changeRequest=true' });
    expect(res.statusCode, res.body).toBe(202);
    const request = res.json<RequestBody>();
    expect(request).toMatchObject({ title: 'Ship checkout', environment: 'production', status: 'open', author: 'editor' });
    expect(request.description).toBe('checkout: off → 10% + 1 rule, 2 rules added');
    expect(request.changes).toHaveLength(1);
    expect(request.changes[0]).toMatchObject({ type: 'targeting', flag: 'checkout', environment: 'production', baseVersion: flag.version, promotedFrom: 'staging' });
    expect(request.changes[0]!.diff.map((d) => d.field)).toEqual(expect.arrayContaining(['on', 'rules', 'defaultServe']));
    expect(await read()).toEqual(before);

    // The author cannot apply it unapproved; once someone else approved it, it applies.
    expect((await apply(request.id)).statusCode).toBe(409);
    expect((await approve(request.id)).statusCode).toBe(200);
    const applied = await apply(request.id);
    expect(applied.statusCode, applied.body).toBe(200);
    expect(applied.json<RequestBody>().status).toBe('applied');

    const after = await read();
    expect(promoted(after, 'production')).toEqual(promoted(flag, 'staging'));
    expect(after.environments.production!.salt).toBe(before.environments.production!.salt);
    const audit = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/checkout/audit' })).json<{ items: AuditItem[] }>().items;
    // Applied through the request, it is still a promotion: audited as one, saying where it came from.
    expect(audit[0]).toMatchObject({ action: 'flag.promoted', environment: 'production', message: `change request #${request.id}: Ship checkout`, after: { promotion: { from: 'staging', to: 'production' } } });
  });

  it('a promotion applied through a change request tells flag.stage_changed webhooks, as a direct one does; a client cannot mark its own targeting change as a promotion', async () => {
    const hook = await t.request(t.adminToken, { method: 'POST', url: '/api/webhooks', payload: { url: 'http://127.0.0.1:9/hook', events: ['flag.stage_changed'] } });
    expect(hook.statusCode, hook.body).toBe(201);
    const flag = await stagingReleased();
    await protect();
    const request = (await promote('checkout', { version: flag.version }, { query: '?changeRequest=true' })).json<RequestBody>();
    expect((await approve(request.id)).statusCode).toBe(200);
    expect((await apply(request.id)).statusCode).toBe(200);
    const deliveries = (await t.request(t.adminToken, { method: 'GET', url: `/api/webhooks/${hook.json<{ id: number }>().id}/deliveries` })).json<{ items: { event: string; payload: string }[] }>().items;
    expect(deliveries.map((d) => [d.event, (JSON.parse(d.payload) as { data: { action: string; environment: string } }).data])).toContainEqual([
      'flag.stage_changed',
      expect.objectContaining({ action: 'flag.promoted', environment: 'production' }),
    ]);

    const forged = await t.request(t.tokens.editor, {
      method: 'POST',
      url: '/api/change-requests',
      payload: { title: 'not a promotion', environment: 'production', changes: [{ type: 'targeting', flag: 'checkout', config: { on: false }, baseVersion: (await read()).version, promotedFrom: 'staging' }] },
    });
    expect(forged.statusCode).toBe(400);
    expect(forged.json<ErrorBody>().error.message).toContain('promotedFrom');
  });

  it('a bulk promotion opens ONE request with every differing flag, applied all together', async () => {
    await stagingReleased();
    await stagingReleased('search');
    await createFlag(t, 'same'); // off in both: nothing to promote, so not in the request
    await protect();

    const res = await promoteAll({ flags: ['checkout', 'search', 'same'] }, { query: '?changeRequest=true' });
    expect(res.statusCode, res.body).toBe(202);
    const request = res.json<RequestBody>();
    expect(request.title).toBe('Promote 2 flags from staging to production');
    expect(request.changes.map((c) => [c.flag, c.baseVersion])).toEqual([
      ['checkout', (await read('checkout')).version],
      ['search', (await read('search')).version],
    ]);
    expect(await requestsCount()).toBe(1);

    expect((await approve(request.id)).statusCode).toBe(200);
    const applied = await apply(request.id);
    expect(applied.statusCode, applied.body).toBe(200);
    for (const key of ['checkout', 'search']) {
      const flag = await read(key);
      expect(promoted(flag, 'production')).toEqual(promoted(flag, 'staging'));
    }
  });

  it('apply is refused, atomically, when a flag changed since; a rebase takes the new version', async () => {
    await stagingReleased();
    await stagingReleased('search');
    await protect();
    const request = (await promoteAll({ flags: ['checkout', 'search'] }, { query: '?changeRequest=true' })).json<RequestBody>();
    expect((await approve(request.id)).statusCode).toBe(200);

    // An intervening edit (in staging, which has no policy) moves the flag's version.
    await setStage(t, 'search', 'staging', '20%');
    const entries = await auditCount(t.db);
    const refused = await apply(request.id);
    expect(refused.statusCode, refused.body).toBe(409);
    const { error } = refused.json<ErrorBody>();
    expect(error.code).toBe('conflict');
    expect(error.message).toContain('flag "search"');
    expect(error.message).toContain('rebase');
    expect(await auditCount(t.db)).toBe(entries);
    expect((await read('checkout')).environments.production!.on).toBe(false);
    expect((await read('search')).environments.production!.on).toBe(false);

    const rebased = await t.request(t.tokens.editor, { method: 'POST', url: `/api/change-requests/${request.id}/rebase`, payload: {} });
    expect(rebased.statusCode, rebased.body).toBe(200);
    expect(rebased.json<RequestBody>().changes.find((c) => c.flag === 'search')!.baseVersion).toBe((await read('search')).version);
  });

  it('refuses to open a request that could not be applied: a stale version, a killed target, nothing to promote opens none', async () => {
    const flag = await stagingReleased();
    await protect();
    const stale = await promote('checkout', { version: flag.version - 1 }, { query: '?changeRequest=true' });
    expect(stale.statusCode, stale.body).toBe(409);
    expect(stale.json<ErrorBody>().error.code).toBe('version_conflict');

    const kill = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/kill', payload: {} });
    expect(kill.statusCode, kill.body).toBe(200);
    const killed = await promote('checkout', {}, { query: '?changeRequest=true' });
    expect(killed.statusCode, killed.body).toBe(409);
    expect(killed.json<ErrorBody>().error.details).toEqual({ reason: 'target_killed' });

    const same = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/search/promote?changeRequest=true', payload: { from: 'staging', to: 'production' } });
    expect(same.statusCode, same.body).toBe(200);
    expect(same.json<{ changed: boolean }>().changed).toBe(false);
    expect(await requestsCount()).toBe(0);
  });

  it('an admin may bypass with a reason where the policy allows it (audited); an editor or a policy without bypass may not', async () => {
    const flag = await stagingReleased();
    await protect();
    const notAllowed = await promote('checkout', { version: flag.version, bypassApproval: 'incident 42' }, { token: t.adminToken });
    expect(notAllowed.statusCode, notAllowed.body).toBe(403);
    expect(notAllowed.json<ErrorBody>().error.message).toContain('does not allow admins to bypass');

    const policy = (await t.request(t.adminToken, { method: 'GET', url: '/api/environments/production/approval-policy' })).json<{ version: number }>();
    await protect({ adminBypass: true, version: policy.version });
    const editor = await promote('checkout', { version: flag.version, bypassApproval: 'incident 42' });
    expect(editor.statusCode, editor.body).toBe(403);
    expect(editor.json<ErrorBody>().error.message).toContain('only an admin can bypass approvals');

    const res = await promote('checkout', { version: flag.version, message: 'hotfix', bypassApproval: 'incident 42' }, { token: t.adminToken });
    expect(res.statusCode, res.body).toBe(200);
    expect(promoted(res.json<{ flag: FlagBody }>().flag, 'production')).toEqual(promoted(flag, 'staging'));
    const audit = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/checkout/audit' })).json<{ items: AuditItem[] }>().items;
    expect(audit[0]).toMatchObject({ action: 'flag.promoted', environment: 'production', message: 'hotfix (approvals in production bypassed by admin: incident 42)' });

    // Bulk too.
    await stagingReleased('search');
    const bulk = await promoteAll({ flags: ['search'], bypassApproval: 'incident 42' }, { token: t.adminToken });
    expect(bulk.statusCode, bulk.body).toBe(200);
    expect((await read('search')).environments.production!.on).toBe(true);
  });

  it('a viewer may not promote or propose (403)', async () => {
    await stagingReleased();
    await protect();
    expect((await promote('checkout', {}, { token: t.tokens.viewer, query: '?changeRequest=true' })).statusCode).toBe(403);
    expect((await promoteAll({ flags: ['checkout'] }, { token: t.tokens.viewer, query: '?changeRequest=true' })).statusCode).toBe(403);
    expect(await requestsCount()).toBe(0);
  });

  it('names bad input with 400s', async () => {
    await stagingReleased();
    await protect();
    const cases = [
      { name: 'bad changeRequest value', res: await promote('checkout', {}, { query: '?changeRequest=yes' }), path: 'query.changeRequest' },
      { name: 'empty bypass reason', res: await promote('checkout', { bypassApproval: '  ' }, { token: t.adminToken }), path: 'body.bypassApproval' },
      { name: 'bypass and request', res: await promote('checkout', { bypassApproval: 'why' }, { token: t.adminToken, query: '?changeRequest=true' }), path: 'body.bypassApproval' },
      { name: 'description without a request', res: await promote('checkout', { description: 'x' }), path: 'body.description' },
      { name: 'bulk: a flag twice', res: await promoteAll({ flags: ['checkout', 'checkout'] }, { query: '?changeRequest=true' }), path: 'body.flags' },
      { name: 'bulk: bypass not a string', res: await promoteAll({ flags: ['checkout'], bypassApproval: 1 }, { token: t.adminToken }), path: 'body.bypassApproval' },
    ];
    for (const c of cases) {
      expect(c.res.statusCode, `${c.name}: ${c.res.body}`).toBe(400);
      expect(c.res.body, c.name).toContain(c.path);
    }
    expect(await requestsCount()).toBe(0);
  });

  it('more differing flags than a request holds: 400 naming body.flags', async () => {
    const keys = Array.from({ length: 21 }, (_, i) => `f${i}`);
    for (const key of keys) {
      await createFlag(t, key);
      await setStage(t, key, 'staging', '100%');
    }
    await protect();
    const res = await promoteAll({ flags: keys }, { query: '?changeRequest=true' });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.body).toContain('body.flags');
    expect(res.body).toContain('at most 20');
  });
});
