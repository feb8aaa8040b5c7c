import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { bootstrap } from '../bootstrap.js';
import { openTestDatabase, type TestDatabase } from '../../testing/databases.js';
import { bearerHeader, changeFlag, readFlag, TEST_ADMIN_TOKEN } from '../../testing/test-app.js';
import { readSources } from './sync.js';

const FILE = `environments:
  production: { critical: true, name: Production }
segments:
  beta:
    included: [ann]
flags:
  checkout:
    environments:
      production: { stage: 10% }
`;

let dir: string;
let path: string;
let app: Awaited<ReturnType<typeof buildApp>>;
let database: TestDatabase;

async function waitFor<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const get = (url: string) => app.inject({ method: 'GET', url, headers: bearerHeader(TEST_ADMIN_TOKEN) });
const status = async () => (await get('/api/gitops/status')).json();
const stageOf = async (key: string) => (await get(`/api/flags/${key}`)).json().environments?.production?.stage;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-sync-'));
  path = join(dir, 'flags.yaml');
  writeFileSync(path, FILE);
  database = await openTestDatabase('sync');
  app = await buildApp({ db: database.db, defaultMetrics: false, dashboardDir: null, syncPath: path });
  await bootstrap(app.services.writes, app.services.environments, TEST_ADMIN_TOKEN);
  await app.ready();
});

afterEach(async () => {
  await app.close();
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('serve --sync', () => {
  it('applies the file at start, as actor gitops with source gitops', async () => {
    expect(await stageOf('checkout')).toBe('10%');
    const audit = (await get('/api/audit?limit=1')).json().items[0];
    expect(audit).toMatchObject({ actor: 'gitops', source: 'gitops', resourceKey: 'checkout' });
    expect(await status()).toMatchObject({ mode: 'sync', path, lastSuccess: true, lastError: null, drift: [], managed: { flags: 1, segments: 1 } });
  });

  it('makes managed flags and segments read-only (423) on every route, and marks them', async () => {
    const headers = bearerHeader(TEST_ADMIN_TOKEN);
    const flag = (await get('/api/flags/checkout')).json();
    expect(flag.managedBy).toBe(path);
    const attempts = [
      { method: 'PATCH', url: '/api/flags/checkout', payload: { version: flag.version, name: 'x' } },
      { method: 'PATCH', url: '/api/flags/checkout/environments/production', payload: { version: flag.version, on: false } },
      { method: 'POST', url: '/api/flags/checkout/environments/production/stage', payload: { version: flag.version, stage: '50%' } },
      { method: 'DELETE', url: '/api/flags/checkout', payload: { version: flag.version } },
      { method: 'PATCH', url: '/api/segments/beta', payload: { version: 1, included: [] } },
      { method: 'DELETE', url: '/api/segments/beta', payload: { version: 1 } },
      { method: 'POST', url: '/api/gitops/apply', payload: { document: FILE } },
    ] as const;
    for (const attempt of attempts) {
      const res = await app.inject({ ...attempt, headers });
      expect(res.statusCode, `${attempt.method} ${attempt.url}: ${res.body}`).toBe(423);
      expect(res.json().error.message).toMatch(/Git/);
    }
    expect(await stageOf('checkout')).toBe('10%');
    // Flags the file does not name stay editable.
    const other = await app.inject({ method: 'POST', url: '/api/flags', headers, payload: { key: 'other' } });
    expect(other.statusCode).toBe(201);
    expect(other.json().managedBy).toBeNull();
  });

  it('still lets anyone with the editor role kill a managed flag: incidents do not wait for a merge', async () => {
    const before = await readFlag(app, 'checkout');
    const res = await app.inject({ method: 'POST', url: '/api/flags/checkout/environments/production/kill', headers: bearerHeader(TEST_ADMIN_TOKEN), payload: {} });
    expect(res.statusCode, res.body).toBe(200);
    expect(await stageOf('checkout')).toBe('kill');
    // Put the file's state back behind the API's back, so the tests below start from it.
    await changeFlag(app, 'checkout', undefined, (f) => ({ ...f, environments: before.environments }), { actor: 'test', source: 'api' }, true);
    expect(await stageOf('checkout')).toBe('10%');
  });

  it('picks up an edit, and keeps the last good state when the file turns invalid', async () => {
    writeFileSync(path, FILE.replace('stage: 10%', 'stage: 50%'));
    await waitFor(() => stageOf('checkout'), (s) => s === '50%');

    writeFileSync(path, FILE.replace('included: [ann]', 'included: [ann, bob]').replace('stage: 10%', 'stage: 15 percent'));
    const failed = await waitFor(status, (s) => s.lastSuccess === false);
    expect(failed.lastError.problems[0]).toMatchObject({ file: path, line: 9, column: 28, path: 'flags.checkout.environments.production.stage' });
    expect(failed.lastError.message).toContain(`${path}:9:28: flags.checkout.environments.production.stage: unknown stage`);
    // Never half a file: the valid segment edit in the same file was not applied either.
    expect((await get('/api/segments/beta')).json().included).toEqual(['ann']);
    expect(await stageOf('checkout')).toBe('50%');
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/switchyard_gitops_last_sync_success 0/);

    writeFileSync(path, FILE.replace('stage: 10%', 'stage: 75%'));
    await waitFor(() => stageOf('checkout'), (s) => s === '75%');
    expect(await status()).toMatchObject({ lastSuccess: true, lastError: null });
  });

  it('reports drift when the database was changed behind its back, without overwriting it', async () => {
    const current = await readFlag(app, 'checkout');
    await changeFlag(app, 'checkout', current.version, (f) => ({ ...f, description: 'changed by hand' }), { actor: 'dba', source: 'api' }, true);
    writeFileSync(path, FILE); // same content: a re-check, not a change
    const drifted = await waitFor(status, (s) => s.drift.length > 0);
    expect(drifted.drift[0]).toMatchObject({ action: 'update', resource: 'flag', key: 'checkout', fields: [{ path: 'description', before: 'changed by hand', after: '' }] });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/switchyard_gitops_drift 1/);
    expect((await readFlag(app, 'checkout')).description).toBe('changed by hand');
  });

  it('after a restart, deletes what left the file while the server was down, still never what it did not manage', async () => {
    await app.inject({ method: 'POST', url: '/api/flags', headers: bearerHeader(TEST_ADMIN_TOKEN), payload: { key: 'hand-made' } });
    await app.close();
    writeFileSync(path, FILE.replace(/flags:[\s\S]*$/, 'flags: {}\n'));
    app = await buildApp({ db: database.db, defaultMetrics: false, dashboardDir: null, syncPath: path });
    await app.ready();
    await waitFor(async () => (await get('/api/flags/checkout')).statusCode, (code) => code === 404);
    expect((await get('/api/flags/hand-made')).statusCode).toBe(200);
    // A flag of the same key created by hand after the sync deleted it is not the sync's.
    await app.inject({ method: 'POST', url: '/api/flags', headers: bearerHeader(TEST_ADMIN_TOKEN), payload: { key: 'checkout' } });
    expect((await get('/api/flags/checkout')).json().managedBy).toBeNull();
  });

  it('deletes a flag removed from the file, but never one it did not manage', async () => {
    await app.inject({ method: 'POST', url: '/api/flags', headers: bearerHeader(TEST_ADMIN_TOKEN), payload: { key: 'hand-made' } });
    writeFileSync(path, FILE.replace(/flags:[\s\S]*$/, 'flags: {}\n'));
    await waitFor(async () => (await get('/api/flags/checkout')).statusCode, (code) => code === 404);
    expect((await get('/api/flags/hand-made')).statusCode).toBe(200);
  });

  it('shows where the file is on the server to admins only; others see its name', async () => {
    const tokenFor = async (role: 'editor' | 'viewer') =>
      (await app.inject({ method: 'POST', url: '/api/tokens', headers: bearerHeader(TEST_ADMIN_TOKEN), payload: { name: role, role } })).json().token as string;
    const [viewer, editor] = [await tokenFor('viewer'), await tokenFor('editor')];
    writeFileSync(path, FILE.replace('stage: 10%', 'stage: 15 percent'));
    const failed = await waitFor(status, (s) => s.lastSuccess === false);
    expect(failed.path).toBe(path);

    const seen = (await app.inject({ method: 'GET', url: '/api/gitops/status', headers: bearerHeader(viewer) })).json();
    expect(seen).toMatchObject({ mode: 'sync', path: 'flags.yaml', lastSuccess: false });
    expect(seen.lastError.problems[0]).toMatchObject({ file: 'flags.yaml', line: 9, column: 28 });
    expect(seen.lastError.message).toMatch(/^flags\.yaml:9:28: flags\.checkout\.environments\.production\.stage: unknown stage/);
    expect(JSON.stringify(seen)).not.toContain(dir);
    const refused = await app.inject({ method: 'POST', url: '/api/gitops/apply', headers: bearerHeader(editor), payload: { document: FILE } });
    expect(refused.statusCode).toBe(423);
    expect(refused.body).not.toContain(dir);
    expect(refused.json().error.message).toContain('(flags.yaml)');
  });
});

describe('serve --sync into an environment with an approval policy', () => {
  const protect = () => app.inject({ method: 'PUT', url: '/api/environments/production/approval-policy', headers: bearerHeader(TEST_ADMIN_TOKEN), payload: { required: true } });

  it('refuses the change, keeps the last good state and says to protect the branch instead', async () => {
    expect((await protect()).statusCode).toBe(200);
    writeFileSync(path, FILE.replace('stage: 10%', 'stage: 50%'));
    const failed = await waitFor(status, (s) => s.lastSuccess === false);
    expect(failed.lastError.message).toContain('the sync file changes flag "checkout" in production');
    expect(failed.lastError.message).toContain('protect the branch');
    expect(failed.lastError.message).toContain('--sync-bypass-approvals');
    expect(await stageOf('checkout')).toBe('10%');
  });

  it('with --sync-bypass-approvals, applies it and records the reason in the audit log', async () => {
    expect((await protect()).statusCode).toBe(200);
    await app.close();
    app = await buildApp({ db: database.db, defaultMetrics: false, dashboardDir: null, syncPath: path, syncBypassApprovals: 'main is protected: 2 reviews' });
    await app.ready();
    writeFileSync(path, FILE.replace('stage: 10%', 'stage: 50%'));
    await waitFor(() => stageOf('checkout'), (s) => s === '50%');
    const audit = (await get('/api/audit?limit=1')).json().items[0];
    expect(audit).toMatchObject({ actor: 'gitops', resourceKey: 'checkout' });
    expect(audit.message).toContain('approvals in production bypassed by the Git sync (--sync-bypass-approvals): main is protected: 2 reviews');
  });
});

describe('the files of a sync directory', () => {
  it("skips Git's own .git directory only: .github and other dot-directories are read", async () => {
    const files = ['.git/config.yaml', '.git/hooks/x.yml', '.github/flags/team.yaml', '.gitops/b.json', 'a.yaml', 'sub/.git/c.yaml', 'notes.txt'];
    for (const file of files) {
      mkdirSync(join(dir, file, '..'), { recursive: true });
      writeFileSync(join(dir, file), 'flags: {}\n');
    }
    const names = (await readSources(dir)).map((s) => relative(dir, s.name));
    expect(names).toEqual(['.github/flags/team.yaml', '.gitops/b.json', 'a.yaml', 'flags.yaml']);
  });
});
