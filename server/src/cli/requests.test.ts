import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess, runScripted } from '../testing/cli.js';
import { createFlag, createTestApp, type FlagBody, type TestContext } from '../testing/test-app.js';

describe('switchyard requests / envs policy: usage errors exit 2 before any request', () => {
  const cases = [
    { name: 'create without --file', argv: ['requests', 'create'], err: 'missing --file' },
    { name: 'reject without a reason', argv: ['requests', 'reject', '3'], err: 'missing --reason' },
    { name: 'bad id', argv: ['requests', 'approve', 'x'], err: 'ID must be a whole number' },
    { name: 'bad status', argv: ['requests', 'list', '--status', 'done'], err: '--status must be open, approved, applied, rejected or withdrawn, got "done"' },
    { name: 'empty bypass', argv: ['requests', 'apply', '3', '--bypass', ' '], err: '--bypass needs a reason' },
    { name: 'too many approvals', argv: ['envs', 'policy', 'production', '--approvals', '6'], err: '--approvals' },
    { name: 'bad role', argv: ['envs', 'policy', 'production', '--approvals', '1', '--roles', 'viewer'], err: '--roles must be editor or admin, got "viewer"' },
    { name: 'roles without approvals', argv: ['envs', 'policy', 'production', '--roles', 'admin'], err: 'missing --approvals' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const result = await runScripted(c.argv);
      expect(result.err).toContain(c.err);
      expect(result.code).toBe(2);
      expect(result.calls).toEqual([]);
    });
  }

  it('sends what it was asked', async () => {
    const set = await runScripted(['envs', 'policy', 'production', '--approvals', '2', '--roles', 'admin', '--admin-bypass'], [
      { status: 200, body: { environment: 'production', required: true, approvals: 2, approverRoles: ['admin'], adminBypass: true, version: 1, updatedAt: null, updatedBy: 'admin' } },
    ]);
    expect(set.requests).toEqual(['PUT /api/environments/production/approval-policy']);
    expect(set.calls[0]!.body).toEqual({ required: true, approvals: 2, approverRoles: ['admin'], adminBypass: true });
    expect(set.out).toBe('production: 2 approvals from admin (not the author); admins may bypass with a reason\n');
    const listed = await runScripted(['requests', 'list', '--env', 'production'], [{ status: 200, body: { items: [] } }]);
    expect(listed.requests).toEqual(['GET /api/change-requests?status=open%2Capproved&environment=production']);
  });
});

describe('switchyard requests against a server', () => {
  let t: TestContext;
  let url: string;
  let reviewer: string;
  let dir: string;
  beforeAll(async () => {
    t = await createTestApp({ background: false });
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    reviewer = (await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', payload: { name: 'reviewer', role: 'editor' } })).json<{ token: string }>().token;
    await createFlag(t, 'new-checkout');
    dir = mkdtempSync(join(tmpdir(), 'switchyard-requests-'));
  });
  afterAll(() => t.close());

  const as = (token: string) => (...argv: string[]) => runCliInProcess(argv, { env: { SWITCHYARD_URL: url, SWITCHYARD_TOKEN: token } });

  it('policy → refused direct write → create → approve → apply', async () => {
    const admin = as(t.adminToken);
    const editor = as(t.tokens.editor);
    expect((await admin('envs', 'policy', 'production', '--approvals', '1')).out).toBe('production: 1 approval from editor or admin (not the author)\n');
    expect((await editor('envs', 'policy', 'production')).out).toBe('production: 1 approval from editor or admin (not the author)\n');

    const direct = await editor('flags', 'stage', 'new-checkout', 'production', '10%');
    expect(direct.code).toBe(1);
    expect(direct.err).toContain('production needs 1 approval: create a change request');

    const file = join(dir, 'req.json');
    writeFileSync(file, JSON.stringify({ title: 'Ramp checkout', environment: 'production', changes: [{ type: 'stage', flag: 'new-checkout', stage: '10%', baseVersion: 1 }] }));
    const created = await editor('requests', 'create', '--file', file, '--json');
    expect(created.code, created.err).toBe(0);
    const id = JSON.parse(created.out).id as number;

    const listed = await editor('requests', 'list');
    expect(listed.out).toContain('Ramp checkout');
    expect(listed.out).toContain('new-checkout → 10%');
    const shown = await editor('requests', 'show', String(id));
    expect(shown.out).toContain('1. new-checkout → 10% in production (against version 1)');
    expect(shown.out).toContain('stage off → 10%');

    const own = await editor('requests', 'approve', String(id));
    expect(own.code).toBe(1);
    expect(own.err).toContain('authors cannot approve');
    const approved = await as(reviewer)('requests', 'approve', String(id));
    expect(approved.out).toBe(`Approved change request ${id} "Ramp checkout" (production): approved, approvals 1/1\n`);
    const applied = await editor('requests', 'apply', String(id));
    expect(applied.code, applied.err).toBe(0);
    expect(applied.out).toContain('applied');
    const flag = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/new-checkout' })).json<FlagBody>();
    expect(flag.environments.production!.stage).toBe('10%');

    // The kill switch still works directly.
    expect((await editor('flags', 'kill', 'new-checkout', 'production')).code).toBe(0);

    const file2 = join(dir, 'req2.json');
    writeFileSync(file2, JSON.stringify({ title: 'Later', environment: 'production', changes: [{ type: 'stage', flag: 'new-checkout', stage: '50%', baseVersion: flag.version + 1 }] }));
    const second = JSON.parse((await editor('requests', 'create', '--file', file2, '--json')).out).id as number;
    expect((await as(reviewer)('requests', 'reject', String(second), '--reason', 'freeze')).out).toContain('rejected');
    expect((await editor('requests', 'list', '--status', 'rejected')).out).toContain('Later');
    expect((await editor('envs', 'policy', 'production', '--approvals', '1')).code).toBe(1);
    expect((await admin('envs', 'policy', 'production', '--off')).out).toBe('production: no approval needed (changes are written directly)\n');
  });
});
