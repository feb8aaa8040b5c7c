import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultFlagEnvironment } from '../../domain/flag-defaults.js';
import { applyStage } from '../../domain/stages.js';
import type { FlagView } from '../command.js';
import { createApiClient } from '../http.js';
import { withStage } from './plans.js';
import { createMcpServer } from './server.js';

/**
 * The MCP server in-process, over the SDK's in-memory transport, against a fake Switchyard that
 * answers by route and records every request: proves what reaches the API (no write on a dry run,
 * the `mcp` source on every request) and that odd answers become tool errors. The real server is
 * in test/e2e/mcp.test.ts.
 */

const URL_BASE = 'http://sy.test';
const BOOL = [
  { key: 'off', value: false },
  { key: 'on', value: true },
];
const off = defaultFlagEnvironment('new-checkout', BOOL, 'boolean');
const FLAG: FlagView = {
  key: 'new-checkout',
  name: 'New checkout',
  description: '',
  tags: [],
  owner: '',
  type: 'boolean',
  variations: BOOL,
  archived: false,
  clientVisible: false,
  version: 3,
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
  updatedBy: 'admin',
  managedBy: null,
  environments: { staging: withStage(applyStage(off, '10%', 'on')), production: withStage(off) },
};

interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

type Route = (body: unknown) => { status: number; body: unknown; raw?: string };

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A connected client; `routes` maps `METHOD /path` (query left out) to an answer; anything else is a 404 "no route". */
async function connect(routes: Record<string, Route>): Promise<{ client: Client; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(String(input));
    const body = init?.body ? (JSON.parse(String(init.body)) as unknown) : undefined;
    const method = init?.method ?? 'GET';
    requests.push({ method, path: url.pathname + url.search, headers: init?.headers as Record<string, string>, body });
    const route = routes[`${method} ${url.pathname}`];
    if (!route) return new Response(JSON.stringify({ error: { code: 'not_found', message: `no route ${method} ${url.pathname}` } }), { status: 404 });
    const answer = route(body);
    return new Response(answer.raw ?? JSON.stringify(answer.body), { status: answer.status });
  };
  const api = createApiClient({ baseUrl: URL_BASE, token: 'tok', version: '9.9.9', fetch, source: 'mcp' });
  const server = createMcpServer(api, '9.9.9');
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '1' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  clients.push(client);
  return { client, requests };
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  return { text: result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n'), isError: result.isError === true };
}

const ok = (body: unknown): Route => () => ({ status: 200, body });
const reads: Record<string, Route> = {
  'GET /api/me': ok({ name: 'agent', role: 'editor' }),
  'GET /api/flags/new-checkout': ok(FLAG),
  'GET /api/environments': ok({ items: [{ key: 'staging' }, { key: 'production' }] }),
  'GET /api/environments/production/approval-policy': ok({ required: false, approvals: 1 }),
  'GET /api/environments/staging/approval-policy': ok({ required: false, approvals: 1 }),
  'GET /api/flags/new-checkout/environments/production/release-plan': ok({ plan: { version: 2, status: 'paused', currentStep: 1, spec: { strategy: 'rolling', steps: [{ percentage: 25 }, { percentage: 50 }, { percentage: 100 }], guard: null } } }),
};

describe('switchyard mcp (in-process)', () => {
  it.each([
    { name: 'create_flag', args: { key: 'promo', dryRun: true } },
    { name: 'stage_flag', args: { key: 'new-checkout', environment: 'production', stage: 'dogfood', dryRun: true } },
    { name: 'stage_flag', args: { key: 'new-checkout', environment: 'production', stage: 'dogfood', changeRequest: true, dryRun: true } },
    { name: 'kill_flag', args: { key: 'new-checkout', environment: 'staging', dryRun: true } },
    { name: 'resume_release_plan', args: { key: 'new-checkout', environment: 'production', dryRun: true } },
  ])('a dry run of $name only reads', async ({ name, args }) => {
    const { client, requests } = await connect(reads);
    const answer = await call(client, name, args);
    expect(answer.isError, answer.text).toBe(false);
    expect(answer.text).toMatch(/^Dry run, nothing was written\./);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('sends the version it read with a stage change, and marks every request as coming from mcp', async () => {
    let sent: unknown;
    const { client, requests } = await connect({
      ...reads,
      'POST /api/flags/new-checkout/environments/staging/stage': (body) => {
        sent = body;
        return { status: 200, body: { ...FLAG, version: 4, environments: { ...FLAG.environments, staging: withStage(applyStage(off, '50%', 'on')) } } };
      },
    });
    const answer = await call(client, 'stage_flag', { key: 'new-checkout', environment: 'staging', stage: '50%', message: 'clean day' });
    expect(answer.text).toMatch(/^new-checkout in staging: 10% → 50%; serving internal: on; others: on 50% \/ off 50% \(version 4\)/);
    expect(sent).toEqual({ stage: '50%', message: 'clean day', version: 3 });
    for (const request of requests) expect(request.headers).toMatchObject({ 'x-switchyard-source': 'mcp', 'user-agent': 'switchyard-mcp/9.9.9', authorization: 'Bearer tok' });
  });

  it('requestTitle pins the change request to the plan and flag versions it read; a direct resume sends no body fields', async () => {
    const sent: unknown[] = [];
    const request = { id: 7, title: 'Resume it', environment: 'production', status: 'open', approvalsNeeded: 2, changes: [{ diff: [{ field: 'releasePlan', text: 'resume the rolling release plan' }] }] };
    const resumed = { version: 3, status: 'running', currentStep: 1, spec: { strategy: 'rolling', steps: [{ percentage: 25 }, { percentage: 50 }, { percentage: 100 }], guard: null } };
    const { client, requests } = await connect({
      ...reads,
      'POST /api/flags/new-checkout/environments/production/release-plan/resume': (body) => {
        sent.push(body);
        return (body as { title?: string }).title === undefined ? { status: 200, body: resumed } : { status: 202, body: request };
      },
    });
    const direct = await call(client, 'resume_release_plan', { key: 'new-checkout', environment: 'production' });
    expect(direct.text).toMatch(/^Resumed the release plan of "new-checkout" in production: running at 50% \(step 2 of 3\), plan version 3\./);
    expect(sent.splice(0)).toEqual([{}]);
    expect(requests.at(-1)!.path).toBe('/api/flags/new-checkout/environments/production/release-plan/resume');
    const answer = await call(client, 'resume_release_plan', { key: 'new-checkout', environment: 'production', requestTitle: 'Resume it', requestDescription: 'errors are back to normal' });
    expect(answer.text).toMatch(/^Opened change request #7 "Resume it" in production \(status open\)\. It resumes the rolling plan \(version 2: 25% → 50% → 100%\) once applied; nothing changed yet\. It needs 2 approvals from someone else/);
    expect(sent).toEqual([{ version: 3, planVersion: 2, title: 'Resume it', description: 'errors are back to normal' }]);
    expect(requests.at(-1)!.path).toBe('/api/flags/new-checkout/environments/production/release-plan/resume?changeRequest=true');
  });

  it('stage "kill" is the kill switch: no version pinned, never a change request', async () => {
    let sent: unknown;
    const { client, requests } = await connect({
      ...reads,
      'POST /api/flags/new-checkout/environments/staging/stage': (body) => {
        sent = body;
        return { status: 200, body: { ...FLAG, version: 4, environments: { ...FLAG.environments, staging: withStage(applyStage(FLAG.environments.staging!, 'kill', 'on')) } } };
      },
    });
    const answer = await call(client, 'stage_flag', { key: 'new-checkout', environment: 'staging', stage: 'kill', changeRequest: true });
    expect(answer.text).toMatch(/^new-checkout in staging: 10% → kill; serving off \(killed\)/);
    expect(sent).toEqual({ stage: 'kill' });
    expect(requests.at(-1)!.path).toBe('/api/flags/new-checkout/environments/staging/stage');
  });

  it('turns a server that is not Switchyard into a tool error', async () => {
    const { client } = await connect({ 'GET /api/flags': () => ({ status: 502, body: null, raw: '<html>Bad gateway</html>' }) });
    const answer = await call(client, 'list_flags', {});
    expect(answer).toEqual({ isError: true, text: expect.stringMatching(/server answered 502 without a Switchyard error; is the URL right\?/) });
  });

  it('lists every validation problem the server reports', async () => {
    const details = [
      { path: 'body.variations[0].value', message: 'a number flag needs number values; got "a"' },
      { path: 'body.variations[1].value', message: 'a number flag needs number values; got "b"' },
    ];
    const { client } = await connect({ 'POST /api/flags': () => ({ status: 400, body: { error: { code: 'validation_failed', message: `${details[0]!.path}: ${details[0]!.message}`, details } } }) });
    const answer = await call(client, 'create_flag', { key: 'n', type: 'number', variations: [{ key: 'a', value: 'a' }, { key: 'b', value: 'b' }] });
    expect(answer.isError).toBe(true);
    expect(answer.text.split('\n')).toEqual([
      'Switchyard refused the request (HTTP 400, validation_failed): body.variations[0].value: a number flag needs number values; got "a"',
      '  body.variations[0].value: a number flag needs number values; got "a"',
      '  body.variations[1].value: a number flag needs number values; got "b"',
      'Fix the argument the message names and call the tool again.',
    ]);
  });

  it('says when the server keeps no code references, and tells that apart from an unknown flag', async () => {
    const { client } = await connect({ 'GET /api/flags/ghost/code-refs': () => ({ status: 404, body: { error: { code: 'not_found', message: 'flag "ghost" not found' } } }) });
    const old = await call(client, 'get_code_references', { key: 'new-checkout' });
    expect(old).toMatchObject({ isError: true, text: expect.stringMatching(/^This Switchyard server does not keep code references/) });
    const ghost = await call(client, 'get_code_references', { key: 'ghost' });
    expect(ghost).toMatchObject({ isError: true, text: expect.stringMatching(/HTTP 404, not_found\): flag "ghost" not found/) });
  });

  it('shows code references with readable times', async () => {
    const refs = { items: [{ repository: 'shop', branch: 'main', commit: 'abc', path: 'src/a.ts', line: 3, snippet: "isEnabled('new-checkout')", uploadedAt: 1_764_547_200_000 }], lastReferencedAt: 1_764_547_200_000, removedAt: null };
    const { client } = await connect({ 'GET /api/flags/new-checkout/code-refs': ok(refs) });
    const answer = await call(client, 'get_code_references', { key: 'new-checkout' });
    expect(answer.text).toMatch(/^"new-checkout" is referenced in 1 place \(shop\)\./);
    expect(JSON.parse(answer.text.split('\n\n')[1]!)).toMatchObject({ items: [{ path: 'src/a.ts', line: 3, uploadedAt: '2025-12-01T00:00:00.000Z' }], lastReferencedAt: '2025-12-01T00:00:00.000Z', removedAt: null });
  });

  it('evaluates with the SDK evaluator on the environment\'s rule set', async () => {
    const { client } = await connect({ ...reads, 'GET /api/flags': ok({ items: [FLAG] }), 'GET /api/segments': ok({ items: [{ key: 'internal', unitAttribute: 'userId', included: ['dogfooder'], excluded: [], rules: [], version: 1 }] }) });
    const dogfood = await call(client, 'evaluate_flag', { key: 'new-checkout', environment: 'staging', context: { userId: 'dogfooder' } });
    expect(JSON.parse(dogfood.text.split('\n\n')[1]!)).toMatchObject({ value: true, variation: 'on', reason: 'TARGETING_MATCH' });
    const production = await call(client, 'evaluate_flag', { key: 'new-checkout', environment: 'production', context: { userId: 'dogfooder' } });
    expect(JSON.parse(production.text.split('\n\n')[1]!)).toMatchObject({ value: false, reason: 'DISABLED' });
    const nowhere = await call(client, 'evaluate_flag', { key: 'new-checkout', environment: 'moon', context: {} });
    expect(nowhere).toMatchObject({ isError: true, text: 'environment "moon" not found; flag "new-checkout" has environments: staging, production' });
  });
});
