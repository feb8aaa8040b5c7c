import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/** `switchyard serve --sync` against a real Git working tree: commits and `git revert` reach the server. */

const TIMEOUT = 90_000;
const FILE = `environments:
  development: {}
  production: { critical: true, name: Production }
  staging: {}
flags:
  new-checkout:
    environments:
      production: { stage: 10% }
`;

let repo: string;
let flagsFile: string;
let server: ServerProcess;

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
}

function commit(text: string, message: string): string {
  writeFileSync(flagsFile, text);
  git('add', 'flags.yaml');
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

async function waitFor<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface FlagBody {
  version: number;
  managedBy: string | null;
  environments: Record<string, { stage: string }>;
}
interface AuditBody {
  items: { actor: string; source: string; commit: string | null; resourceKey: string }[];
}

describe('serve --sync with a Git repository', () => {
  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), 'switchyard-sync-repo-'));
    flagsFile = join(repo, 'flags.yaml');
    git('init', '-q');
    git('config', 'user.name', 'Switchyard Test');
    git('config', 'user.email', 'test@example.com');
    git('config', 'commit.gpgsign', 'false');
    commit(FILE, 'Add new-checkout at 10%');
    server = await startServerProcess({ args: ['--sync', flagsFile] });
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  const call = () => api(server.url, server.adminToken);
  const flag = async () => (await call()<FlagBody>('GET', '/api/flags/new-checkout')).body;

  it('applied the file at start with the commit, and managed flags are read-only (423)', { timeout: TIMEOUT }, async () => {
    const current = await flag();
    expect(current.environments.production!.stage).toBe('10%');
    expect(current.managedBy).toBe(flagsFile);
    const audit = (await call()<AuditBody>('GET', '/api/audit?limit=1')).body.items[0]!;
    expect(audit).toMatchObject({ actor: 'gitops', source: 'gitops', commit: git('rev-parse', 'HEAD'), resourceKey: 'new-checkout' });
    const stage = await call()<{ error: { code: string; message: string } }>('POST', '/api/flags/new-checkout/environments/production/stage', { stage: '50%', version: current.version });
    expect(stage.status).toBe(423);
    expect(stage.body.error).toMatchObject({ code: 'locked', message: expect.stringContaining(`managed by Git (${flagsFile})`) });
  });

  it('picks up a commit, then its git revert', { timeout: TIMEOUT }, async () => {
    const ramp = commit(FILE.replace('stage: 10%', 'stage: 50%'), 'Ramp new-checkout to 50%');
    await waitFor(flag, (f) => f.environments.production!.stage === '50%');
    expect((await call()<AuditBody>('GET', '/api/audit?limit=1')).body.items[0]).toMatchObject({ source: 'gitops', commit: ramp });

    git('revert', '--no-edit', 'HEAD');
    const revert = git('rev-parse', 'HEAD');
    expect(readFileSync(flagsFile, 'utf8')).toBe(FILE);
    await waitFor(flag, (f) => f.environments.production!.stage === '10%');
    expect((await call()<AuditBody>('GET', '/api/audit?limit=1')).body.items[0]).toMatchObject({ source: 'gitops', commit: revert });
  });

  it('an invalid file keeps the last good state and is reported with file:line:col', { timeout: TIMEOUT }, async () => {
    writeFileSync(flagsFile, FILE.replace('stage: 10%', 'stage: 200%'));
    const status = await waitFor(
      async () => (await call()<{ lastSuccess: boolean; lastError: { message: string } | null }>('GET', '/api/gitops/status')).body,
      (s) => s.lastSuccess === false,
    );
    expect(status.lastError!.message).toContain(`${flagsFile}:8:28: flags.new-checkout.environments.production.stage: unknown stage "200%"`);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_gitops_last_sync_success 0/);
    expect((await flag()).environments.production!.stage).toBe('10%');
    expect(server.output()).toMatch(/gitops: .*keeping the last good state/);
    git('checkout', '--', 'flags.yaml');
    await waitFor(async () => (await call()<{ lastSuccess: boolean }>('GET', '/api/gitops/status')).body, (s) => s.lastSuccess);
  });
});
