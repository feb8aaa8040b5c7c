import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliInProcess, runScripted, SCRIPTED_URL, type CliRun } from '../testing/cli.js';
import { auditCount, createFlag, createTestApp, setStage, type FlagBody, type TestContext } from '../testing/test-app.js';
import { EXIT } from './errors.js';

/**
 * `switchyard promote`: against a real app (requests go through app.inject, so the server's own
 * rules answer), and against a scripted server where a test must prove no request was made.
 */

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp({ background: false });
  await createFlag(t, 'checkout');
  await setStage(t, 'checkout', 'staging', '10%');
  await createFlag(t, 'banner');
});
afterEach(async () => {
  await t.close();
});

/** fetch answered by the test app. */
function viaApp(): typeof fetch {
  return async (input, init) => {
    const url = new URL(String(input));
    const res = await t.app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: url.pathname + url.search,
      headers: init?.headers as Record<string, string>,
      ...(typeof init?.body === 'string' ? { payload: init.body } : {}),
    });
    return new Response(res.body, { status: res.statusCode, headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') } });
  };
}

const cli = (argv: string[], token = t.tokens.editor): Promise<CliRun> => runCliInProcess(argv, { env: { SWITCHYARD_URL: SCRIPTED_URL, SWITCHYARD_TOKEN: token }, fetch: viaApp() });
const read = async (key = 'checkout') => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>();

describe('switchyard promote FLAG', () => {
  it('--dry-run prints the diff and changes nothing', async () => {
    const entries = await auditCount(t.db);
    const run = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'production', '--dry-run']);
    expect(run).toMatchObject({ code: EXIT.ok, err: '' });
    expect(run.out).toBe(
      [
        'Promote checkout from staging to production (critical):',
        '  On / off: off → on',
        '  Default rule: off → 10% on / 90% off',
        '  + rule dogfood: if in segment internal serve on',
        '  Stage in production: off → 10%',
        'Dry run: nothing was promoted.',
        '',
      ].join('\n'),
    );
    expect(await auditCount(t.db)).toBe(entries);
  });

  it('a critical target needs --yes; with it, production gets staging\'s targeting, audited with the message', async () => {
    const refused = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'production']);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.err).toMatch(/production is a critical environment: nothing was promoted\n.*--yes/);
    expect((await read()).environments.production!.on).toBe(false);

    const run = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'production', '--yes', '-m', 'QA signed off']);
    expect(run.err).toBe('');
    expect(run.code).toBe(EXIT.ok);
    const flag = await read();
    expect(run.out).toMatch(new RegExp(`Promoted checkout from staging to production \\(version ${flag.version}\\)\\.\\n$`));
    expect(flag.environments.production).toMatchObject({ stage: '10%', on: true });
    const audit = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/checkout/audit' })).json<{ items: { action: string; source: string; message: string }[] }>();
    expect(audit.items[0]).toMatchObject({ action: 'flag.promoted', source: 'cli', message: 'QA signed off' });
  });

  it('a non-critical target needs no --yes; nothing to promote says so and exits 0', async () => {
    const run = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'development']);
    expect(run).toMatchObject({ code: EXIT.ok, err: '' });
    expect((await read()).environments.development!.stage).toBe('10%');
    const again = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'development']);
    expect(again).toMatchObject({ code: EXIT.ok, out: 'Nothing to promote: checkout in development already has staging\'s targeting.\n' });
  });

  it('a refusal is named and exits 1 without writing: a killed target, a viewer, an unknown environment', async () => {
    await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/kill', payload: {} });
    const killed = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'production', '--yes']);
    expect(killed.code).toBe(EXIT.rejected);
    expect(killed.err).toMatch(/switchyard: flag "checkout" is killed in Production: a promotion does not lift a kill/);
    const viewer = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'development'], t.tokens.viewer);
    expect(viewer.code).toBe(EXIT.rejected);
    expect(viewer.err).toMatch(/editor/);
    const unknown = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'qa']);
    expect(unknown).toMatchObject({ code: EXIT.rejected, err: 'switchyard: environment "qa" not found\n' });
  });
});

describe('switchyard promote --all', () => {
  it('--dry-run lists the flags that differ', async () => {
    const run = await cli(['promote', '--all', '--from', 'staging', '--to', 'production', '--dry-run']);
    expect(run).toMatchObject({ code: EXIT.ok, err: '' });
    expect(run.out).toBe(
      [
        '1 flag of 2 differs between staging and production:',
        'FLAG      IN STAGING  IN PRODUCTION  DIFFERENCE               REFUSED',
        'checkout  10%         off            off → 10%, 1 rule added',
        'Dry run: nothing was promoted. Details: switchyard promote FLAG --from staging --to production --dry-run',
        '',
      ].join('\n'),
    );
  });

  it('promotes every differing flag in one change', async () => {
    await setStage(t, 'banner', 'staging', 'dogfood');
    const run = await cli(['promote', '--all', '--from', 'staging', '--to', 'production', '--yes']);
    expect(run.err).toBe('');
    expect(run.out).toMatch(/Promoted 2 flags from staging to production in one change\.\n$/);
    expect((await read('banner')).environments.production!.stage).toBe('dogfood');
    expect((await read('checkout')).environments.production!.stage).toBe('10%');
  });
});

describe('switchyard promote: usage', () => {
  const cases = [
    { name: 'no flag and no --all', argv: ['promote', '--from', 'staging', '--to', 'production'], err: 'missing argument FLAG (or --all for every flag)' },
    { name: 'both a flag and --all', argv: ['promote', 'checkout', '--all', '--from', 'staging', '--to', 'production'], err: 'give either FLAG or --all, not both' },
    { name: 'no --to', argv: ['promote', 'checkout', '--from', 'staging'], err: 'missing --to' },
    { name: 'the same environment twice', argv: ['promote', 'checkout', '--from', 'staging', '--to', 'staging'], err: '--from and --to are both "staging"' },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 2, no request`, async () => {
      const run = await runScripted(c.argv);
      expect(run.code).toBe(EXIT.usage);
      expect(run.err).toContain(c.err);
      expect(run.requests).toEqual([]);
    });
  }
});

describe('switchyard promote into an environment whose policy requires approval', () => {
  beforeEach(async () => {
    const res = await t.request(t.adminToken, { method: 'PUT', url: '/api/environments/production/approval-policy', payload: { required: true, adminBypass: true } });
    expect(res.statusCode, res.body).toBe(200);
  });
  const requests = async () => (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/change-requests' })).json<{ items: { id: number; title: string; description: string; changes: { flag: string; baseVersion: number }[] }[] }>().items;

  it('without an option it is refused (exit 1), saying how to propose it; nothing changes', async () => {
    const run = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'production', '--yes']);
    expect(run.code).toBe(EXIT.rejected);
    expect(run.err).toContain('promoting checkout in production needs 1 approval');
    expect(run.err).toContain('--request');
    expect((await read()).environments.production!.on).toBe(false);
  });

  it('--request TITLE opens one change request (no --yes needed) and says how to apply it', async () => {
    const version = (await read()).version;
    const run = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'production', '--request', 'Ship checkout', '--description', 'QA signed off']);
    expect(run.err).toBe('');
    expect(run.code).toBe(EXIT.ok);
    const [request] = await requests();
    expect(request).toMatchObject({ title: 'Ship checkout', description: 'QA signed off', changes: [{ flag: 'checkout', baseVersion: version }] });
    expect(run.out).toContain(`Opened change request #${request!.id} in production: Ship checkout (1 change). Nothing was promoted yet.\n`);
    expect(run.out).toContain(`switchyard requests apply ${request!.id}`);
    expect((await read()).environments.production!.on).toBe(false);
  });

  it('--all --request puts every differing flag in ONE request', async () => {
    await setStage(t, 'banner', 'staging', 'dogfood');
    const run = await cli(['promote', '--all', '--from', 'staging', '--to', 'production', '--request', 'Release 42']);
    expect(run.err).toBe('');
    const all = await requests();
    expect(all).toHaveLength(1);
    expect(all[0]!.changes.map((c) => c.flag)).toEqual(['banner', 'checkout']);
    expect(run.out).toContain('Release 42 (2 changes)');
  });

  it('--bypass-approval: an admin promotes, audited with the reason; an editor is refused', async () => {
    const editor = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'production', '--yes', '--bypass-approval', 'incident 42']);
    expect(editor.code).toBe(EXIT.rejected);
    expect(editor.err).toContain('only an admin can bypass approvals');

    const run = await cli(['promote', 'checkout', '--from', 'staging', '--to', 'production', '--yes', '--bypass-approval', 'incident 42'], t.adminToken);
    expect(run.err).toBe('');
    expect(run.out).toMatch(/Promoted checkout from staging to production \(version \d+\), approvals bypassed \(recorded in the audit log\)\.\n$/);
    const audit = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/checkout/audit' })).json<{ items: { action: string; message: string }[] }>();
    expect(audit.items[0]).toMatchObject({ action: 'flag.promoted', message: 'approvals in production bypassed by admin: incident 42' });
  });
});

describe('switchyard promote: governance usage', () => {
  const base = ['promote', 'checkout', '--from', 'staging', '--to', 'production'];
  const cases = [
    { name: '--request and --bypass-approval', argv: [...base, '--request', 'x', '--bypass-approval', 'y'], err: 'give either --request or --bypass-approval, not both' },
    { name: '--description without --request', argv: [...base, '--description', 'x'], err: '--description goes with --request' },
    { name: 'an empty title', argv: [...base, '--request', ' '], err: '--request needs a title' },
    { name: 'an empty reason', argv: [...base, '--bypass-approval', ''], err: '--bypass-approval needs the reason' },
    { name: '--message with --request', argv: [...base, '--request', 'x', '-m', 'y'], err: 'with --request, give the title' },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 2, no request`, async () => {
      const run = await runScripted(c.argv);
      expect(run.code).toBe(EXIT.usage);
      expect(run.err).toContain(c.err);
      expect(run.requests).toEqual([]);
    });
  }
});
