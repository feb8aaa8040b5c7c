import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dumpTables } from '../testing/databases.js';
import { createFlag, createTestApp, setStage, snapshotDatabase, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

/** Change requests and approval policies, through the API, on the dialect under test. */

interface RequestBody {
  id: number;
  title: string;
  environment: string;
  status: string;
  author: string;
  version: number;
  changes: { type: string; flag?: string; segment?: string; baseVersion: number; diff: { field: string; text: string }[] }[];
  approvals: { actor: string; role: string }[];
  approvalsNeeded: number;
  approvalsCounted: number;
  comments: { actor: string; body: string }[];
  resolvedBy: string | null;
  reason: string | null;
  bypassed: boolean;
}

interface PolicyBody {
  environment: string;
  required: boolean;
  approvals: number;
  approverRoles: string[];
  adminBypass: boolean;
  version: number;
}

describe('change requests API', () => {
  let t: TestContext;
  /** A second editor and a second admin, so approvals from "someone else" are possible. */
  let editor2: string;
  let admin2: string;
  beforeEach(async () => {
    t = await createTestApp({ background: false });
    const token = async (name: string, role: string) => (await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', payload: { name, role } })).json<{ token: string }>().token;
    editor2 = await token('editor2', 'editor');
    admin2 = await token('admin2', 'admin');
  });
  afterEach(() => t.close());

  const policy = (token: string, env: string, payload: object) => t.request(token, { method: 'PUT', url: `/api/environments/${env}/approval-policy`, payload });
  const protect = async (payload: object = {}) => {
    const res = await policy(t.adminToken, 'production', { required: true, ...payload });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<PolicyBody>();
  };
  const create = (token: string, payload: object) => t.request(token, { method: 'POST', url: '/api/change-requests', payload });
  const act = (token: string, id: number, action: string, payload?: object) => t.request(token, { method: 'POST', url: `/api/change-requests/${id}/${action}`, ...(payload ? { payload } : {}) });
  const read = async (id: number) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/change-requests/${id}` })).json<RequestBody>();
  const flag = async (key: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>();
  const stageRequest = async (key: string, stage: string, token = t.tokens.editor) => {
    const res = await create(token, { title: `${key} to ${stage}`, environment: 'production', changes: [{ type: 'stage', flag: key, stage, baseVersion: (await flag(key)).version }] });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<RequestBody>();
  };

  it('policy: admin-only PUT, audited, read by viewers; bad input names the field', async () => {
    const none = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/environments/production/approval-policy' })).json<PolicyBody>();
    expect(none).toMatchObject({ environment: 'production', required: false, version: 0 });
    expect((await policy(t.tokens.editor, 'production', { required: true })).statusCode).toBe(403);
    const set = await protect({ approvals: 2, approverRoles: ['admin'], adminBypass: true });
    expect(set).toMatchObject({ required: true, approvals: 2, approverRoles: ['admin'], adminBypass: true, version: 1, updatedBy: 'admin' });
    // Defaults: 1 approval, editors and admins, no bypass.
    expect((await policy(t.adminToken, 'staging', { required: true })).json<PolicyBody>()).toMatchObject({ approvals: 1, approverRoles: ['editor', 'admin'], adminBypass: false });

    const bad = [
      { payload: { required: true, approvals: 0 }, field: 'approvals' },
      { payload: { required: true, approvals: 6 }, field: 'approvals' },
      { payload: { required: true, approverRoles: ['viewer'] }, field: 'approverRoles' },
      { payload: { required: 'yes' }, field: 'required' },
      { payload: { approvals: 1 }, field: 'required' },
    ];
    for (const { payload, field } of bad) {
      const res = await policy(t.adminToken, 'production', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.body).toContain(field);
    }
    expect((await policy(t.adminToken, 'nowhere', { required: true })).statusCode).toBe(404);
    // A stale version is a 409, not an overwrite.
    const stale = await policy(t.adminToken, 'production', { required: false, version: 7 });
    expect(stale.statusCode).toBe(409);

    const audit = (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?resourceType=environment&resourceKey=production' })).json<{ items: { action: string; actor: string }[] }>().items;
    expect(audit[0]).toMatchObject({ action: 'environment.approval_policy_changed', actor: 'admin' });
    const all = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/approval-policies' })).json<{ items: PolicyBody[] }>().items;
    expect(Object.fromEntries(all.map((p) => [p.environment, p.required]))).toEqual({ development: false, staging: true, production: true });
  });

  it('a policy refuses direct stage, targeting and segment writes with approval_required; the kill switch always works', async () => {
    await createFlag(t, 'checkout');
    await protect();
    const version = (await flag('checkout')).version;
    const stage = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/stage', payload: { stage: '10%', version } });
    expect(stage.statusCode).toBe(409);
    expect(stage.json<ErrorBody>().error.code).toBe('approval_required');
    expect(stage.json<ErrorBody>().error.message).toMatch(/production needs 1 approval: create a change request \(POST \/api\/change-requests/);
    const targeting = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout/environments/production', payload: { on: true, version } });
    expect(targeting.json<ErrorBody>().error.code).toBe('approval_required');
    const segment = await t.request(t.adminToken, { method: 'PATCH', url: '/api/segments/internal', payload: { included: ['u1'], version: 1 } });
    expect(segment.statusCode).toBe(409);
    expect(segment.json<ErrorBody>().error.message).toContain('segments reach every environment');
    // Other environments are not governed.
    expect((await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/staging/stage', payload: { stage: '10%', version } })).statusCode).toBe(200);

    const kill = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/kill', payload: { message: 'incident' } });
    expect(kill.statusCode).toBe(200);
    expect(kill.json<FlagBody>().environments.production!.stage).toBe('kill');
    const killStage = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/stage', payload: { stage: 'kill' } });
    expect(killStage.statusCode).toBe(200);
  });

  it('?changeRequest=true on the stage and targeting routes proposes the change (202) instead of writing it', async () => {
    await createFlag(t, 'checkout');
    await protect();
    const version = (await flag('checkout')).version;
    const stage = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/stage?changeRequest=true', payload: { stage: '25%', version } });
    expect(stage.statusCode, stage.body).toBe(202);
    expect(stage.json<RequestBody>()).toMatchObject({ title: 'Move checkout to 25% in production', status: 'open', author: 'editor', changes: [{ type: 'stage', flag: 'checkout', baseVersion: version }] });
    const targeting = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/checkout/environments/production?changeRequest=true', payload: { targets: [{ variation: 'on', values: ['qa'] }], version } });
    expect(targeting.statusCode, targeting.body).toBe(202);
    expect(targeting.json<RequestBody>().changes[0]!.diff.map((d) => d.field)).toContain('targets');
    // The version is still required: a request must say what it was made against.
    expect((await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/stage?changeRequest=true', payload: { stage: '25%' } })).statusCode).toBe(428);
    expect((await flag('checkout')).version).toBe(version);
  });

  it('request → approve → apply: one transaction through the same services, audited, diffs rendered, webhooks sent', async () => {
    await createFlag(t, 'checkout');
    await protect();
    const hook = await t.request(t.adminToken, { method: 'POST', url: '/api/webhooks', payload: { url: 'http://127.0.0.1:9/hook', events: ['change_request.requested', 'change_request.approved', 'change_request.applied', 'change_request.rejected'] } });
    expect(hook.statusCode).toBe(201);
    const base = (await flag('checkout')).version;
    const res = await create(t.tokens.editor, {
      title: 'Launch checkout',
      description: 'after the load test',
      environment: 'production',
      changes: [
        { type: 'stage', flag: 'checkout', stage: '10%', baseVersion: base },
        { type: 'targeting', flag: 'checkout', config: { targets: [{ variation: 'on', values: ['qa-1'] }] }, baseVersion: base },
        { type: 'segment', segment: 'internal', patch: { included: ['alice'] }, baseVersion: 1 },
      ],
    });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<RequestBody>();
    expect(created).toMatchObject({ status: 'open', author: 'editor', approvalsNeeded: 1, approvalsCounted: 0, version: 1 });
    expect(created.changes.map((c) => c.baseVersion)).toEqual([base, base, 1]);
    expect(created.changes[0]!.diff.map((d) => d.text)).toContain('stage off → 10%');
    expect(created.changes[1]!.diff.map((d) => d.field)).toEqual(['stage', 'targets']);
    expect(created.changes[2]!.diff[0]).toMatchObject({ field: 'included' });
    // Nothing changed yet.
    expect((await flag('checkout')).version).toBe(base);

    // The author cannot approve; a viewer cannot; another editor can.
    const own = await act(t.tokens.editor, created.id, 'approve');
    expect(own.statusCode).toBe(403);
    expect(own.json<ErrorBody>().error.message).toContain('authors cannot approve');
    expect((await act(t.tokens.viewer, created.id, 'approve')).statusCode).toBe(403);
    // Not approved yet: apply is refused and says why.
    const early = await act(t.tokens.editor, created.id, 'apply');
    expect(early.statusCode).toBe(409);
    expect(early.json<ErrorBody>().error.message).toContain('0 of the 1 approval');

    expect((await act(editor2, created.id, 'comments', { body: 'looks good' })).statusCode).toBe(201);
    const approved = await act(editor2, created.id, 'approve');
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json<RequestBody>()).toMatchObject({ status: 'approved', approvalsCounted: 1, approvals: [{ actor: 'editor2', role: 'editor' }], comments: [{ actor: 'editor2', body: 'looks good' }] });
    expect((await act(editor2, created.id, 'approve')).statusCode).toBe(409);

    const applied = await act(t.tokens.editor, created.id, 'apply');
    expect(applied.statusCode, applied.body).toBe(200);
    expect(applied.json<RequestBody>()).toMatchObject({ status: 'applied', resolvedBy: 'editor', bypassed: false });
    const after = await flag('checkout');
    expect(after.version).toBe(base + 2);
    expect(after.environments.production!.targets).toEqual([{ variation: 'on', values: ['qa-1'] }]);
    expect(after.environments.production!.stage).not.toBe('off');
    const segment = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/segments/internal' })).json<{ included: string[] }>();
    expect(segment.included).toEqual(['alice']);

    const audit = (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?limit=20' })).json<{ items: { action: string; actor: string; message: string | null; resourceKey: string }[] }>().items;
    const flagEntries = audit.filter((e) => e.resourceKey === 'checkout');
    expect(flagEntries.slice(0, 2).map((e) => e.action).sort()).toEqual(['flag.environment_updated', 'flag.stage_changed']);
    expect(flagEntries[0]).toMatchObject({ actor: 'editor', message: `change request #${created.id}: Launch checkout` });
    const requestAudit = (await t.request(t.adminToken, { method: 'GET', url: `/api/audit?resourceType=change_request&resourceKey=${created.id}` })).json<{ items: { action: string }[] }>().items;
    expect(requestAudit.map((e) => e.action)).toEqual(['change_request.applied', 'change_request.approved', 'change_request.commented', 'change_request.created']);

    const deliveries = (await dumpTables(t.db, ['webhook_deliveries'])).webhook_deliveries!.map((d) => d.event);
    expect(deliveries.sort()).toEqual(['change_request.applied', 'change_request.approved', 'change_request.requested']);

    // Applied is final.
    expect((await act(t.tokens.editor, created.id, 'apply')).statusCode).toBe(409);
    expect((await act(t.tokens.editor, created.id, 'withdraw')).statusCode).toBe(409);
  });

  it('apply after a conflicting change is refused naming the flag; rebase resets approvals; approve and apply then work', async () => {
    await createFlag(t, 'checkout');
    await protect();
    const request = await stageRequest('checkout', '50%');
    expect((await act(editor2, request.id, 'approve')).statusCode).toBe(200);
    // Someone changes the flag meanwhile (another environment: the flag's version moves).
    await setStage(t, 'checkout', 'staging', 'dogfood');

    const before = await snapshotDatabase(t.db);
    const refused = await act(t.tokens.editor, request.id, 'apply');
    expect(refused.statusCode).toBe(409);
    const error = refused.json<ErrorBody>().error;
    expect(error.message).toContain('flag "checkout" (version 1 → 2, last changed by admin) changed since it was made');
    expect(error.message).toContain(`/api/change-requests/${request.id}/rebase`);
    expect(error.details).toEqual({ changed: [{ type: 'flag', key: 'checkout', what: 'flag "checkout"', baseVersion: 1, currentVersion: 2, by: 'admin' }] });
    expect(await snapshotDatabase(t.db)).toEqual(before);

    // Anyone who may edit rebases (the new diff needs approving again); viewers may not.
    expect((await act(t.tokens.viewer, request.id, 'rebase')).statusCode).toBe(403);
    const rebased = await act(editor2, request.id, 'rebase');
    expect(rebased.statusCode, rebased.body).toBe(200);
    expect(rebased.json<RequestBody>()).toMatchObject({ status: 'open', approvals: [], approvalsCounted: 0, changes: [{ baseVersion: 2 }] });
    expect((await act(t.tokens.editor, request.id, 'apply')).statusCode).toBe(409);
    expect((await act(editor2, request.id, 'approve')).statusCode).toBe(200);
    const applied = await act(t.tokens.editor, request.id, 'apply');
    expect(applied.statusCode, applied.body).toBe(200);
    const after = await flag('checkout');
    expect(after.environments.production!.stage).toBe('50%');
    expect(after.environments.staging!.stage).toBe('dogfood');
  });

  it('policy × role: approver roles, several approvals from distinct people, admin bypass with a mandatory reason', async () => {
    await createFlag(t, 'checkout');
    await protect({ approvals: 2, approverRoles: ['admin'] });
    const request = await stageRequest('checkout', '10%');
    const byEditor = await act(editor2, request.id, 'approve');
    expect(byEditor.statusCode).toBe(403);
    expect(byEditor.json<ErrorBody>().error.message).toContain('approvals here must come from admin');
    expect((await act(t.adminToken, request.id, 'approve')).json<RequestBody>()).toMatchObject({ status: 'open', approvalsCounted: 1 });
    // No bypass allowed by this policy.
    const noBypass = await act(t.adminToken, request.id, 'apply', { bypassReason: 'hurry' });
    expect(noBypass.statusCode).toBe(403);
    expect((await act(admin2, request.id, 'approve')).json<RequestBody>()).toMatchObject({ status: 'approved', approvalsCounted: 2 });
    expect((await act(t.tokens.editor, request.id, 'apply')).statusCode).toBe(200);

    await protect({ approvals: 1, adminBypass: true });
    const second = await stageRequest('checkout', '50%');
    expect((await act(t.tokens.editor, second.id, 'apply', { bypassReason: 'x' })).statusCode).toBe(403);
    expect((await act(t.adminToken, second.id, 'apply', { bypassReason: '   ' })).statusCode).toBe(400);
    const bypassed = await act(t.adminToken, second.id, 'apply', { bypassReason: 'payment outage, fix must ship now' });
    expect(bypassed.statusCode, bypassed.body).toBe(200);
    expect(bypassed.json<RequestBody>()).toMatchObject({ status: 'applied', bypassed: true, reason: 'payment outage, fix must ship now' });
    const audit = (await t.request(t.adminToken, { method: 'GET', url: `/api/audit?resourceType=change_request&resourceKey=${second.id}` })).json<{ items: { action: string; message: string | null }[] }>().items;
    expect(audit[0]).toMatchObject({ action: 'change_request.applied', message: 'approvals bypassed: payment outage, fix must ship now' });
  });

  it('reject (with a reason) and withdraw (author only) are final', async () => {
    await createFlag(t, 'checkout');
    await protect();
    const a = await stageRequest('checkout', '10%');
    expect((await act(editor2, a.id, 'reject', {})).statusCode).toBe(400);
    expect((await act(t.tokens.editor, a.id, 'reject', { reason: 'mine' })).statusCode).toBe(403);
    const rejected = await act(editor2, a.id, 'reject', { reason: 'not during the freeze' });
    expect(rejected.json<RequestBody>()).toMatchObject({ status: 'rejected', reason: 'not during the freeze', resolvedBy: 'editor2' });
    expect((await act(editor2, a.id, 'approve')).statusCode).toBe(409);

    const b = await stageRequest('checkout', '10%');
    expect((await act(editor2, b.id, 'withdraw')).statusCode).toBe(403);
    expect((await act(t.tokens.viewer, b.id, 'withdraw')).statusCode).toBe(403);
    expect((await act(t.tokens.editor, b.id, 'withdraw')).json<RequestBody>()).toMatchObject({ status: 'withdrawn' });
    expect((await act(t.tokens.editor, b.id, 'apply')).statusCode).toBe(409);

    const list = async (query: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/change-requests${query}` })).json<{ items: RequestBody[] }>().items.map((r) => r.id);
    expect(await list('')).toEqual([b.id, a.id]);
    expect(await list('?status=rejected')).toEqual([a.id]);
    expect(await list('?status=open,approved')).toEqual([]);
    expect(await list('?flag=checkout&environment=production')).toEqual([b.id, a.id]);
    expect(await list('?flag=check')).toEqual([]);
    expect(await list('?environment=staging')).toEqual([]);
    const badStatus = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/change-requests?status=done' });
    expect(badStatus.statusCode).toBe(400);
    expect(badStatus.body).toContain('status');
  });

  it('bad requests name the field; unknown ids and flags are 404; nothing is stored', async () => {
    await createFlag(t, 'checkout');
    const before = await snapshotDatabase(t.db);
    const cases = [
      { payload: { environment: 'production', changes: [{ type: 'stage', flag: 'checkout', stage: '10%', baseVersion: 1 }] }, status: 400, text: 'title' },
      { payload: { title: 'x', environment: 'production', changes: [] }, status: 400, text: 'changes' },
      { payload: { title: 'x', environment: 'production', changes: [{ type: 'stage', flag: 'checkout', stage: '10%' }] }, status: 400, text: 'baseVersion' },
      { payload: { title: 'x', environment: 'production', changes: [{ type: 'rename', flag: 'checkout', baseVersion: 1 }] }, status: 400, text: 'type' },
      { payload: { title: 'x', environment: 'production', changes: [{ type: 'stage', flag: 'checkout', stage: 'kill', baseVersion: 1 }] }, status: 400, text: 'changes.0.stage' },
      { payload: { title: 'x', environment: 'production', changes: [{ type: 'stage', flag: 'checkout', stage: 'sideways', baseVersion: 1 }] }, status: 400, text: 'changes.0' },
      { payload: { title: 'x', environment: 'production', changes: [{ type: 'stage', flag: 'checkout', environment: 'staging', stage: '10%', baseVersion: 1 }] }, status: 400, text: 'changes.0.environment' },
      { payload: { title: 'x', environment: 'production', changes: [{ type: 'targeting', flag: 'checkout', config: { offVariation: 'maybe' }, baseVersion: 1 }] }, status: 400, text: 'body.changes.0.config.offVariation' },
      { payload: { title: 'x', environment: 'production', changes: [{ type: 'stage', flag: 'nope', stage: '10%', baseVersion: 1 }] }, status: 404, text: 'nope' },
      { payload: { title: 'x', environment: 'production', changes: [{ type: 'stage', flag: 'checkout', stage: '10%', baseVersion: 9 }] }, status: 409, text: 'checkout' },
      { payload: { title: 'x', environment: 'nowhere', changes: [{ type: 'segment', segment: 'internal', patch: { included: ['a'] }, baseVersion: 1 }] }, status: 404, text: 'nowhere' },
    ];
    for (const { payload, status, text } of cases) {
      const res = await create(t.tokens.editor, payload);
      expect(res.statusCode, `${JSON.stringify(payload)} → ${res.body}`).toBe(status);
      expect(res.body).toContain(text);
    }
    expect((await create(t.tokens.viewer, cases[0]!.payload)).statusCode).toBe(403);
    expect(await snapshotDatabase(t.db)).toEqual(before);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/change-requests/999' })).statusCode).toBe(404);
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/change-requests/abc' })).statusCode).toBe(400);
    expect((await act(editor2, 999, 'approve')).statusCode).toBe(404);
    expect((await act(editor2, 1, 'comments', { body: '' })).statusCode).toBe(400);
  });

  it('two approvers at once both count; of two applies at once exactly one wins', async () => {
    await createFlag(t, 'checkout');
    await protect({ approvals: 2 });
    const request = await stageRequest('checkout', '10%');
    const [first, second] = await Promise.all([act(editor2, request.id, 'approve'), act(admin2, request.id, 'approve')]);
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    const read1 = await read(request.id);
    expect(read1.approvals.map((a) => a.actor).sort()).toEqual(['admin2', 'editor2']);
    expect(read1.status).toBe('approved');

    const applies = await Promise.all([act(t.tokens.editor, request.id, 'apply'), act(t.adminToken, request.id, 'apply'), act(editor2, request.id, 'apply')]);
    const codes = applies.map((r) => r.statusCode).sort();
    expect(codes).toEqual([200, 409, 409]);
    for (const loser of applies.filter((r) => r.statusCode === 409)) expect(loser.json<ErrorBody>().error.message).toContain('the request is applied');
    const after = await flag('checkout');
    expect(after.version).toBe(2);
    const stageChanges = (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?resourceType=flag&resourceKey=checkout' })).json<{ items: { action: string }[] }>().items.filter((e) => e.action === 'flag.stage_changed');
    expect(stageChanges).toHaveLength(1);
  });

  it('a segment edit is governed by every environment with a policy', async () => {
    await policy(t.adminToken, 'staging', { required: true, approvals: 1, approverRoles: ['editor', 'admin'] });
    await policy(t.adminToken, 'production', { required: true, approvals: 2, approverRoles: ['admin'] });
    const res = await create(t.tokens.editor, { title: 'dogfood alice', environment: 'development', changes: [{ type: 'segment', segment: 'internal', patch: { included: ['alice'] }, baseVersion: 1 }] });
    expect(res.statusCode, res.body).toBe(201);
    const request = res.json<RequestBody>();
    expect(request).toMatchObject({ approvalsNeeded: 2 });
    expect((await act(editor2, request.id, 'approve')).statusCode).toBe(403);
    await act(t.adminToken, request.id, 'approve');
    await act(admin2, request.id, 'approve');
    expect((await act(t.tokens.editor, request.id, 'apply')).statusCode).toBe(200);
  });
});
