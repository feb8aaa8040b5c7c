import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ARGS, ROOT, api, removeDataDir, runCli, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * `switchyard mcp` end to end: the MCP SDK's own client spawns the real binary over stdio, against
 * the real server on a free port. What the agent sees (tools, results, tool errors) and what the
 * server recorded (flags, audit entries with source mcp) are both checked.
 */

const TIMEOUT = 90_000;
const STACK_TRACE = /\n\s+at \S/;

let server: ServerProcess;
let admin: ReturnType<typeof api>;
const clients: Client[] = [];

interface ToolAnswer {
  text: string;
  isError: boolean;
}

/** A connected MCP client whose server runs `switchyard mcp` with this token (and URL). */
async function connect(token: string, url = server.url): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...CLI_ARGS, 'mcp'],
    cwd: ROOT,
    env: { ...getDefaultEnvironment(), SWITCHYARD_URL: url, SWITCHYARD_TOKEN: token },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'switchyard-e2e', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
  expect(text).not.toMatch(STACK_TRACE);
  return { text, isError: result.isError === true };
}

/** The JSON after the headline of a successful answer. */
function dataOf<T>(answer: ToolAnswer): T {
  expect(answer.isError, answer.text).toBe(false);
  return JSON.parse(answer.text.slice(answer.text.indexOf('\n\n') + 2)) as T;
}

interface AuditItem {
  action: string;
  actor: string;
  source: string;
  environment: string | null;
  resourceKey: string;
}

async function flagAudit(key: string): Promise<AuditItem[]> {
  const { body } = await admin<{ items: AuditItem[] }>('GET', `/api/flags/${key}/audit`);
  return body.items;
}

describe('switchyard mcp', () => {
  let agent: Client;

  beforeAll(async () => {
    server = await startServerProcess();
    admin = api(server.url, server.adminToken);
    agent = await connect(server.adminToken);
  }, TIMEOUT);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('lists its tools, each described, with dryRun on every write', { timeout: TIMEOUT }, async () => {
    const { tools } = await agent.listTools();
    const names = tools.map((t) => t.name).sort();
    expect(names).toEqual(['create_flag', 'evaluate_flag', 'get_code_references', 'get_flag', 'kill_flag', 'list_audit_entries', 'list_environments', 'list_flags', 'resume_release_plan', 'stage_flag', 'start_release_plan']);
    const writes = ['create_flag', 'stage_flag', 'kill_flag', 'start_release_plan', 'resume_release_plan'];
    for (const tool of tools) {
      expect(tool.description!.length, tool.name).toBeGreaterThan(60);
      expect(tool.annotations?.readOnlyHint, tool.name).toBe(!writes.includes(tool.name));
    }
    for (const name of writes) {
      const schema = tools.find((t) => t.name === name)!.inputSchema as { properties: Record<string, { type?: string; description?: string }>; required?: string[] };
      expect(schema.properties.dryRun, name).toMatchObject({ type: 'boolean' });
      expect(schema.properties.dryRun!.description).toMatch(/write nothing/);
    }
    const stage = tools.find((t) => t.name === 'stage_flag')!.inputSchema as { required: string[] };
    expect(stage.required.sort()).toEqual(['environment', 'key', 'stage']);
  });

  it('creates a flag: a dry run writes nothing, the real call writes it with source mcp', { timeout: TIMEOUT }, async () => {
    const dry = await call(agent, 'create_flag', { key: 'agent-checkout', name: 'Agent checkout', tags: ['checkout'], dryRun: true });
    expect(dry.text).toMatch(/^Dry run, nothing was written/);
    expect(dry.text).toContain('off in every environment (development, staging, production)');
    const preview = dataOf<{ key: string; name: string; variations: unknown[]; environments: Record<string, { stage: string; on: boolean }> }>(dry);
    expect(preview).toMatchObject({ key: 'agent-checkout', name: 'Agent checkout', variations: [{ key: 'off', value: false }, { key: 'on', value: true }] });
    expect(preview.environments.production).toMatchObject({ stage: 'off', on: false });
    expect((await admin('GET', '/api/flags/agent-checkout')).status).toBe(404);
    const { body: audit } = await admin<{ items: AuditItem[] }>('GET', '/api/audit?resourceKey=agent-checkout');
    expect(audit.items).toEqual([]);

    const created = await call(agent, 'create_flag', { key: 'agent-checkout', name: 'Agent checkout', tags: ['checkout'] });
    expect(created.text).toMatch(/^Created flag "agent-checkout" \(boolean, version 1\)/);
    expect((await admin<{ name: string }>('GET', '/api/flags/agent-checkout')).body).toMatchObject({ name: 'Agent checkout' });
    const { body: me } = await admin<{ name: string }>('GET', '/api/me');
    expect(await flagAudit('agent-checkout')).toEqual([expect.objectContaining({ action: 'flag.created', source: 'mcp', actor: me.name })]);

    // A dry run of the same creation now names the conflict the server would answer.
    const again = await call(agent, 'create_flag', { key: 'agent-checkout', dryRun: true });
    expect(again.isError).toBe(true);
    expect(again.text).toMatch(/would be refused: flag "agent-checkout" already exists/);
    const real = await call(agent, 'create_flag', { key: 'agent-checkout' });
    expect(real.isError).toBe(true);
    expect(real.text).toMatch(/^Switchyard refused the request \(HTTP 409/);

    const listed = dataOf<{ key: string; stages: Record<string, string> }[]>(await call(agent, 'list_flags', { tag: 'checkout' }));
    expect(listed).toEqual([expect.objectContaining({ key: 'agent-checkout', stages: { development: 'off', staging: 'off', production: 'off' } })]);
  });

  it('stages, evaluates and kills; dry runs change nothing; every write is audited with source mcp', { timeout: TIMEOUT }, async () => {
    await call(agent, 'create_flag', { key: 'agent-ramp' });
    const dry = await call(agent, 'stage_flag', { key: 'agent-ramp', environment: 'staging', stage: '10%', dryRun: true });
    expect(dry.text).toContain('Would move "agent-ramp" in staging: off → 10%');
    expect(dataOf<{ stage: string }>(dry).stage).toBe('10%');
    expect((await admin<{ version: number }>('GET', '/api/flags/agent-ramp')).body.version).toBe(1);

    const staged = await call(agent, 'stage_flag', { key: 'agent-ramp', environment: 'staging', stage: '10%', message: 'ramp from the agent' });
    expect(staged.text).toMatch(/^agent-ramp in staging: off → 10%/);
    expect(dataOf<{ version: number; stages: Record<string, string> }>(staged)).toMatchObject({ version: 2, stages: { staging: '10%' } });
    await call(agent, 'stage_flag', { key: 'agent-ramp', environment: 'development', stage: '100%' });

    const everyone = dataOf<{ value: unknown; variation: string; reason: string }>(await call(agent, 'evaluate_flag', { key: 'agent-ramp', environment: 'development', context: { userId: 'user-1' } }));
    expect(everyone).toMatchObject({ value: true, variation: 'on', reason: 'STATIC' });
    const off = dataOf<{ value: unknown; reason: string }>(await call(agent, 'evaluate_flag', { key: 'agent-ramp', environment: 'production', context: { userId: 'user-1' } }));
    expect(off).toMatchObject({ value: false, reason: 'DISABLED' });
    // A 10% rollout: about one user in ten is inside; each answer is a split.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => call(agent, 'evaluate_flag', { key: 'agent-ramp', environment: 'staging', context: { userId: `user-${i}` } })));
    const values = results.map((r) => dataOf<{ value: boolean; reason: string }>(r));
    expect(new Set(values.map((v) => v.reason))).toEqual(new Set(['SPLIT']));
    expect(values.filter((v) => v.value).length).toBeLessThan(15);

    const killDry = await call(agent, 'kill_flag', { key: 'agent-ramp', environment: 'staging', dryRun: true });
    expect(killDry.text).toContain('Would kill "agent-ramp" in staging: 10% → kill');
    expect((await admin<{ version: number }>('GET', '/api/flags/agent-ramp')).body.version).toBe(3);
    const killed = await call(agent, 'kill_flag', { key: 'agent-ramp', environment: 'staging', message: 'errors up' });
    expect(killed.text).toMatch(/^Killed "agent-ramp" in staging: everyone gets "off" \(version 4\)\. To restore it: stage_flag with stage "10%"/);
    const afterKill = dataOf<{ value: unknown; reason: string }>(await call(agent, 'evaluate_flag', { key: 'agent-ramp', environment: 'staging', context: { userId: 'user-1' } }));
    expect(afterKill).toMatchObject({ value: false, reason: 'DISABLED' });

    expect((await flagAudit('agent-ramp')).map((e) => [e.action, e.environment, e.source])).toEqual([
      ['flag.killed', 'staging', 'mcp'],
      ['flag.stage_changed', 'development', 'mcp'],
      ['flag.stage_changed', 'staging', 'mcp'],
      ['flag.created', null, 'mcp'],
    ]);
    const page = dataOf<{ items: { action: string; source: string; summary: string; before?: unknown }[]; nextCursor: number | null }>(
      await call(agent, 'list_audit_entries', { flag: 'agent-ramp', limit: 2 }),
    );
    expect(page.items.map((e) => [e.action, e.source])).toEqual([['flag.killed', 'mcp'], ['flag.stage_changed', 'mcp']]);
    expect(page.items[0]).not.toHaveProperty('before');
    expect(page.nextCursor).not.toBeNull();
    const older = dataOf<{ items: { action: string }[] }>(await call(agent, 'list_audit_entries', { flag: 'agent-ramp', before: page.nextCursor, includeValues: true }));
    expect(older.items.map((e) => e.action)).toEqual(['flag.stage_changed', 'flag.created']);
    expect(older.items[1]).toHaveProperty('after');
  });

  it('reads a flag (all environments or one) and its code references, or says why it cannot', { timeout: TIMEOUT }, async () => {
    await call(agent, 'create_flag', { key: 'agent-read', type: 'string', variations: [{ key: 'red', value: '#f00' }, { key: 'blue', value: '#00f' }] });
    const one = await call(agent, 'get_flag', { key: 'agent-read', environment: 'production' });
    expect(one.text).toMatch(/^Flag "agent-read" \(string, version 1\)\. Stages: development: off, staging: off, production: off\./);
    expect(Object.keys(dataOf<{ environments: object }>(one).environments)).toEqual(['production']);
    const missing = await call(agent, 'get_flag', { key: 'no-such-flag' });
    expect(missing).toMatchObject({ isError: true });
    expect(missing.text).toMatch(/HTTP 404.*no-such-flag/);

    const none = await call(agent, 'get_code_references', { key: 'agent-read' });
    expect(none.text).toMatch(/^No code references uploaded for "agent-read"\./);
    const upload = { repository: 'shop', branch: 'main', commit: 'a1b2c3', references: [{ flag: 'agent-read', path: 'src/theme.ts', line: 12, snippet: "client.variation('agent-read', 'red')" }] };
    expect((await admin('PUT', '/api/code-refs', upload)).status).toBe(200);
    const refs = await call(agent, 'get_code_references', { key: 'agent-read' });
    expect(refs.text).toMatch(/^"agent-read" is referenced in 1 place \(shop\)\./);
    expect(dataOf<{ items: unknown[] }>(refs).items).toEqual([expect.objectContaining({ repository: 'shop', branch: 'main', path: 'src/theme.ts', line: 12 })]);
  });

  it('refuses writes with a viewer token, clearly, and still reads', { timeout: TIMEOUT }, async () => {
    const { body } = await admin<{ token: string }>('POST', '/api/tokens', { name: 'agent-viewer', role: 'viewer' });
    const viewer = await connect(body.token);
    const refused = await call(viewer, 'create_flag', { key: 'viewer-flag' });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/HTTP 403, forbidden\): this needs the editor role; token "agent-viewer" is viewer/);
    expect(refused.text).toMatch(/Writes need an editor or admin token/);
    const dry = await call(viewer, 'stage_flag', { key: 'agent-checkout', environment: 'staging', stage: 'dogfood', dryRun: true });
    expect(dry.isError).toBe(true);
    expect(dry.text).toMatch(/would be refused: changing a stage needs the editor role; this API token is a viewer token/);
    const kill = await call(viewer, 'kill_flag', { key: 'agent-checkout', environment: 'staging' });
    expect(kill.text).toMatch(/HTTP 403/);
    expect((await admin('GET', '/api/flags/viewer-flag')).status).toBe(404);
    expect(dataOf<unknown[]>(await call(viewer, 'list_flags')).length).toBeGreaterThan(0);
  });

  it('answers bad arguments with errors naming the argument', { timeout: TIMEOUT }, async () => {
    const badKey = await call(agent, 'create_flag', { key: 'Bad Key!' });
    expect(badKey.isError).toBe(true);
    expect(badKey.text).toMatch(/must be a slug.*key/s);
    const noKey = await call(agent, 'stage_flag', { environment: 'staging', stage: '10%' });
    expect(noKey.isError).toBe(true);
    expect(noKey.text).toMatch(/key/);
    const percent = await call(agent, 'stage_flag', { key: 'agent-checkout', environment: 'staging', stage: '10' });
    expect(percent).toMatchObject({ isError: true });
    expect(percent.text).toMatch(/^stage: invalid stage "10".*Did you mean "10%"\?/);
    const env = await call(agent, 'stage_flag', { key: 'agent-checkout', environment: 'moon', stage: '10%' });
    expect(env.isError).toBe(true);
    expect(env.text).toMatch(/moon/);
    const variations = await call(agent, 'create_flag', { key: 'agent-colors', type: 'string', dryRun: true });
    expect(variations.text).toMatch(/variations: a string flag needs its variations/);
    // An argument the tool does not take is refused, not silently dropped (create_flag has no message).
    const unknown = await call(agent, 'create_flag', { key: 'agent-unknown', message: 'why' });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/Unrecognized key: "message"/);
    expect((await admin('GET', '/api/flags/agent-unknown')).status).toBe(404);
    const badContext = await call(agent, 'evaluate_flag', { key: 'agent-checkout', environment: 'staging', context: 'user-1' });
    expect(badContext.isError).toBe(true);
    expect(badContext.text).toMatch(/context/);
  });

  it('in an environment with an approval policy, points to a change request; the kill switch still works', { timeout: TIMEOUT }, async () => {
    await call(agent, 'create_flag', { key: 'agent-governed' });
    expect((await admin('PUT', '/api/environments/production/approval-policy', { required: true, approvals: 1 })).status).toBe(200);
    try {
      const environments = dataOf<{ key: string; approvalRequired: boolean; approvals?: number }[]>(await call(agent, 'list_environments'));
      expect(environments.find((e) => e.key === 'production')).toMatchObject({ approvalRequired: true, approvals: 1 });

      const dry = await call(agent, 'stage_flag', { key: 'agent-governed', environment: 'production', stage: '10%', dryRun: true });
      expect(dry.isError).toBe(true);
      expect(dry.text).toMatch(/approval_required.*changeRequest: true/s);
      const direct = await call(agent, 'stage_flag', { key: 'agent-governed', environment: 'production', stage: '10%' });
      expect(direct.isError).toBe(true);
      expect(direct.text).toMatch(/HTTP 409, approval_required/);
      expect(direct.text).toMatch(/call stage_flag again with changeRequest: true/i);

      const proposedDry = await call(agent, 'stage_flag', { key: 'agent-governed', environment: 'production', stage: '10%', changeRequest: true, dryRun: true });
      expect(proposedDry.text).toMatch(/Would open a change request to move "agent-governed" in production: off → 10% \(it needs 1 approval\)/);
      const proposed = await call(agent, 'stage_flag', { key: 'agent-governed', environment: 'production', stage: '10%', changeRequest: true, message: 'ramp it' });
      expect(proposed.text).toMatch(/^Opened change request #\d+ "ramp it" in production \(status open\)/);
      expect((await admin<{ environments: Record<string, { stage: string }> }>('GET', '/api/flags/agent-governed')).body.environments.production!.stage).toBe('off');

      const killed = await call(agent, 'kill_flag', { key: 'agent-governed', environment: 'production' });
      expect(killed.isError, killed.text).toBe(false);
    } finally {
      await admin('PUT', '/api/environments/production/approval-policy', { required: false });
    }
  });

  it('reports an unreachable server as a tool error, not a crash', { timeout: TIMEOUT }, async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const lost = await connect(server.adminToken, `http://127.0.0.1:${port}`);
    const answer = await call(lost, 'list_flags');
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/cannot reach the Switchyard server at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)/);
  });

  it('prints its help, and refuses unknown options', { timeout: TIMEOUT }, async () => {
    const help = await runCli(['mcp', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('"mcpServers"');
    const bad = await runCli(['mcp', '--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown flag --bogus/);
  });
});
