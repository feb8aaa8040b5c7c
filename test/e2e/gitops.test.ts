import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, removeDataDir, runCli, startServerProcess, type CliResult, type ServerProcess } from '../support/server-process.js';

/** `switchyard export / diff / apply` as users run them: child processes against the real server. */


const TIMEOUT = 90_000;
/** The CLI runs in a temporary directory (file names in messages stay short), so tsx is named by path. */
let server: ServerProcess;
let dir: string;

function cli(args: string[], url = server.url): Promise<CliResult> {
  return runCli(args, { cwd: dir, env: { SWITCHYARD_URL: url, SWITCHYARD_TOKEN: server.adminToken } });
}

const file = (name: string) => join(dir, name);
const call = () => api(server.url, server.adminToken);

describe('switchyard export, diff and apply', () => {
  beforeAll(async () => {
    server = await startServerProcess();
    dir = mkdtempSync(join(tmpdir(), 'switchyard-gitops-cli-'));
    await call()('POST', '/api/flags', { key: 'new-checkout', tags: ['web'] });
    await call()('POST', '/api/flags/new-checkout/environments/production/stage', { stage: '10%', version: 1 });
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('export → apply → export is byte-identical, and applying twice changes nothing', { timeout: TIMEOUT }, async () => {
    const exported = await cli(['export', '--out', 'flags.yaml']);
    expect(exported.code, exported.stderr).toBe(0);
    const text = readFileSync(file('flags.yaml'), 'utf8');
    expect(text).toContain('new-checkout:');
    expect(text).toMatch(/production:\n\s+stage: 10%/);
    const auditBefore = (await call()<{ items: { id: number }[] }>('GET', '/api/audit?limit=1')).body.items[0]!.id;
    const applied = await cli(['apply', 'flags.yaml']);
    expect(applied).toMatchObject({ code: 0, stdout: expect.stringContaining('No changes') });
    expect((await call()<{ items: { id: number }[] }>('GET', '/api/audit?limit=1')).body.items[0]!.id).toBe(auditBefore);
    const again = await cli(['export']);
    expect(again.stdout).toBe(text);
    const json = await cli(['export', '--format', 'json', '--env', 'production']);
    expect(JSON.parse(json.stdout).flags['new-checkout'].environments).toEqual({ production: { stage: '10%' } });
  });

  it('diff exits 2 and shows before → after; apply records message and commit; then diff exits 0', { timeout: TIMEOUT }, async () => {
    await cli(['export', '--out', 'flags.yaml']);
    const edited = readFileSync(file('flags.yaml'), 'utf8').replace(/production:\n(\s+)stage: 10%/, 'production:\n$1stage: 50%');
    writeFileSync(file('flags.yaml'), `${edited}  dark-mode:\n    environments:\n      staging:\n        stage: 100%\n`);
    const diff = await cli(['diff', 'flags.yaml']);
    expect(diff.code, diff.stderr).toBe(2);
    expect(diff.stdout).toContain('~ flag new-checkout\n    environments.production.stage: 10% → 50%\n');
    expect(diff.stdout).toContain('+ flag dark-mode\n    environments.staging: {"stage":"100%"}\n');
    expect(diff.stdout).toContain('Plan: 1 to create, 1 to change, 0 to delete.');

    const dry = await cli(['apply', 'flags.yaml', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: expect.stringContaining('Dry run: nothing was applied.') });
    expect((await cli(['diff', 'flags.yaml'])).code).toBe(2);

    const applied = await cli(['apply', 'flags.yaml', '--message', 'Ramp checkout', '--commit', 'c0ffee1']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('Applied 2 changes (commit c0ffee1).');
    const audit = (await call()<{ items: { source: string; message: string; commit: string; resourceKey: string }[] }>('GET', '/api/audit?limit=2')).body.items;
    expect(audit.map((a) => [a.resourceKey, a.source, a.message, a.commit]).sort()).toEqual([
      ['dark-mode', 'gitops', 'Ramp checkout', 'c0ffee1'],
      ['new-checkout', 'gitops', 'Ramp checkout', 'c0ffee1'],
    ]);
    expect((await cli(['diff', 'flags.yaml'])).code).toBe(0);
  });

  it('a bad file: exit 1, every problem as file:line:col: path, nothing applied', { timeout: TIMEOUT }, async () => {
    writeFileSync(file('bad.yaml'), 'environments:\n  production: {}\nflags:\n  new-checkout:\n    environments:\n      production: { stage: 55 }\n  dark-mode:\n    tyep: boolean\n');
    const before = await cli(['export']);
    const result = await cli(['apply', 'bad.yaml']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('bad.yaml:6:28: flags.new-checkout.environments.production.stage: Invalid input: expected string, received number');
    expect(result.stderr).toContain('bad.yaml:8:5: flags.dark-mode.tyep: unknown field "tyep"');
    expect(result.stderr).not.toMatch(/\n\s+at \S/);
    expect((await cli(['export'])).stdout).toBe(before.stdout);
    expect((await cli(['diff', 'missing.yaml'])).stderr).toContain('cannot read missing.yaml');
  });

  it('a dashboard edit between plan and apply: exit 1 naming the flag, nothing overwritten', { timeout: TIMEOUT }, async () => {
    await cli(['export', '--out', 'flags.yaml']);
    writeFileSync(file('flags.yaml'), readFileSync(file('flags.yaml'), 'utf8').replace(/stage: 50%/, 'stage: 75%'));
    // A proxy that lets a "dashboard" change the flag right before the CLI's apply request.
    const proxy: Server = createServer((request, response) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of request) chunks.push(chunk as Buffer);
        if (request.url === '/api/gitops/apply') {
          const flag = (await call()<{ version: number }>('GET', '/api/flags/new-checkout')).body;
          await call()('POST', '/api/flags/new-checkout/environments/production/stage', { stage: '25%', version: flag.version });
        }
        const upstream = await fetch(server.url + request.url, { method: request.method, headers: request.headers as Record<string, string>, body: chunks.length ? Buffer.concat(chunks) : undefined });
        response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        response.end(Buffer.from(await upstream.arrayBuffer()));
      })();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const result = await cli(['apply', 'flags.yaml'], `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/flag "new-checkout" was changed by someone else/);
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
    const flag = (await call()<{ environments: Record<string, { stage: string }> }>('GET', '/api/flags/new-checkout')).body;
    expect(flag.environments.production!.stage).toBe('25%');
  });

  it('prune deletes what the file does not name, only when asked', { timeout: TIMEOUT }, async () => {
    await cli(['export', '--out', 'flags.yaml']);
    await call()('POST', '/api/flags', { key: 'stray' });
    expect((await cli(['diff', 'flags.yaml'])).code).toBe(0);
    const diff = await cli(['diff', 'flags.yaml', '--prune']);
    expect(diff).toMatchObject({ code: 2, stdout: expect.stringContaining('- flag stray') });
    expect((await cli(['apply', 'flags.yaml', '--prune'])).code).toBe(0);
    expect((await call()('GET', '/api/flags/stray')).status).toBe(404);
    expect(readFileSync(file('flags.yaml'), 'utf8')).toBe((await cli(['export'])).stdout);
  });

  it('lists the commands in help with the diff exit code', { timeout: TIMEOUT }, async () => {
    const [help, diffHelp] = await Promise.all([cli(['help']), cli(['diff', '--help'])]);
    expect(help.stdout).toMatch(/Flags as code:\n\s+export[\s\S]*diff[\s\S]*apply/);
    expect(diffHelp.stdout).toContain('2 when applying it would change something');
  });
});
