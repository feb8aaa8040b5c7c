import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DOCUMENT_LIMITS } from '../domain/gitops/limits.js';
import { runScripted } from '../testing/cli.js';
import { EXIT } from './errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-gitops-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** What the server answers a plan request for these (empty) files. */
const emptyPlan = { status: 200, body: { changes: [], summary: { create: 0, update: 0, delete: 0 }, versions: {} } };

describe('flags files over the size the server accepts', () => {
  it.each(['diff', 'apply'])('%s refuses them before uploading, naming the limit (exit 1)', async (command) => {
    writeFileSync(join(dir, 'a.yaml'), `flags: {}\n# ${'x'.repeat(DOCUMENT_LIMITS.bytes / 2)}\n`);
    writeFileSync(join(dir, 'b.yaml'), `flags: {}\n# ${'x'.repeat(DOCUMENT_LIMITS.bytes / 2)}\n`);
    const { code, err, requests } = await runScripted([command, dir], [emptyPlan]);
    expect(code).toBe(EXIT.rejected);
    expect(err).toMatch(/holds 2,097,\d{3} bytes of flags files; the server accepts at most 2\.0 MiB \(2,097,152 bytes\) at once/);
    expect(requests).toEqual([]);
  });

  it('sends files within the limit', async () => {
    writeFileSync(join(dir, 'a.yaml'), 'flags: {}\n');
    const { code, requests } = await runScripted(['diff', dir], [emptyPlan]);
    expect(code).toBe(EXIT.ok);
    expect(requests).toEqual(['POST /api/gitops/plan']);
  });
});

describe('apply where an approval policy applies', () => {
  const onePlan = { status: 200, body: { changes: [{ action: 'update', resource: 'flag', key: 'checkout', fields: [{ path: 'environments.production.stage', before: '10%', after: '50%' }] }], summary: { create: 0, update: 1, delete: 0 }, versions: { 'flag:checkout': 3 } } };
  const applied = (extra: object) => ({ status: 200, body: { ...onePlan.body, applied: true, dryRun: false, auditIds: [1], changeRequests: [], approvalBypassed: [], ...extra } });
  const file = () => {
    writeFileSync(join(dir, 'flags.yaml'), 'flags: {}\n');
    return join(dir, 'flags.yaml');
  };

  it('--request sends the title and description, and says which requests were proposed', async () => {
    const { code, out, calls } = await runScripted(['apply', file(), '--request', 'Ramp checkout', '--description', 'QA ok', '--commit', 'abc'], [
      onePlan,
      applied({ applied: false, changeRequests: [{ id: 7, environment: 'production', title: 'Ramp checkout', changes: 1 }] }),
    ]);
    expect(code).toBe(EXIT.ok);
    expect(calls[1]!.body).toMatchObject({ changeRequest: { title: 'Ramp checkout', description: 'QA ok' }, expectedVersions: { 'flag:checkout': 3 } });
    expect(calls[1]!.body).not.toHaveProperty('bypassApproval');
    expect(out).toContain('Nothing else to apply: every change needs approval.');
    expect(out).toContain('Proposed change request #7 in production: Ramp checkout (1 change); once approved: switchyard requests apply 7');
  });

  it('--bypass-approval sends the reason and reports the bypass', async () => {
    const { code, out, calls } = await runScripted(['apply', file(), '--bypass-approval', 'incident 42', '--commit', 'abc'], [onePlan, applied({ approvalBypassed: ['production'] })]);
    expect(code).toBe(EXIT.ok);
    expect(calls[1]!.body).toMatchObject({ bypassApproval: 'incident 42' });
    expect(out).toContain('Approvals bypassed in production (recorded in the audit log).');
  });

  it('prints the server\'s refusal when neither is given (exit 1)', async () => {
    const refusal = { status: 409, body: { error: { code: 'approval_required', message: 'applying a flags file that changes flag "checkout" in production needs 1 approval: propose …' } } };
    const { code, err } = await runScripted(['apply', file(), '--commit', 'abc'], [onePlan, refusal]);
    expect(code).toBe(EXIT.rejected);
    expect(err).toContain('flag "checkout" in production needs 1 approval');
  });

  it.each([
    [['--request', 'x', '--bypass-approval', 'y'], 'either --request or --bypass-approval'],
    [['--description', 'x'], '--description goes with --request'],
    [['--bypass-approval', ' '], '--bypass-approval needs the reason'],
  ])('usage errors: %j', async (flags, message) => {
    const { code, err, requests } = await runScripted(['apply', file(), ...flags], []);
    expect(code).toBe(EXIT.usage);
    expect(err).toContain(message);
    expect(requests).toEqual([]);
  });
});
