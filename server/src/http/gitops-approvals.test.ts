import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditCount, createTestApp, snapshotDatabase, type TestContext } from '../testing/test-app.js';

/** GitOps apply into environments with an approval policy, on the dialect under test. */

let t: TestContext;
let editor2: string;
beforeEach(async () => {
  t = await createTestApp({ background: false });
  editor2 = (await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', payload: { name: 'editor2', role: 'editor' } })).json<{ token: string }>().token;
});
afterEach(() => t.close());

const FILE = `environments:
  development: { name: Development }
  production: { name: Production, critical: true }
  staging: { name: Staging }
segments:
  internal:
    name: Internal users
    included: [alice]
  beta:
    name: Beta testers
    included: [bob]
flags:
  new-checkout:
    description: The new checkout flow
    environments:
      production: { stage: 10% }
      staging: { stage: 50% }
`;

const apply = (document: string, extra: Record<string, unknown> = {}, token = t.adminToken) =>
  t.request(token, { method: 'POST', url: '/api/gitops/apply', payload: { document, filename: 'flags.yaml', ...extra } });
const protect = async (env: string, payload: object = {}) => {
  const res = await t.request(t.adminToken, { method: 'PUT', url: `/api/environments/${env}/approval-policy`, payload: { required: true, ...payload } });
  expect(res.statusCode, res.body).toBe(200);
};
const flag = async (key: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<{ version: number; description: string; environments: Record<string, { stage: string }> }>();
const segment = async (key: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/segments/${key}` })).json<{ included: string[] }>();
const audit = async (limit = 10) => (await t.request(t.adminToken, { method: 'GET', url: `/api/audit?limit=${limit}` })).json<{ items: { action: string; resourceKey: string; message: string | null; source: string }[] }>().items;

describe('GitOps apply where an approval policy applies', () => {
  beforeEach(async () => {
    expect((await apply(FILE)).statusCode).toBe(200);
    await protect('production');
  });

  it('refuses a file that changes a flag in production with 409 naming it and the ways forward; nothing is written', async () => {
    const before = await snapshotDatabase(t.db);
    const edited = FILE.replace('production: { stage: 10% }', 'production: { stage: 50% }');
    for (const extra of [{}, { dryRun: true }]) {
      const res = await apply(edited, extra, t.tokens.editor);
      expect(res.statusCode, res.body).toBe(409);
      const { error } = res.json<{ error: { code: string; message: string; details: { environments: string[] } } }>();
      expect(error.code).toBe('approval_required');
      expect(error.message).toContain('flag "new-checkout" in production');
      expect(error.message).toContain('needs 1 approval');
      expect(error.message).toContain('--request');
      expect(error.message).toContain('protect the branch');
      expect(error.details.environments).toEqual(['production']);
    }
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('applies what no policy governs: other environments and flag metadata', async () => {
    const edited = FILE.replace('staging: { stage: 50% }', 'staging: { stage: 100% }').replace('The new checkout flow', 'The new checkout');
    const res = await apply(edited, {}, t.tokens.editor);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ applied: true, changeRequests: [], approvalBypassed: [] });
    const f = await flag('new-checkout');
    expect(f.environments.staging!.stage).toBe('100%');
    expect(f.description).toBe('The new checkout');
  });

  it('a segment edit is governed whenever any environment has a policy (segments reach every environment)', async () => {
    const res = await apply(FILE.replace('included: [bob]', 'included: [bob, carol]'));
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().error.message).toContain('segment "beta" (segments reach every environment)');
  });

  it('a new flag serving something in production is governed; a new flag left off there is not', async () => {
    const on = await apply(`${FILE}  banner:\n    environments:\n      production: { stage: 100% }\n`);
    expect(on.statusCode, on.body).toBe(409);
    expect(on.json().error.message).toContain('new flag "banner" in production');
    const off = await apply(`${FILE}  banner:\n    environments:\n      production: { stage: off }\n      staging: { stage: 100% }\n`);
    expect(off.statusCode, off.body).toBe(200);
  });

  describe('bypassApproval', () => {
    const edited = FILE.replace('production: { stage: 10% }', 'production: { stage: 50% }');

    it('is for admins only, where the policy allows it, and needs a reason', async () => {
      const count = await auditCount(t.db);
      const byEditor = await apply(edited, { bypassApproval: 'hotfix' }, t.tokens.editor);
      expect(byEditor.statusCode).toBe(403);
      expect(byEditor.json().error.message).toContain('only an admin can bypass approvals');
      const notAllowed = await apply(edited, { bypassApproval: 'hotfix' });
      expect(notAllowed.statusCode).toBe(403);
      expect(notAllowed.json().error.message).toContain('production does not allow admins to bypass approvals');
      const blank = await apply(edited, { bypassApproval: '  ' });
      expect(blank.statusCode).toBe(400);
      expect(blank.json().error.message).toContain('body.bypassApproval');
      const both = await apply(edited, { bypassApproval: 'x', changeRequest: { title: 'y' } });
      expect(both.statusCode).toBe(400);
      expect(both.json().error.message).toContain('body.bypassApproval');
      expect(await auditCount(t.db)).toBe(count);
    });

    it('applies and audits the reason in every entry it writes', async () => {
      await protect('production', { adminBypass: true, version: 1 });
      const res = await apply(edited, { bypassApproval: 'incident 42: ramp now', message: 'ramp' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ applied: true, approvalBypassed: ['production'] });
      expect((await flag('new-checkout')).environments.production!.stage).toBe('50%');
      const [entry] = await audit(1);
      expect(entry).toMatchObject({ action: 'flag.updated', resourceKey: 'new-checkout', source: 'gitops', message: 'ramp (approvals in production bypassed by admin: incident 42: ramp now)' });
    });

    it('needs every policy involved to allow it (a segment edit falls under all of them)', async () => {
      await protect('production', { adminBypass: true, version: 1 });
      await protect('staging');
      const res = await apply(FILE.replace('included: [bob]', 'included: [bob, carol]'), { bypassApproval: 'why not' });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.message).toContain('production, staging do not allow admins to bypass');
    });
  });

  describe('changeRequest', () => {
    it('applies the rest of the file and proposes the governed changes; approved and applied, the server matches the file', async () => {
      const edited = FILE.replace('production: { stage: 10% }', 'production: { stage: 50% }').replace('staging: { stage: 50% }', 'staging: { stage: 100% }').replace('included: [bob]', 'included: [bob, carol]');
      const res = await apply(edited, { changeRequest: { title: 'Ramp checkout', description: 'QA signed off' }, message: 'ramp', commit: 'abc123' }, t.tokens.editor);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<{ applied: boolean; changeRequests: { id: number; environment: string; title: string; changes: number }[] }>();
      expect(body.applied).toBe(true);
      expect(body.changeRequests).toEqual([{ id: expect.any(Number), environment: 'production', title: 'Ramp checkout', changes: 2 }]);
      // Staging moved now; production and the segment wait for approval.
      let f = await flag('new-checkout');
      expect(f.environments.staging!.stage).toBe('100%');
      expect(f.environments.production!.stage).toBe('10%');
      expect((await segment('beta')).included).toEqual(['bob']);

      const id = body.changeRequests[0]!.id;
      const request = (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/change-requests/${id}` })).json<{ author: string; description: string; changes: { type: string; diff: { text: string }[] }[] }>();
      expect(request.author).toBe('editor');
      expect(request.description).toBe('QA signed off\n\nProposed by a GitOps apply of commit abc123: ramp.');
      // In the plan's order: segments first (a flag may come to use one).
      expect(request.changes.map((c) => c.type)).toEqual(['segment', 'targeting']);
      expect(request.changes[1]!.diff.map((d) => d.text).join('\n')).toContain('stage 10% → 50%');

      expect((await t.request(editor2, { method: 'POST', url: `/api/change-requests/${id}/approve` })).statusCode).toBe(200);
      const applied = await t.request(t.tokens.editor, { method: 'POST', url: `/api/change-requests/${id}/apply`, payload: {} });
      expect(applied.statusCode, applied.body).toBe(200);
      f = await flag('new-checkout');
      expect(f.environments.production!.stage).toBe('50%');
      expect((await segment('beta')).included).toEqual(['bob', 'carol']);
      const plan = await t.request(t.adminToken, { method: 'POST', url: '/api/gitops/plan', payload: { document: edited } });
      expect(plan.json().changes).toEqual([]);
    });

    it('creates a new flag off in production and proposes its release there', async () => {
      const res = await apply(`${FILE}  banner:\n    environments:\n      production: { stage: 100% }\n`, { changeRequest: { title: 'Banner' } }, t.tokens.editor);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().changeRequests).toHaveLength(1);
      expect((await flag('banner')).environments.production!.stage).toBe('off');
    });

    it('one request per environment that needs approval', async () => {
      await protect('staging');
      const edited = FILE.replace('production: { stage: 10% }', 'production: { stage: 50% }').replace('staging: { stage: 50% }', 'staging: { stage: 100% }');
      const res = await apply(edited, { changeRequest: { title: 'Ramp' } }, t.tokens.editor);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().changeRequests.map((r: { environment: string; title: string }) => [r.environment, r.title])).toEqual([
        ['production', 'Ramp (production)'],
        ['staging', 'Ramp (staging)'],
      ]);
      expect(res.json().applied).toBe(false);
    });

    it('bad input names the field', async () => {
      const res = await apply(FILE, { changeRequest: { title: '' } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toContain('body.changeRequest.title');
      const extra = await apply(FILE, { changeRequest: { title: 'x', nope: 1 } });
      expect(extra.statusCode).toBe(400);
    });
  });
});
