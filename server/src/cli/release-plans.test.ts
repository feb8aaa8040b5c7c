import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliInProcess, SCRIPTED_URL, type CliRun } from '../testing/cli.js';
import { createFlag, createTestApp, type TestContext } from '../testing/test-app.js';
import { EXIT } from './errors.js';

/** `switchyard flags start-plan` / `resume-plan`, against a real app (app.inject answers). */

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp({ background: false });
  await createFlag(t, 'checkout');
  const saved = await t.request(t.adminToken, { method: 'PUT', url: '/api/flags/checkout/environments/production/release-plan', payload: { strategy: 'guarded' } });
  expect(saved.statusCode, saved.body).toBe(200);
});
afterEach(async () => {
  await t.close();
});

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
const planStatus = async () => (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/checkout/environments/production/release-plan' })).json<{ plan: { status: string; version: number } }>().plan;
const protect = async () => expect((await t.request(t.adminToken, { method: 'PUT', url: '/api/environments/production/approval-policy', payload: { required: true } })).statusCode).toBe(200);

describe('switchyard flags start-plan', () => {
  it('starts the plan directly where no policy applies', async () => {
    const run = await cli(['flags', 'start-plan', 'checkout', 'production']);
    expect(run.err).toBe('');
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toMatch(/^Started the release plan of checkout in production: running at \d+%/);
    expect((await planStatus()).status).toBe('running');
  });

  it('where approvals are required: refused directly (saying --request), --request opens a pinned change request', async () => {
    await protect();
    const refused = await cli(['flags', 'start-plan', 'checkout', 'production']);
    expect(refused.code).not.toBe(EXIT.ok);
    expect(refused.err).toContain('start?changeRequest=true');
    expect(refused.err).toContain('switchyard flags start-plan checkout production --request "TITLE"');
    const version = (await planStatus()).version;

    const run = await cli(['flags', 'start-plan', 'checkout', 'production', '--request', 'Start the checkout canary', '--description', 'after the load test']);
    expect(run.err).toBe('');
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toContain(`Opened change request #1 in production: Start the checkout canary. It starts the guarded plan (version ${version}: `);
    expect(run.out).toContain('switchyard requests apply 1');
    expect((await planStatus()).status).toBe('ready');
    const request = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/change-requests/1' })).json<{ description: string; changes: { type: string; action: string; planVersion: number }[] }>();
    expect(request.description).toBe('after the load test');
    expect(request.changes).toEqual([expect.objectContaining({ type: 'release', action: 'start', planVersion: version })]);

    const shown = await cli(['requests', 'show', '1'], t.tokens.viewer);
    expect(shown.out).toContain('checkout release plan start (plan version');
    expect(shown.out).toContain('start the guarded release plan');
  });

  it('bad usage is refused before any request', async () => {
    const noTitle = await cli(['flags', 'start-plan', 'checkout', 'production', '--description', 'x']);
    expect(noTitle.code).toBe(EXIT.usage);
    expect(noTitle.err).toContain('--description goes with --request');
    const blank = await cli(['flags', 'resume-plan', 'checkout', 'production', '--request', ' ']);
    expect(blank.code).toBe(EXIT.usage);
    expect((await planStatus()).status).toBe('ready');
  });
});
