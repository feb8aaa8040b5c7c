import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { bootstrap } from '../bootstrap.js';
import { openTestDatabase, type TestDatabase } from '../../testing/databases.js';
import { bearerHeader, changeFlag, TEST_ADMIN_TOKEN } from '../../testing/test-app.js';

/**
 * An incident kill of a Git-managed flag against the sync (README, "Sync mode"): it holds that
 * flag+environment through restarts and syncs until someone resumes it or a commit changes that
 * flag there; everything else keeps syncing. Runs the real sync on a real Git working tree, on
 * SQLite and PostgreSQL (the dialect project), restarting the server on the same database.
 */

const FILE = `environments:
  production: { critical: true }
  staging: {}
flags:
  checkout:
    description: New checkout
    environments:
      production: { stage: 10% }
      staging: { stage: 50% }
  banner:
    environments:
      production: { stage: 10% }
`;

/** The file with banner (not checkout) at `stage` in production. */
const rampBanner = (text: string, stage: string) => text.replace(/(banner:\n {4}environments:\n {6}production: \{ stage: )10%/, `$1${stage}`);

type App = Awaited<ReturnType<typeof buildApp>>;
interface Incident {
  killedAt: string;
  killedBy: string;
  message: string | null;
  sinceCommit: string | null;
}
interface FlagBody {
  version: number;
  description: string;
  managedBy: string | null;
  environments: Record<string, { stage: string; on: boolean; killed: boolean; incident: Incident | null }>;
}
interface AuditItem {
  action: string;
  actor: string;
  source: string;
  resourceKey: string;
  environment: string | null;
  message: string | null;
  commit: string | null;
}

let dir: string;
let path: string;
let app: App;
let database: TestDatabase;
let editor: string;
let viewer: string;

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
}

function commit(text: string, message: string): string {
  writeFileSync(path, text);
  git('add', 'flags.yaml');
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

/** A server on the test's database; the sync runs at start (this replica leads), before it serves. */
async function start(): Promise<void> {
  app = await buildApp({ db: database.db, defaultMetrics: false, dashboardDir: null, syncPath: path });
  await bootstrap(app.services.writes, app.services.environments, TEST_ADMIN_TOKEN);
  await app.ready();
}

/** A server restart on the same database: the sync runs again at start, as the leader. */
async function restart(): Promise<void> {
  await app.close();
  await start();
}

/** One more pass of the sync, as after a file event or the periodic re-read. */
const sync = () => app.services.sync!.check();

const as = (token: string) => ({ headers: bearerHeader(token) });
const flag = async (key: string) => (await app.inject({ method: 'GET', url: `/api/flags/${key}`, ...as(TEST_ADMIN_TOKEN) })).json<FlagBody>();
const production = async (key: string) => (await flag(key)).environments.production!;
const audit = async (key: string) => (await app.inject({ method: 'GET', url: `/api/flags/${key}/audit?limit=20`, ...as(TEST_ADMIN_TOKEN) })).json<{ items: AuditItem[] }>().items;
const kill = (key: string, env = 'production', message?: string) =>
  app.inject({ method: 'POST', url: `/api/flags/${key}/environments/${env}/kill`, ...as(editor), payload: message === undefined ? {} : { message } });
const resume = (key: string, env = 'production', token = editor, payload: object = {}) =>
  app.inject({ method: 'POST', url: `/api/flags/${key}/environments/${env}/resume`, ...as(token), payload });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-incident-'));
  path = join(dir, 'flags.yaml');
  git('init', '-q');
  git('config', 'user.name', 'Switchyard Test');
  git('config', 'user.email', 'test@example.com');
  git('config', 'commit.gpgsign', 'false');
  commit(FILE, 'checkout at 10%');
  database = await openTestDatabase('incident');
  await start();
  const token = async (role: string) => (await app.inject({ method: 'POST', url: '/api/tokens', ...as(TEST_ADMIN_TOKEN), payload: { name: role, role } })).json<{ token: string }>().token;
  [editor, viewer] = [await token('editor'), await token('viewer')];
});

afterEach(async () => {
  await app.close();
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an incident kill of a Git-managed flag', () => {
  it('records who killed it, when, why and against which commit, and shows it on the flag', async () => {
    const head = git('rev-parse', 'HEAD');
    expect((await production('checkout')).incident).toBeNull();
    const res = await kill('checkout', 'production', 'checkout errors spiking');
    expect(res.statusCode, res.body).toBe(200);
    const incident = res.json<FlagBody>().environments.production!.incident;
    expect(incident).toEqual({ killedAt: expect.any(String), killedBy: 'editor', message: 'checkout errors spiking', sinceCommit: head });
    expect(Date.parse(incident!.killedAt)).toBeGreaterThan(Date.now() - 60_000);
    // Other environments are not held; the list shows it too.
    expect(res.json<FlagBody>().environments.staging!.incident).toBeNull();
    const list = (await app.inject({ method: 'GET', url: '/api/flags', ...as(viewer) })).json<{ items: (FlagBody & { key: string })[] }>().items;
    expect(list.find((f) => f.key === 'checkout')!.environments.production!.incident).toEqual(incident);
    expect(list.find((f) => f.key === 'banner')!.environments.production!.incident).toBeNull();
    // Killing again changes nothing about the incident: it still dates from the first kill.
    expect((await kill('checkout', 'production', 'still bad')).json<FlagBody>().environments.production!.incident).toEqual(incident);
  });

  it('stays killed through restarts and syncs; other flags and environments keep syncing', async () => {
    expect((await kill('checkout')).statusCode).toBe(200);
    await restart();
    expect((await production('checkout')).stage).toBe('kill');
    await sync();
    expect((await production('checkout')).stage).toBe('kill');

    // A commit that changes other things: the other flag, and this flag's staging and description.
    const other = commit(rampBanner(FILE, '50%').replace('staging: { stage: 50% }', 'staging: { stage: 100% }').replace('New checkout', 'New checkout flow'), 'ramp banner');
    await sync();
    expect((await production('banner')).stage).toBe('50%');
    const checkout = await flag('checkout');
    expect(checkout.environments.production!.stage).toBe('kill');
    expect(checkout.environments.production!.incident).toMatchObject({ killedBy: 'editor' });
    expect(checkout.environments.staging!.stage).toBe('100%');
    expect(checkout.description).toBe('New checkout flow');
    // Held on purpose, so not drift; the status lists what it holds.
    const status = (await app.inject({ method: 'GET', url: '/api/gitops/status', ...as(viewer) })).json<{ drift: unknown[]; held: unknown[]; lastCommit: string }>();
    expect(status).toMatchObject({ drift: [], lastCommit: other, held: [{ flag: 'checkout', environment: 'production', killedBy: 'editor' }] });

    // A restart after a commit that arrived while the server was down: still held.
    await app.close();
    commit(FILE.replace('New checkout', 'New checkout, again'), 'describe it');
    await start();
    expect((await flag('checkout')).description).toBe('New checkout, again');
    expect((await production('checkout')).stage).toBe('kill');
    expect((await production('banner')).stage).toBe('10%');
  });

  it('ends when a new commit changes that flag in that environment: the file wins, audited', async () => {
    expect((await kill('checkout')).statusCode).toBe(200);
    const fix = commit(FILE.replace('production: { stage: 10% }', 'production: { stage: 5% }'), 'checkout back to 5%');
    await sync();
    const after = await production('checkout');
    expect(after).toMatchObject({ stage: '5%', incident: null });
    const [ended] = (await audit('checkout')).filter((a) => a.action === 'incident.ended');
    expect(ended).toMatchObject({ actor: 'gitops', source: 'gitops', environment: 'production', commit: fix });
    expect(ended!.message).toMatch(/changed flag "checkout" in production/);
    // Nothing holds it any more: a restart and another sync keep the file's state.
    await restart();
    await sync();
    expect((await production('checkout')).stage).toBe('5%');
  });

  it('resume ends the hold and puts the file configuration back at once, audited', async () => {
    expect((await kill('checkout', 'production', 'incident 42')).statusCode).toBe(200);
    await sync();
    // A commit that does not touch it arrives meanwhile.
    commit(rampBanner(FILE, '25%'), 'ramp banner');
    await sync();
    expect((await production('checkout')).stage).toBe('kill');

    const forbidden = await resume('checkout', 'production', viewer);
    expect(forbidden.statusCode).toBe(403);
    const res = await resume('checkout', 'production', editor, { message: 'root cause fixed' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<FlagBody>().environments.production).toMatchObject({ stage: '10%', on: true, killed: false, incident: null });
    const [resumed] = (await audit('checkout')).filter((a) => a.action === 'flag.resumed');
    expect(resumed).toMatchObject({ actor: 'editor', environment: 'production', message: 'root cause fixed' });
    // The database matches the file again: no drift, nothing held, and a restart changes nothing.
    await sync();
    const status = (await app.inject({ method: 'GET', url: '/api/gitops/status', ...as(viewer) })).json<{ drift: unknown[]; held: unknown[] }>();
    expect(status).toMatchObject({ drift: [], held: [] });
    await restart();
    expect((await production('checkout')).stage).toBe('10%');
    expect((await production('banner')).stage).toBe('25%');
  });

  it('holds against what the file asks for even when the kill replaced a configuration that had drifted from it', async () => {
    // Someone changed production behind the sync's back (drift), then the flag is killed.
    await changeFlag(app, 'checkout', undefined, (f) => ({ ...f, environments: { ...f.environments, production: { ...f.environments.production!, salt: 'by-hand' } } }), { actor: 'dba', source: 'api' }, true);
    expect((await kill('checkout')).statusCode).toBe(200);
    // The file has not changed since it was applied: the leader records the file's configuration.
    await sync();
    commit(rampBanner(FILE, '50%'), 'ramp banner');
    await sync();
    expect((await production('banner')).stage).toBe('50%');
    expect((await production('checkout')).stage).toBe('kill');
    // Resume puts back the file's configuration, not the drifted one.
    expect((await resume('checkout')).statusCode).toBe(200);
    const restored = (await flag('checkout')).environments.production as unknown as { stage: string; salt: string };
    expect(restored).toMatchObject({ stage: '10%', salt: 'checkout' });
  });

  it('a resume sent with a stale version is refused and changes nothing', async () => {
    const killed = (await kill('checkout')).json<FlagBody>();
    const stale = await resume('checkout', 'production', editor, { version: killed.version - 1 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.code).toBe('version_conflict');
    expect(await production('checkout')).toMatchObject({ stage: 'kill', incident: { killedBy: 'editor' } });
    expect((await resume('checkout', 'production', editor, { version: killed.version })).statusCode).toBe(200);
  });

  it('refuses a resume with nothing to resume (409), and unknown flags or environments (404)', async () => {
    const none = await resume('checkout');
    expect(none.statusCode).toBe(409);
    expect(none.json().error.message).toMatch(/flag "checkout" is not held by an incident kill in production/);
    const unknownEnv = await resume('checkout', 'qa');
    expect(unknownEnv.statusCode).toBe(404);
    expect(unknownEnv.json().error.message).toMatch(/environment "qa"/);
    expect((await resume('nope')).statusCode).toBe(404);
    expect((await resume('checkout', 'production', editor, { reason: 'x' })).statusCode).toBe(400);
    // A resumed incident cannot be resumed twice.
    await kill('checkout');
    expect((await resume('checkout')).statusCode).toBe(200);
    expect((await resume('checkout')).statusCode).toBe(409);
  });

  it('a flag killed by hand that the file does not manage holds nothing', async () => {
    await app.inject({ method: 'POST', url: '/api/flags', ...as(editor), payload: { key: 'hand-made' } });
    const res = await kill('hand-made');
    expect(res.json<FlagBody>().environments.production!.incident).toBeNull();
    expect((await resume('hand-made')).statusCode).toBe(409);
  });

  it('ends with the flag when a commit removes it from the file', async () => {
    await kill('checkout');
    commit(FILE.replace(/ {2}checkout:[\s\S]*?(?= {2}banner:)/, ''), 'drop checkout');
    await sync();
    expect((await app.inject({ method: 'GET', url: '/api/flags/checkout', ...as(viewer) })).statusCode).toBe(404);
    // Recreated by hand under the same key, it carries nothing over.
    await app.inject({ method: 'POST', url: '/api/flags', ...as(editor), payload: { key: 'checkout' } });
    expect((await production('checkout')).incident).toBeNull();
  });
});
