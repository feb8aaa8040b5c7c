import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, type TestSchema } from '../../server/src/testing/postgres.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * An incident kill of a Git-managed flag, against `switchyard serve --sync` processes on a real Git
 * working tree, on SQLite and on PostgreSQL: the kill survives restarts and commits that change
 * other flags, a commit that changes the killed flag wins, and a resume puts the file's state back.
 */

const TIMEOUT = 120_000;
const FILE = `environments:
  development: {}
  production: { critical: true }
  staging: {}
flags:
  new-checkout:
    environments:
      production: { stage: 10% }
  banner:
    environments:
      production: { stage: 10% }
`;
/** The file with banner (never new-checkout) at `stage` in production. */
const banner = (stage: string) => FILE.replace(/(banner:\n {4}environments:\n {6}production: \{ stage: )10%/, `$1${stage}`);

interface Incident {
  killedAt: string;
  killedBy: string;
  message: string | null;
  sinceCommit: string | null;
}
interface FlagBody {
  environments: Record<string, { stage: string; incident: Incident | null }>;
}
interface AuditBody {
  items: { action: string; actor: string; environment: string | null; commit: string | null; message: string | null }[];
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

describe.each(['sqlite', 'postgres'] as const)('an incident kill under serve --sync (%s)', (dialect) => {
  let repo: string;
  let flagsFile: string;
  let server: ServerProcess;
  let dataDir: string;
  let schema: TestSchema | undefined;

  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
  const commit = (text: string, message: string) => {
    writeFileSync(flagsFile, text);
    git('add', 'flags.yaml');
    git('commit', '-q', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  const start = async () => {
    server = await startServerProcess({ dataDir, args: ['--sync', flagsFile], env: schema ? { SWITCHYARD_DATABASE_URL: schema.url } : {} });
  };
  const call = () => api(server.url, server.adminToken);
  const production = async (key: string) => (await call()<FlagBody>('GET', `/api/flags/${key}`)).body.environments.production!;

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), 'switchyard-incident-repo-'));
    dataDir = mkdtempSync(join(tmpdir(), 'switchyard-incident-data-'));
    flagsFile = join(repo, 'flags.yaml');
    git('init', '-q');
    git('config', 'user.name', 'Switchyard Test');
    git('config', 'user.email', 'test@example.com');
    git('config', 'commit.gpgsign', 'false');
    commit(FILE, 'new-checkout and banner at 10%');
    if (dialect === 'postgres') schema = await createTestSchema('gitops_incident_e2e');
    await start();
  }, TIMEOUT);
  afterAll(async () => {
    await server?.stop();
    await schema?.drop();
    removeDataDir(dataDir);
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it('a kill is held through a restart with a commit made while the server was down', { timeout: TIMEOUT }, async () => {
    const head = git('rev-parse', 'HEAD');
    const killed = await call()<FlagBody>('POST', '/api/flags/new-checkout/environments/production/kill', { message: 'checkout 500s' });
    expect(killed.status).toBe(200);
    expect(killed.body.environments.production!.incident).toMatchObject({ killedBy: 'admin', message: 'checkout 500s', sinceCommit: head });

    await server.stop();
    commit(banner('50%'), 'banner to 50% (while the server is down)');
    await start();
    expect((await production('banner')).stage).toBe('50%');
    expect(await production('new-checkout')).toMatchObject({ stage: 'kill', incident: { killedBy: 'admin', sinceCommit: head } });
  });

  it('commits that change other flags sync; the killed flag stays killed', { timeout: TIMEOUT }, async () => {
    commit(banner('75%'), 'banner to 75%');
    await waitFor(() => production('banner'), (c) => c.stage === '75%');
    expect((await production('new-checkout')).stage).toBe('kill');
  });

  it('a commit that changes the killed flag wins, and ends the incident (audited)', { timeout: TIMEOUT }, async () => {
    const fix = commit(banner('75%').replace('production: { stage: 10% }', 'production: { stage: 5% }'), 'new-checkout back to 5%');
    const after = await waitFor(() => production('new-checkout'), (c) => c.stage === '5%');
    expect(after.incident).toBeNull();
    const audit = (await call()<AuditBody>('GET', '/api/flags/new-checkout/audit?limit=5')).body.items;
    expect(audit.find((a) => a.action === 'incident.ended')).toMatchObject({ actor: 'gitops', environment: 'production', commit: fix });
  });

  it('resume puts the file configuration back at once; a second resume is refused', { timeout: TIMEOUT }, async () => {
    expect((await call()('POST', '/api/flags/new-checkout/environments/production/kill', {})).status).toBe(200);
    const resumed = await call()<FlagBody>('POST', '/api/flags/new-checkout/environments/production/resume', { message: 'fixed' });
    expect(resumed.status).toBe(200);
    expect(resumed.body.environments.production).toMatchObject({ stage: '5%', incident: null });
    const again = await call()<{ error: { code: string; message: string } }>('POST', '/api/flags/new-checkout/environments/production/resume', {});
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/not held by an incident kill in production/);
    // And after a restart, still the file's state.
    await server.stop();
    await start();
    expect((await production('new-checkout')).stage).toBe('5%');
  });
});
