import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signUserKey } from '@switchyard/sdk/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../../server/src/testing/cli.js';
import { api, removeDataDir, runCli, startServerProcess, type CliResult, type ServerProcess } from '../support/server-process.js';

/**
 * The `switchyard` CLI against the real server process, with a temporary data directory that
 * survives a restart. What only the process does — exit codes, stdout and stderr, help and version,
 * reading SWITCHYARD_URL/SWITCHYARD_TOKEN, an unreachable server — is tested on the real binary as
 * users run it (`spawnCli`). The other commands run in-process (`cli`): the same `runClientCommand`
 * the binary calls, with the real fetch against the real server, without starting a Node.js process
 * (and loading the CLI) for each of the dozens of commands.
 */


const STACK_TRACE = /\n\s+at \S/;
const TIMEOUT = 90_000;

let server: ServerProcess;

/** The real `switchyard` binary in a child process. */
function spawnCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { env: { SWITCHYARD_URL: server.url, SWITCHYARD_TOKEN: server.adminToken, ...env } });
}

/** The same command in-process: what the binary runs after it started. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { code, out, err } = await runCliInProcess(args, { env: { SWITCHYARD_URL: server.url, SWITCHYARD_TOKEN: server.adminToken, ...env } });
  return { code, stdout: out, stderr: err };
}

/** A failed command says why in one or two lines: never a stack trace. */
function expectFailure(result: CliResult, code: 1 | 2 | 3, message: string | RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(STACK_TRACE);
}

async function rawGet(path: string): Promise<string> {
  const response = await fetch(server.url + path, { headers: { authorization: `Bearer ${server.adminToken}` } });
  return response.text();
}

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * A pass-through proxy that runs `beforeForward` before relaying each request: lets a test make a
 * concurrent change exactly between the CLI's read and its write.
 */
async function startProxy(target: string, beforeForward: (method: string, path: string) => Promise<void>): Promise<{ url: string; close(): Promise<void> }> {
  const proxy: Server = createServer((request: IncomingMessage, response) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      await beforeForward(request.method ?? 'GET', request.url ?? '/');
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) headers.set(name, value);
      }
      const upstream = await fetch(target + (request.url ?? '/'), { method: request.method, headers, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined });
      response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      response.end(Buffer.from(await upstream.arrayBuffer()));
    })().catch((error: unknown) => {
      response.writeHead(502).end(String(error));
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => proxy.close(() => resolve())) };
}

interface FlagJson {
  key: string;
  version: number;
  archived: boolean;
  tags: string[];
  environments: Record<string, { stage: string }>;
}

describe('switchyard CLI against the real server', () => {
  beforeAll(async () => {
    server = await startServerProcess();
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('prints help and its version; usage errors exit 2 with a hint', { timeout: TIMEOUT }, async () => {
    const [version, help, stageHelp, unknown, unknownFlag, missing, badStage, noRole] = await Promise.all([
      spawnCli(['--version']),
      spawnCli(['help']),
      spawnCli(['flags', 'stage', '--help']),
      spawnCli(['flgs', 'list']),
      spawnCli(['flags', 'list', '--tga', 'x']),
      spawnCli(['flags', 'get']),
      spawnCli(['flags', 'stage', 'new-checkout', 'production', '10']),
      spawnCli(['tokens', 'create', 'ci']),
    ]);
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^switchyard \d+\.\d+\.\d+\n$/) });
    expect(help.code).toBe(0);
    for (const command of ['flags list', 'flags stage', 'flags kill', 'envs list', 'tokens create', 'audit']) expect(help.stdout).toContain(command);
    expect(stageHelp).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: switchyard flags stage KEY ENV STAGE') });
    expectFailure(unknown, 2, 'unknown command "flgs" (did you mean "flags"?)');
    expectFailure(unknownFlag, 2, /unknown flag --tga \(did you mean --tag\?\)\nRun "switchyard flags list --help"/);
    expectFailure(missing, 2, /missing argument KEY\nUsage: switchyard flags get KEY/);
    expectFailure(badStage, 2, 'Did you mean "10%"?');
    expectFailure(noRole, 2, 'missing --role');
  });

  it('lists environments as a table, and as the server JSON exactly', { timeout: TIMEOUT }, async () => {
    const [table, json] = await Promise.all([cli(['envs', 'list']), spawnCli(['envs', 'list', '--json'])]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^KEY\s+NAME\s+CRITICAL\s+SECURE MODE\s+VERSION\s+CREATED$/);
    expect(table.stdout).toMatch(/^production\s+Production\s+yes\s+off\s/m);
    expect(json.stdout).toBe(`${await rawGet('/api/environments')}\n`);
  });

  it('creates flags; the server rejects bad and duplicate keys with exit 1', { timeout: TIMEOUT }, async () => {
    const created = await cli(['flags', 'create', 'new-checkout', '--name', 'New checkout', '--tag', 'checkout', '--tag', 'web', '--owner', 'payments', '--description', 'One-page checkout']);
    expect(created).toMatchObject({ code: 0, stdout: expect.stringContaining('Created flag new-checkout (boolean, 2 variations)') });
    const variations = JSON.stringify([
      { key: 'red', value: '#f00' },
      { key: 'blue', value: '#00f' },
    ]);
    const [multi, bad, duplicate] = await Promise.all([
      cli(['flags', 'create', 'button-color', '--type', 'string', '--variations', variations, '--json']),
      cli(['flags', 'create', 'Bad Key']),
      cli(['flags', 'create', 'new-checkout']),
    ]);
    expect(multi.code).toBe(0);
    expect(JSON.parse(multi.stdout)).toMatchObject({ key: 'button-color', type: 'string', variations: [{ key: 'red' }, { key: 'blue' }] });
    expectFailure(bad, 1, /^switchyard: body\.key: must be a slug/);
    expectFailure(duplicate, 1, /new-checkout/);
  });

  it('moves flags through stages and shows them in list and get', { timeout: TIMEOUT }, async () => {
    const dogfood = await cli(['flags', 'stage', 'new-checkout', 'staging', 'dogfood', '--message', 'team first']);
    expect(dogfood).toMatchObject({ code: 0, stdout: expect.stringMatching(/^new-checkout in staging: off → dogfood/) });
    const ramp = await cli(['flags', 'stage', 'new-checkout', 'production', '10%', '--message', 'ramp']);
    expect(ramp).toMatchObject({ code: 0, stdout: expect.stringContaining('new-checkout in production: off → 10%') });
    const half = await cli(['flags', 'stage', 'new-checkout', 'production', '0.5%', '--json']);
    expect((JSON.parse(half.stdout) as FlagJson).environments.production!.stage).toBe('0.5%');

    const [list, listProd, get, getJson, missing] = await Promise.all([
      cli(['flags', 'list']),
      cli(['flags', 'list', '--env', 'production', '--tag', 'checkout']),
      cli(['flags', 'get', 'new-checkout']),
      cli(['flags', 'get', 'new-checkout', '--json']),
      cli(['flags', 'get', 'no-such-flag']),
    ]);
    expect(list.stdout).toMatch(/^KEY\s+NAME\s+TAGS\s+STAGES$/m);
    expect(list.stdout).toMatch(/^new-checkout\s+New checkout\s+checkout,web\s+development: off {2}staging: dogfood {2}production: 0\.5%$/m);
    expect(list.stdout).toMatch(/^button-color\s/m);
    expect(listProd.stdout).toBe('KEY           NAME          TAGS          STAGE (production)\nnew-checkout  New checkout  checkout,web  0.5%\n');
    expect(get.stdout).toMatch(/^Owner:\s+payments$/m);
    expect(get.stdout).toMatch(/^production\s+0\.5%\s+internal: on; others: on 0\.5% \/ off 99\.5%/m);
    expect(getJson.stdout).toBe(`${await rawGet('/api/flags/new-checkout')}\n`);
    expectFailure(missing, 1, 'switchyard: flag "no-such-flag" not found');
  });

  it("a change between the CLI's read and write gets the server's 409 message", { timeout: TIMEOUT }, async () => {
    const call = api(server.url, server.adminToken);
    let raced = false;
    const proxy = await startProxy(server.url, async (method, path) => {
      if (method !== 'POST' || !path.endsWith('/stage') || raced) return;
      raced = true;
      const current = await call<FlagJson>('GET', '/api/flags/new-checkout');
      const change = await call('PATCH', '/api/flags/new-checkout', { version: current.body.version, description: 'changed by a colleague' });
      expect(change.status).toBe(200);
    });
    try {
      const result = await cli(['flags', 'stage', 'new-checkout', 'production', '50%'], { SWITCHYARD_URL: proxy.url });
      expect(raced).toBe(true);
      expectFailure(result, 1, /was changed by someone else \(current version \d+\); reload and retry/);
      const after = await call<FlagJson>('GET', '/api/flags/new-checkout');
      expect(after.body.environments.production!.stage).toBe('0.5%');
    } finally {
      await proxy.close();
    }
  });

  it('kills, archives and unarchives', { timeout: TIMEOUT }, async () => {
    const kill = await cli(['flags', 'kill', 'new-checkout', 'production', '--message', 'INC-42']);
    expect(kill).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Killed new-checkout in production: everyone gets "off"/) });
    const archive = await cli(['flags', 'archive', 'button-color']);
    expect(archive).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Archived button-color/) });
    const [active, archived, again] = await Promise.all([cli(['flags', 'list']), cli(['flags', 'list', '--archived']), cli(['flags', 'archive', 'button-color'])]);
    expect(active.stdout).not.toContain('button-color');
    expect(active.stdout).toMatch(/production: kill$/m);
    expect(archived.stdout).toMatch(/^button-color\s/m);
    expect(again.stdout).toBe('button-color is already archived\n');
    const unarchive = await cli(['flags', 'unarchive', 'button-color', '--json']);
    expect((JSON.parse(unarchive.stdout) as FlagJson).archived).toBe(false);
  });

  it('creates, lists and revokes tokens; the secret works once printed, and not after revoking', { timeout: TIMEOUT }, async () => {
    const created = await cli(['tokens', 'create', 'ci-bot', '--role', 'viewer']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^\S+\n$/);
    expect(created.stderr).toContain('store this token now; it will not be shown again');
    const secret = created.stdout.trim();

    const [asViewer, viewerWrite, list] = await Promise.all([
      cli(['flags', 'list'], { SWITCHYARD_TOKEN: secret }),
      cli(['flags', 'create', 'viewer-flag'], { SWITCHYARD_TOKEN: secret }),
      cli(['tokens', 'list', '--json']),
    ]);
    expect(asViewer.code).toBe(0);
    expectFailure(viewerWrite, 1, /^switchyard: .+/);
    const token = (JSON.parse(list.stdout) as { items: { id: number; name: string; prefix: string }[] }).items.find((t) => t.name === 'ci-bot')!;
    expect(secret.startsWith(token.prefix.replace(/…$/, ''))).toBe(true);
    expect(list.stdout).not.toContain(secret);

    const revoked = await cli(['tokens', 'revoke', String(token.id)]);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked token ${token.id} ("ci-bot", viewer)\n` });
    const [afterRevoke, table, badId] = await Promise.all([cli(['envs', 'list'], { SWITCHYARD_TOKEN: secret }), cli(['tokens', 'list']), cli(['tokens', 'revoke', 'abc'])]);
    expectFailure(afterRevoke, 1, /^switchyard: /);
    expect(table.stdout).toMatch(new RegExp(`^${token.id}\\s+ci-bot\\s+viewer\\s+\\S+\\s+revoked `, 'm'));
    expectFailure(badId, 2, 'ID must be a positive whole number');
  });

  it('shows the audit log, recording the CLI as the source', { timeout: TIMEOUT }, async () => {
    const [table, json, limited] = await Promise.all([
      cli(['audit', '--flag', 'new-checkout']),
      cli(['audit', '--flag', 'new-checkout', '--json']),
      cli(['audit', '--limit', '2']),
    ]);
    expect(table.stdout).toMatch(/^ID\s+TIME\s+ACTOR\s+SOURCE\s+ACTION\s+RESOURCE\s+ENV\s+CHANGE\s+MESSAGE$/m);
    expect(table.stdout).toMatch(/\sadmin\s+cli\s+flag\.killed\s+new-checkout\s+production\s+0\.5% → kill\s+INC-42$/m);
    expect(table.stdout).toMatch(/\scli\s+flag\.stage_changed\s+new-checkout\s+production\s+off → 10%\s+ramp$/m);
    const entries = (JSON.parse(json.stdout) as { items: { action: string; source: string }[] }).items;
    expect(entries.map((e) => e.action)).toEqual(['flag.killed', 'flag.updated', 'flag.stage_changed', 'flag.stage_changed', 'flag.stage_changed', 'flag.created']);
    expect(entries.filter((e) => e.action !== 'flag.updated').every((e) => e.source === 'cli')).toBe(true);
    expect(limited.stdout.trim().split('\n')).toHaveLength(3);
    expect(limited.stderr).toMatch(/More entries: repeat with --before \d+/);
  });

  describe('client keys', () => {
    let clientKey = '';
    let keyId = '';

    /** What a browser with `key` gets from bulk evaluation in production: status and flag keys. */
    async function browser(key: string, context: Record<string, unknown> = {}) {
      const response = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ context }) });
      const text = await response.text();
      const body = (response.ok ? JSON.parse(text) : {}) as { flags?: { key: string }[] };
      return { status: response.status, flags: (body.flags ?? []).map((f) => f.key).sort() };
    }

    it('creates client keys and flags visible to them, and shows both; bad input exits 2', { timeout: TIMEOUT }, async () => {
      const [created, key, badKind, noEnv, unknownEnv, badVisibility, help] = await Promise.all([
        cli(['flags', 'create', 'promo-banner', '--client-visible']),
        cli(['sdk-keys', 'create', 'web-app', '--env', 'production', '--kind', 'client']),
        cli(['sdk-keys', 'create', 'web-app', '--env', 'production', '--kind', 'browser']),
        cli(['sdk-keys', 'create', 'web-app']),
        cli(['sdk-keys', 'create', 'web-app', '--env', 'nowhere', '--kind', 'client']),
        cli(['flags', 'client-visible', 'new-checkout', 'yes']),
        cli(['help']),
      ]);
      expect(created).toMatchObject({ code: 0, stdout: expect.stringContaining('off in every environment and visible to client keys') });
      expect(key.code, key.stderr).toBe(0);
      expect(key.stdout).toMatch(/^sy_client_\S+\n$/);
      expect(key.stderr).toContain('store this key now; it will not be shown again');
      expectFailure(badKind, 2, '--kind must be server or client, got "browser"');
      expectFailure(noEnv, 2, 'missing --env');
      expectFailure(unknownEnv, 1, /^switchyard: .*nowhere/);
      expectFailure(badVisibility, 2, 'client visibility must be on or off, got "yes"');
      for (const command of ['flags client-visible', 'envs secure-mode', 'sdk-keys create', 'sdk-keys list', 'sdk-keys revoke']) expect(help.stdout).toContain(command);
      clientKey = key.stdout.trim();
      expect(await browser(clientKey, { targetingKey: 'visitor' })).toEqual({ status: 200, flags: ['promo-banner'] });

      const visible = await cli(['flags', 'client-visible', 'new-checkout', 'on']);
      expect(visible).toMatchObject({ code: 0, stdout: expect.stringMatching(/^new-checkout is now visible to client keys/) });
      expect(await browser(clientKey, { targetingKey: 'visitor' })).toEqual({ status: 200, flags: ['new-checkout', 'promo-banner'] });
      const [get, list, keys] = await Promise.all([cli(['flags', 'get', 'new-checkout']), cli(['flags', 'list']), cli(['sdk-keys', 'list'])]);
      expect(get.stdout).toMatch(/^Client keys:\s+visible/m);
      expect(list.stdout).toMatch(/^KEY\s+NAME\s+TAGS\s+CLIENT\s+STAGES$/m);
      expect(list.stdout).toMatch(/^new-checkout\s+New checkout\s+checkout,web\s+visible\s/m);
      expect(keys.stdout).toMatch(/^ID\s+NAME\s+KIND\s+ENVIRONMENT\s+PREFIX\s+STATUS\s+CREATED$/m);
      keyId = /^(\d+)\s+web-app\s+client\s+production\s+sy_client_\S+\s+active\s/m.exec(keys.stdout)![1]!;
    });

    it('turns secure mode on (the secret printed once), rotates it and turns it off', { timeout: TIMEOUT }, async () => {
      const on = await cli(['envs', 'secure-mode', 'production', 'on']);
      expect(on.code, on.stderr).toBe(0);
      expect(on.stdout).toMatch(/^sy_sign_\S{40,}\n$/);
      expect(on.stderr).toContain('store this secret now; it will not be shown again');
      const secret = on.stdout.trim();
      expect((await browser(clientKey, { targetingKey: 'visitor' })).status).toBe(403);
      expect((await browser(clientKey, { targetingKey: 'visitor', switchyardSignature: signUserKey(secret, 'visitor') })).status).toBe(200);

      const [again, envs, badAction, rotated] = await Promise.all([
        cli(['envs', 'secure-mode', 'production', 'on']),
        cli(['envs', 'list']),
        cli(['envs', 'secure-mode', 'production', 'enable']),
        cli(['envs', 'secure-mode', 'production', 'rotate', '--json']),
      ]);
      expectFailure(again, 1, 'secure mode is already on in production');
      expect(envs.stdout).toMatch(/^production\s+Production\s+yes\s+on\s/m);
      expectFailure(badAction, 2, 'the secure-mode action must be on, rotate or off, got "enable"');
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stderr).toContain('store this secret now');
      const newSecret = (JSON.parse(rotated.stdout) as { secret: string }).secret;
      expect(newSecret).not.toBe(secret);
      expect((await browser(clientKey, { targetingKey: 'visitor', switchyardSignature: signUserKey(secret, 'visitor') })).status).toBe(403);
      expect((await browser(clientKey, { targetingKey: 'visitor', switchyardSignature: signUserKey(newSecret, 'visitor') })).status).toBe(200);

      const off = await cli(['envs', 'secure-mode', 'production', 'off']);
      expect(off).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Secure mode is off in production/) });
      expect((await browser(clientKey, { targetingKey: 'visitor' })).status).toBe(200);
    });

    it('hides the flags again and revokes the key', { timeout: TIMEOUT }, async () => {
      // Hidden again: the tests below list flags without the CLIENT column.
      const [hidden, hiddenPromo, revoked] = await Promise.all([
        cli(['flags', 'client-visible', 'new-checkout', 'off']),
        cli(['flags', 'client-visible', 'promo-banner', 'off']),
        cli(['sdk-keys', 'revoke', keyId]),
      ]);
      expect(hidden).toMatchObject({ code: 0, stdout: expect.stringMatching(/^new-checkout is now hidden from client keys/) });
      expect(hiddenPromo.code).toBe(0);
      expect(revoked).toMatchObject({ code: 0, stdout: `Revoked SDK key ${keyId} ("web-app", client, production)\n` });
      expect((await browser(clientKey)).status).toBe(401);
    });
  });

  it("exit 1 for bad credentials and 3 for an unreachable server, naming the URL", { timeout: TIMEOUT }, async () => {
    const port = await closedPort();
    const [noToken, badToken, down, badUrl] = await Promise.all([
      spawnCli(['flags', 'list'], { SWITCHYARD_TOKEN: '' }),
      spawnCli(['flags', 'list', '--token', 'not-a-real-token']),
      spawnCli(['flags', 'list', '--url', `http://127.0.0.1:${port}`]),
      spawnCli(['flags', 'list'], { SWITCHYARD_URL: 'localhost:4242' }),
    ]);
    expectFailure(noToken, 1, '(set SWITCHYARD_TOKEN or pass --token)');
    expectFailure(badToken, 1, /^switchyard: /);
    expectFailure(down, 3, `cannot reach the Switchyard server at http://127.0.0.1:${port} (connection refused)`);
    expectFailure(badUrl, 2, 'SWITCHYARD_URL must be an http:// or https:// URL');
  });

  it('keeps flags, stages, tokens and the audit log across a restart on the same data directory', { timeout: TIMEOUT }, async () => {
    const before = await rawGet('/api/flags/new-checkout');
    await server.stop();
    expect(server.child.exitCode).toBe(0);
    const down = await spawnCli(['flags', 'list']);
    expectFailure(down, 3, `cannot reach the Switchyard server at ${server.url}`);

    server = await startServerProcess({ dataDir: server.dataDir });
    const [get, list, audit, tokens] = await Promise.all([
      cli(['flags', 'get', 'new-checkout', '--json']),
      cli(['flags', 'list']),
      cli(['audit', '--flag', 'new-checkout']),
      cli(['tokens', 'list']),
    ]);
    expect(get.stdout).toBe(`${before}\n`);
    const flag = JSON.parse(get.stdout) as FlagJson;
    expect(flag.environments).toMatchObject({ staging: { stage: 'dogfood' }, production: { stage: 'kill' } });
    expect(list.stdout).toMatch(/^new-checkout\s+New checkout\s+checkout,web\s+development: off {2}staging: dogfood {2}production: kill$/m);
    expect(list.stdout).toMatch(/^button-color\s/m);
    expect(audit.stdout).toMatch(/flag\.killed\s+new-checkout\s+production\s+0\.5% → kill\s+INC-42$/m);
    expect(audit.stdout).toMatch(/flag\.created\s+new-checkout/);
    expect(tokens.stdout).toMatch(/\sci-bot\s+viewer\s+\S+\s+revoked /);
  });
});
