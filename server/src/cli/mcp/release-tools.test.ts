import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, type TestContext } from '../../testing/test-app.js';
import { createApiClient } from '../http.js';
import { createMcpServer } from './server.js';

/**
 * `start_release_plan` / `resume_release_plan` against a real app (app.inject answers): what the
 * agent reads, and what the server did (the plan's status, the change request, the audit source).
 */

interface Answer {
  text: string;
  isError: boolean;
}
interface PlanView {
  plan: { status: string; version: number; currentStep: number } | null;
  stage: string;
}
interface RequestBody {
  id: number;
  title: string;
  description: string;
  status: string;
  changes: { type: string; flag: string; action: string; planVersion: number; baseVersion: number }[];
}

let t: TestContext;
let reviewer: string;
const clients: Client[] = [];
beforeEach(async () => {
  t = await createTestApp({ background: false });
  reviewer = (await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', payload: { name: 'reviewer', role: 'editor' } })).json<{ token: string }>().token;
  await createFlag(t, 'checkout');
  await savePlan('checkout');
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await t.close();
});

const planUrl = (key: string, action = '') => `/api/flags/${key}/environments/production/release-plan${action}`;
const planView = async (key = 'checkout') => (await t.request(t.tokens.viewer, { method: 'GET', url: planUrl(key) })).json<PlanView>();
const flagVersion = async (key = 'checkout') => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<{ version: number }>().version;
async function savePlan(key: string): Promise<void> {
  const res = await t.request(t.adminToken, { method: 'PUT', url: planUrl(key), payload: { strategy: 'guarded' } });
  expect(res.statusCode, res.body).toBe(200);
}
async function protect(): Promise<void> {
  const res = await t.request(t.adminToken, { method: 'PUT', url: '/api/environments/production/approval-policy', payload: { required: true, approvals: 1 } });
  expect(res.statusCode, res.body).toBe(200);
}
const act = (token: string, id: number, action: string) => t.request(token, { method: 'POST', url: `/api/change-requests/${id}/${action}` });

/** An MCP client whose server talks to the test app with `token`; `writes` collects every non-GET path it sent. */
async function agent(token = t.tokens.editor): Promise<{ call: (name: string, args: Record<string, unknown>) => Promise<Answer>; writes: string[] }> {
  const writes: string[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = (init?.method ?? 'GET') as 'GET';
    if (method !== 'GET') writes.push(`${method} ${url.pathname}${url.search}`);
    const res = await t.app.inject({ method, url: url.pathname + url.search, headers: init?.headers as Record<string, string>, ...(typeof init?.body === 'string' ? { payload: init.body } : {}) });
    return new Response(res.body, { status: res.statusCode, headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') } });
  };
  const server = createMcpServer(createApiClient({ baseUrl: 'http://sy.test', token, version: '9.9.9', fetch, source: 'mcp' }), '9.9.9');
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '1' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  clients.push(client);
  return {
    writes,
    call: async (name, args) => {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      return { text: result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n'), isError: result.isError === true };
    },
  };
}

/** The JSON after the headline of a successful answer. */
function dataOf<T>(answer: Answer): T {
  expect(answer.isError, answer.text).toBe(false);
  return JSON.parse(answer.text.slice(answer.text.indexOf('\n\n') + 2)) as T;
}

describe('start_release_plan / resume_release_plan', () => {
  it('starts the plan directly where no policy applies, audited with source mcp', async () => {
    const { call } = await agent();
    const answer = await call('start_release_plan', { key: 'checkout', environment: 'production' });
    expect(answer.text).toMatch(/^Started the release plan of "checkout" in production: running at 1% \(step 1 of 4\), plan version \d+\. It ramps by itself from here: 1% → 10% → 50% → 100%\./);
    expect(dataOf<{ status: string; percentage: number }>(answer)).toMatchObject({ status: 'running', percentage: 1 });
    const view = await planView();
    expect(view.plan?.status).toBe('running');
    expect(view.stage).toBe('1%');
    const audit = (await t.request(t.adminToken, { method: 'GET', url: '/api/audit?limit=5' })).json<{ items: { action: string; source: string }[] }>().items;
    expect(audit.find((a) => a.action === 'release.started')?.source).toBe('mcp');

    const again = await call('start_release_plan', { key: 'checkout', environment: 'production' });
    expect(again).toMatchObject({ isError: true, text: expect.stringMatching(/HTTP 409, conflict\): the plan is already running/) });
  });

  it('resumes a paused plan', async () => {
    expect((await t.request(t.adminToken, { method: 'POST', url: planUrl('checkout', '/start') })).statusCode).toBe(200);
    expect((await t.request(t.adminToken, { method: 'POST', url: planUrl('checkout', '/pause'), payload: { reason: 'look at the logs' } })).statusCode).toBe(200);
    const { call } = await agent();
    const answer = await call('resume_release_plan', { key: 'checkout', environment: 'production' });
    expect(answer.text).toMatch(/^Resumed the release plan of "checkout" in production: running at 1%/);
    expect((await planView()).plan?.status).toBe('running');
  });

  it('in a governed environment: a direct start is refused with how to request it; requestTitle opens a pinned change request that, approved and applied, starts the plan', async () => {
    await protect();
    const { call, writes } = await agent();
    const refused = await call('start_release_plan', { key: 'checkout', environment: 'production' });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/^Switchyard refused the request \(HTTP 409, approval_required\): starting the release plan of flag "checkout" in production needs 1 approval/);
    expect(refused.text).toContain('Call start_release_plan again with requestTitle');
    // Not the advice for stage changes, which would lead the agent astray.
    expect(refused.text).not.toContain('stage_flag');
    expect((await planView()).plan?.status).toBe('ready');

    const dry = await call('start_release_plan', { key: 'checkout', environment: 'production', requestTitle: 'Start the checkout canary', dryRun: true });
    expect(dry.text).toMatch(/^Dry run, nothing was written\.\nWould open a change request to start the guarded plan \(version \d+: 1% → 10% → 50% → 100%, guarded by its error rate\) of "checkout" in production \(it needs 1 approval\)/);
    expect(dry.text).toContain('Once applied: the flag moves from off to 1% (step 1 of 4)');
    const writesBefore = writes.length;

    const { version: planVersion } = (await planView()).plan!;
    const version = await flagVersion();
    const opened = await call('start_release_plan', { key: 'checkout', environment: 'production', requestTitle: 'Start the checkout canary', requestDescription: 'after the load test' });
    expect(opened.text).toMatch(/^Opened change request #1 "Start the checkout canary" in production \(status open\)\. It starts the guarded plan \(version \d+: 1% → 10% → 50% → 100%/);
    expect(opened.text).toContain('It needs 1 approval from someone else');
    expect(dataOf<{ id: number; approvalsNeeded: number; planVersion: number; flagVersion: number }>(opened)).toMatchObject({ id: 1, approvalsNeeded: 1, planVersion, flagVersion: version });
    expect(writes.slice(writesBefore)).toEqual(['POST /api/flags/checkout/environments/production/release-plan/start?changeRequest=true']);
    const request = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/change-requests/1' })).json<RequestBody>();
    expect(request).toMatchObject({ title: 'Start the checkout canary', description: 'after the load test', status: 'open' });
    expect(request.changes).toEqual([expect.objectContaining({ type: 'release', flag: 'checkout', action: 'start', planVersion, baseVersion: version })]);
    expect((await planView()).plan?.status).toBe('ready');

    expect((await act(reviewer, 1, 'approve')).statusCode).toBe(200);
    const applied = await act(reviewer, 1, 'apply');
    expect(applied.statusCode, applied.body).toBe(200);
    const view = await planView();
    expect(view.plan?.status).toBe('running');
    expect(view.stage).toBe('1%');
  });

  it('resume where approvals are required goes through a change request too', async () => {
    expect((await t.request(t.adminToken, { method: 'POST', url: planUrl('checkout', '/start') })).statusCode).toBe(200);
    expect((await t.request(t.adminToken, { method: 'POST', url: planUrl('checkout', '/pause') })).statusCode).toBe(200);
    await protect();
    const { call } = await agent();
    const refused = await call('resume_release_plan', { key: 'checkout', environment: 'production' });
    expect(refused.text).toMatch(/HTTP 409, approval_required\): resuming the release plan/);
    expect(refused.text).toContain('Call resume_release_plan again with requestTitle');
    const opened = await call('resume_release_plan', { key: 'checkout', environment: 'production', requestTitle: 'Resume it' });
    expect(opened.text).toMatch(/^Opened change request #1 "Resume it" in production \(status open\)\. It resumes the guarded plan/);
    expect((await planView()).plan?.status).toBe('paused');
  });

  it('dry runs only read, and name the refusal the real call would get', async () => {
    const { call, writes } = await agent();
    const start = await call('start_release_plan', { key: 'checkout', environment: 'production', dryRun: true });
    expect(start.text).toMatch(/^Dry run, nothing was written\.\nWould start the guarded plan \(version \d+: 1% → 10% → 50% → 100%, guarded by its error rate\) of "checkout" in production: the flag moves from off to 1% \(step 1 of 4\)/);
    const resume = await call('resume_release_plan', { key: 'checkout', environment: 'production', dryRun: true });
    expect(resume).toEqual({ isError: true, text: 'Dry run, nothing was written. The real call would be refused: only a paused plan can be resumed; this one is ready (409 conflict): use start_release_plan' });
    await protect();
    const governed = await call('start_release_plan', { key: 'checkout', environment: 'production', dryRun: true });
    expect(governed.isError).toBe(true);
    expect(governed.text).toMatch(/would be refused: starting the release plan of flag "checkout" in production needs 1 approval \(409 approval_required\)\. .*Call start_release_plan again with requestTitle/);
    const viewer = await agent(t.tokens.viewer);
    const denied = await viewer.call('start_release_plan', { key: 'checkout', environment: 'production', requestTitle: 'x', dryRun: true });
    expect(denied.text).toMatch(/would be refused: starting a release plan needs the editor role; this API token is a viewer token/);
    expect([...writes, ...viewer.writes]).toEqual([]);
    expect((await planView()).plan?.status).toBe('ready');
  });

  it.each([
    { name: 'a description without a title', args: { key: 'checkout', environment: 'production', requestDescription: 'why' }, error: /^requestDescription goes with requestTitle/ },
    { name: 'a blank title', args: { key: 'checkout', environment: 'production', requestTitle: '   ' }, error: /requestTitle/ },
    { name: 'no environment', args: { key: 'checkout' }, error: /environment/ },
    { name: 'an argument the tool does not take', args: { key: 'checkout', environment: 'production', changeRequest: true }, error: /Unrecognized key: "changeRequest"/ },
    { name: 'a title too long', args: { key: 'checkout', environment: 'production', requestTitle: 'x'.repeat(500) }, error: /requestTitle/ },
  ])('refuses $name before any write', async ({ args, error }) => {
    const { call, writes } = await agent();
    const answer = await call('start_release_plan', args);
    expect(answer).toMatchObject({ isError: true, text: expect.stringMatching(error) });
    expect(writes).toEqual([]);
    expect((await planView()).plan?.status).toBe('ready');
  });

  it('says what to do when there is no plan, the flag or environment is unknown, or the token is a viewer', async () => {
    await createFlag(t, 'bare');
    const { call, writes } = await agent();
    const none = await call('start_release_plan', { key: 'bare', environment: 'production', requestTitle: 'Start bare' });
    expect(none).toEqual({ isError: true, text: '"bare" has no release plan in production: save one first (the dashboard\'s canary console, or PUT /api/flags/bare/environments/production/release-plan)' });
    expect(writes).toEqual([]);
    const direct = await call('start_release_plan', { key: 'bare', environment: 'production' });
    expect(direct).toMatchObject({ isError: true, text: expect.stringMatching(/HTTP 404, not_found\)/) });
    const ghost = await call('start_release_plan', { key: 'ghost', environment: 'production', requestTitle: 'x' });
    expect(ghost).toMatchObject({ isError: true, text: expect.stringMatching(/HTTP 404, not_found\).*ghost/) });
    const moon = await call('start_release_plan', { key: 'checkout', environment: 'moon' });
    expect(moon).toMatchObject({ isError: true, text: expect.stringMatching(/HTTP 404.*moon/) });
    const viewer = await agent(t.tokens.viewer);
    const denied = await viewer.call('start_release_plan', { key: 'checkout', environment: 'production' });
    expect(denied).toMatchObject({ isError: true, text: expect.stringMatching(/HTTP 403, forbidden\)[\s\S]*Writes need an editor or admin token/) });
    expect((await planView()).plan?.status).toBe('ready');
  });
});
