import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, type FlagBody, type TestContext } from '../testing/test-app.js';

/**
 * Release plans where approvals are required, on the dialect under test: starting or resuming one
 * goes through a change request pinned to the plan's and the flag's versions.
 */

interface RequestBody {
  id: number;
  title: string;
  status: string;
  changes: { type: string; flag?: string; action?: string; planVersion?: number; baseVersion: number; plan?: { version: number; steps: number[] }; diff: { field: string; text: string }[] }[];
}
interface PlanView {
  plan: { version: number; status: string; currentStep: number } | null;
  stage: string;
}

let t: TestContext;
let admin2: string;
beforeEach(async () => {
  t = await createTestApp({ background: false });
  admin2 = (await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', payload: { name: 'admin2', role: 'admin' } })).json<{ token: string }>().token;
});
afterEach(() => t.close());

const planUrl = (key: string, action = '') => `/api/flags/${key}/environments/production/release-plan${action}`;
const flag = async (key: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>();
const planView = async (key: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: planUrl(key) })).json<PlanView>();
const savePlan = async (key: string, payload: object = { strategy: 'guarded' }) => {
  const res = await t.request(t.adminToken, { method: 'PUT', url: planUrl(key), payload });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ version: number }>();
};
const protect = async () => {
  const res = await t.request(t.adminToken, { method: 'PUT', url: '/api/environments/production/approval-policy', payload: { required: true } });
  expect(res.statusCode, res.body).toBe(200);
};
const propose = async (key: string, action: 'start' | 'resume', payload: object, token = t.tokens.editor) =>
  t.request(token, { method: 'POST', url: `${planUrl(key, `/${action}`)}?changeRequest=true`, payload });
const act = (token: string, id: number, action: string, payload?: object) => t.request(token, { method: 'POST', url: `/api/change-requests/${id}/${action}`, ...(payload ? { payload } : {}) });

describe('release plans through change requests', () => {
  it('?changeRequest=true on start proposes it (202); approved and applied, the plan runs', async () => {
    await createFlag(t, 'checkout');
    const plan = await savePlan('checkout');
    await protect();
    const refused = await t.request(t.tokens.editor, { method: 'POST', url: planUrl('checkout', '/start'), payload: {} });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toContain('release-plan/start?changeRequest=true');

    const version = (await flag('checkout')).version;
    const res = await propose('checkout', 'start', { version, planVersion: plan.version });
    expect(res.statusCode, res.body).toBe(202);
    const request = res.json<RequestBody>();
    expect(request).toMatchObject({ title: 'Start the release plan of checkout in production', status: 'open', changes: [{ type: 'release', flag: 'checkout', action: 'start', planVersion: plan.version, baseVersion: version }] });
    const diff = request.changes[0]!.diff;
    expect(diff[0]!.field).toBe('releasePlan');
    expect(diff[0]!.text).toMatch(/^start the guarded release plan \(plan version \d+, ready\): .*%.* guarded/);
    expect(diff.map((d) => d.field)).toContain('stage');
    // Nothing moved yet: the preview was rolled back.
    expect((await planView('checkout')).plan?.status).toBe('ready');
    expect((await flag('checkout')).version).toBe(version);

    expect((await act(t.tokens.editor, request.id, 'apply')).statusCode).toBe(409);
    expect((await act(admin2, request.id, 'approve')).statusCode).toBe(200);
    const applied = await act(t.tokens.editor, request.id, 'apply');
    expect(applied.statusCode, applied.body).toBe(200);
    expect(applied.json<RequestBody>().status).toBe('applied');
    const after = await planView('checkout');
    expect(after.plan?.status).toBe('running');
    expect(after.stage).not.toBe('off');
    const audit = (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?limit=5' })).json<{ items: { action: string; message: string | null }[] }>().items;
    expect(audit.find((a) => a.action === 'release.started')?.message).toContain(`change request #${request.id}`);
  });

  it('the change kind through POST /api/change-requests; resume works the same way', async () => {
    await createFlag(t, 'search');
    await savePlan('search');
    expect((await t.request(t.adminToken, { method: 'POST', url: planUrl('search', '/start'), payload: {} })).statusCode).toBe(200);
    expect((await t.request(t.adminToken, { method: 'POST', url: planUrl('search', '/pause'), payload: {} })).statusCode).toBe(200);
    await protect();
    const paused = await planView('search');
    const res = await t.request(t.tokens.editor, {
      method: 'POST',
      url: '/api/change-requests',
      payload: { title: 'Resume search', environment: 'production', changes: [{ type: 'release', flag: 'search', action: 'resume', planVersion: paused.plan!.version, baseVersion: (await flag('search')).version }] },
    });
    expect(res.statusCode, res.body).toBe(201);
    const request = res.json<RequestBody>();
    expect(request.changes[0]!.diff[0]!.text).toMatch(/^resume the guarded release plan .*paused.*\[\d+%\]/);
    expect((await act(admin2, request.id, 'approve')).statusCode).toBe(200);
    expect((await act(t.tokens.editor, request.id, 'apply')).statusCode).toBe(200);
    expect((await planView('search')).plan?.status).toBe('running');
  });

  it('apply refuses when the plan was edited since; rebase pins the new plan', async () => {
    await createFlag(t, 'checkout');
    const plan = await savePlan('checkout');
    await protect();
    const request = (await propose('checkout', 'start', { version: (await flag('checkout')).version, planVersion: plan.version })).json<RequestBody>();
    expect((await act(admin2, request.id, 'approve')).statusCode).toBe(200);
    const edited = await savePlan('checkout', { strategy: 'rolling', incrementPercent: 25, intervalMs: 60_000 });

    const refused = await act(t.tokens.editor, request.id, 'apply');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('conflict');
    expect(refused.json().error.message).toContain('the release plan of flag "checkout" in production');
    expect(refused.json().error.details.changed).toEqual([expect.objectContaining({ type: 'release-plan', key: 'checkout', baseVersion: plan.version, currentVersion: edited.version })]);
    expect((await planView('checkout')).plan?.status).toBe('ready');

    const rebased = await act(t.tokens.editor, request.id, 'rebase');
    expect(rebased.statusCode, rebased.body).toBe(200);
    expect(rebased.json<RequestBody>().changes[0]).toMatchObject({ planVersion: edited.version, plan: { version: edited.version } });
    expect((await act(admin2, request.id, 'approve')).statusCode).toBe(200);
    expect((await act(t.tokens.editor, request.id, 'apply')).statusCode).toBe(200);
    expect((await planView('checkout')).plan?.status).toBe('running');
  });

  it('a flag change since the request also conflicts', async () => {
    await createFlag(t, 'checkout');
    const plan = await savePlan('checkout');
    await protect();
    const request = (await propose('checkout', 'start', { version: (await flag('checkout')).version, planVersion: plan.version })).json<RequestBody>();
    expect((await act(admin2, request.id, 'approve')).statusCode).toBe(200);
    expect((await t.request(t.adminToken, { method: 'POST', url: '/api/flags/checkout/environments/production/kill', payload: {} })).statusCode).toBe(200);
    const refused = await act(t.tokens.editor, request.id, 'apply');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toContain('flag "checkout"');
  });

  it('bad input gets a 400 naming the field; stale versions a 409; a missing plan a 404', async () => {
    await createFlag(t, 'checkout');
    const plan = await savePlan('checkout');
    await protect();
    const version = (await flag('checkout')).version;
    const noPlanVersion = await propose('checkout', 'start', { version });
    expect(noPlanVersion.statusCode).toBe(400);
    expect(noPlanVersion.json().error.message).toContain('body.planVersion');
    expect((await propose('checkout', 'start', { planVersion: plan.version })).statusCode).toBe(428);
    const badType = await propose('checkout', 'start', { version, planVersion: 'one' });
    expect(badType.statusCode).toBe(400);
    const stray = await t.request(t.tokens.editor, { method: 'POST', url: planUrl('checkout', '/start'), payload: { title: 'x' } });
    expect(stray.statusCode).toBe(400);
    expect(stray.json().error.message).toContain('body.title');
    const badAction = await t.request(t.tokens.editor, { method: 'POST', url: '/api/change-requests', payload: { title: 'x', environment: 'production', changes: [{ type: 'release', flag: 'checkout', action: 'skip', planVersion: plan.version, baseVersion: version }] } });
    expect(badAction.statusCode).toBe(400);
    expect(badAction.json().error.message).toContain('action');
    const stalePlan = await propose('checkout', 'start', { version, planVersion: plan.version + 5 });
    expect(stalePlan.statusCode).toBe(409);
    expect(stalePlan.json().error.message).toContain(`is at version ${plan.version}, not ${plan.version + 5}`);
    expect((await propose('checkout', 'start', { version: version + 5, planVersion: plan.version })).statusCode).toBe(409);
    expect((await propose('checkout', 'resume', { version, planVersion: plan.version })).statusCode).toBe(409);
    await createFlag(t, 'bare');
    expect((await propose('bare', 'start', { version: (await flag('bare')).version, planVersion: 1 })).statusCode).toBe(404);
    const list = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/change-requests' })).json<{ items: unknown[] }>();
    expect(list.items).toHaveLength(0);
  });

  it('viewers cannot propose a start', async () => {
    await createFlag(t, 'checkout');
    const plan = await savePlan('checkout');
    await protect();
    const res = await propose('checkout', 'start', { version: (await flag('checkout')).version, planVersion: plan.version }, t.tokens.viewer);
    expect(res.statusCode).toBe(403);
    expect((await planView('checkout')).plan?.status).toBe('ready');
  });
});
