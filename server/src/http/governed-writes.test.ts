import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditCount, createFlag, createTestApp, setStage, type FlagBody, type TestContext } from '../testing/test-app.js';

/**
 * The writes approval policies govern beyond stages, targeting and segments, on the dialect under
 * test: audit reverts, release plans, blue/green switches; and what they leave alone (metadata,
 * anything that only reduces exposure).
 */

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp({ background: false });
});
afterEach(() => t.close());

const protect = async (env = 'production') => {
  const res = await t.request(t.adminToken, { method: 'PUT', url: `/api/environments/${env}/approval-policy`, payload: { required: true } });
  expect(res.statusCode, res.body).toBe(200);
};
const flag = async (key: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>();
const latestEntry = async () => (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?limit=1' })).json<{ items: { id: number }[] }>().items[0]!.id;
const patchEnv = async (key: string, env: string, payload: object) => {
  const res = await t.request(t.adminToken, { method: 'PATCH', url: `/api/flags/${key}/environments/${env}`, payload: { version: (await flag(key)).version, ...payload } });
  expect(res.statusCode, res.body).toBe(200);
  return latestEntry();
};
const revert = async (id: number, key: string) => t.request(t.tokens.editor, { method: 'POST', url: `/api/audit/${id}/revert`, payload: { version: (await flag(key)).version } });
const preview = (id: number) => t.request(t.tokens.viewer, { method: 'GET', url: `/api/audit/${id}/revert` });

describe('audit revert where approvals are required', () => {
  it('reverting a production change that serves something needs a change request; the preview says so', async () => {
    await createFlag(t, 'checkout');
    await setStage(t, 'checkout', 'production', '10%');
    const ramp = await latestEntry();
    await setStage(t, 'checkout', 'staging', '50%');
    await protect();

    const shown = (await preview(ramp)).json<{ refusal: { code: string; message: string } | null }>();
    expect(shown.refusal?.code).toBe('approval_required');
    const count = await auditCount(t.db);
    const res = await revert(ramp, 'checkout');
    expect(res.statusCode).toBe(409);
    const { error } = res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('approval_required');
    expect(error.message).toContain(`reverting audit entry #${ramp} (flag "checkout": `);
    expect(error.message).toContain('in production needs 1 approval: propose the values it would restore as a change request');
    expect(await auditCount(t.db)).toBe(count);
  });

  it('a kill-like revert (it only turns the flag off there) works directly, as the kill switch does', async () => {
    await createFlag(t, 'checkout');
    const turnedOn = await patchEnv('checkout', 'production', { on: true });
    await protect();
    expect((await preview(turnedOn)).json().refusal).toBeNull();
    const res = await revert(turnedOn, 'checkout');
    expect(res.statusCode, res.body).toBe(200);
    expect((await flag('checkout')).environments.production!.on).toBe(false);
  });

  it('reverts in other environments, and of metadata, are not governed', async () => {
    await createFlag(t, 'checkout');
    await setStage(t, 'checkout', 'staging', '10%');
    const staging = await latestEntry();
    const renamed = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout', payload: { version: (await flag('checkout')).version, name: 'Checkout v2' } });
    expect(renamed.statusCode).toBe(200);
    const rename = await latestEntry();
    await protect();
    expect((await revert(rename, 'checkout')).statusCode).toBe(200);
    expect((await revert(staging, 'checkout')).statusCode).toBe(200);
    expect((await flag('checkout')).name).not.toBe('Checkout v2');
  });

  it('reverting a segment edit is governed while any environment has a policy', async () => {
    expect((await t.request(t.adminToken, { method: 'POST', url: '/api/segments', payload: { key: 'beta', name: 'Beta', included: ['ann'] } })).statusCode).toBe(201);
    const seg = async () => (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/segments/beta' })).json<{ version: number }>();
    expect((await t.request(t.adminToken, { method: 'PATCH', url: '/api/segments/beta', payload: { version: (await seg()).version, included: ['ann', 'bob'] } })).statusCode).toBe(200);
    const edit = await latestEntry();
    await protect('staging');
    const res = await t.request(t.tokens.editor, { method: 'POST', url: `/api/audit/${edit}/revert`, payload: { version: (await seg()).version } });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toContain('(segment "beta"; segments reach every environment) in staging needs 1 approval');
  });
});

describe('release plans and blue/green where approvals are required', () => {
  const planUrl = (key: string, action = '') => `/api/flags/${key}/environments/production/release-plan${action}`;
  const act = (key: string, action: string) => t.request(t.tokens.editor, { method: 'POST', url: planUrl(key, `/${action}`), payload: {} });

  it('starting and resuming by hand need approval (and say how to request them); advancing by hand is refused; pausing and aborting never do', async () => {
    await createFlag(t, 'checkout');
    expect((await t.request(t.adminToken, { method: 'PUT', url: planUrl('checkout'), payload: { strategy: 'guarded' } })).statusCode).toBe(200);
    await createFlag(t, 'search');
    expect((await t.request(t.adminToken, { method: 'PUT', url: planUrl('search'), payload: { strategy: 'guarded' } })).statusCode).toBe(200);
    // Started before the policy: it keeps running, and can be paused and aborted.
    expect((await act('search', 'start')).statusCode).toBe(200);
    await protect();

    const start = await act('checkout', 'start');
    expect(start.statusCode).toBe(409);
    expect(start.json().error).toMatchObject({ code: 'approval_required' });
    expect(start.json().error.message).toContain('starting the release plan of flag "checkout" in production needs 1 approval: create a change request that starts it once approved (POST …/release-plan/start?changeRequest=true');
    expect((await flag('checkout')).environments.production!.stage).toBe('off');

    const skip = await act('search', 'skip');
    expect(skip.statusCode).toBe(409);
    expect(skip.json().error.message).toContain('advancing the release plan of flag "search" by hand');
    expect(skip.json().error.message).toContain('a change request cannot skip a step');
    expect((await act('search', 'pause')).statusCode).toBe(200);
    const resume = await act('search', 'resume');
    expect(resume.statusCode).toBe(409);
    expect(resume.json().error.message).toContain('resuming the release plan of flag "search" in production needs 1 approval: create a change request that resumes it once approved (POST …/release-plan/resume?changeRequest=true');
    expect((await act('search', 'abort')).statusCode).toBe(200);
  });

  it('a blue/green switch needs approval', async () => {
    await createFlag(t, 'side', { type: 'string', variations: [{ key: 'blue', value: 'blue' }, { key: 'green', value: 'green' }] });
    await protect();
    const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/side/environments/production/switch', payload: {} });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toContain('switching flag "side" to the other side (blue/green) in production needs 1 approval');
    const staging = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/side/environments/staging/switch', payload: {} });
    expect(staging.statusCode, staging.body).toBe(200);
  });
});

describe('flag metadata where approvals are required', () => {
  it('is environment-independent and never governed: name, tags, description, archiving', async () => {
    await createFlag(t, 'checkout');
    await protect();
    const res = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/checkout', payload: { version: (await flag('checkout')).version, name: 'Checkout', tags: ['web'], description: 'new flow' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(await flag('checkout')).toMatchObject({ name: 'Checkout', tags: ['web'], description: 'new flow' });
  });
});
