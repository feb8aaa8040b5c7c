import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

interface AuditBody {
  id: number;
  actor: string;
  action: string;
  resourceType: string;
  resourceKey: string;
  environment: string | null;
  before: unknown;
  after: unknown;
  message: string | null;
  source: string;
}
interface Page {
  items: AuditBody[];
  nextCursor: number | null;
}

const page = async (url: string, token = t.tokens.viewer) => {
  const res = await t.request(token, { method: 'GET', url });
  expect(res.statusCode).toBe(200);
  return res.json<Page>();
};
const readFlag = async (key: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>();
/** What a revert must restore exactly: everything but the bookkeeping fields. */
const restorable = (flag: FlagBody) => {
  const { version: _v, updatedAt: _u, updatedBy: _b, ...rest } = flag;
  return rest;
};
const revert = (id: number, payload?: Record<string, unknown>) => t.request(t.tokens.editor, { method: 'POST', url: `/api/audit/${id}/revert`, ...(payload ? { payload } : {}) });

describe('GET /api/audit', () => {
  it('pages newest first with nextCursor until the end', async () => {
    for (let i = 0; i < 7; i++) await createFlag(t, `flag-${i}`);
    const seen: number[] = [];
    let url = '/api/audit?resourceType=flag&limit=3';
    const cursors: (number | null)[] = [];
    for (;;) {
      const p = await page(url);
      seen.push(...p.items.map((e) => e.id));
      cursors.push(p.nextCursor);
      if (p.nextCursor === null) break;
      url = `/api/audit?resourceType=flag&limit=3&before=${p.nextCursor}`;
    }
    expect(seen).toHaveLength(7);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
    expect(new Set(seen).size).toBe(7);
    expect(cursors.at(-1)).toBeNull();
  });

  it('filters by resource, environment and actor', async () => {
    await createFlag(t, 'a');
    await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags', payload: { key: 'b' } });
    await setStage(t, 'a', 'staging', 'dogfood');
    expect((await page('/api/audit?actor=editor')).items.map((e) => e.resourceKey)).toEqual(['b']);
    expect((await page('/api/audit?resourceType=flag&environment=staging')).items.map((e) => e.action)).toEqual(['flag.stage_changed']);
    expect((await page('/api/audit?resourceType=flag&resourceKey=a')).items.map((e) => e.action)).toEqual(['flag.stage_changed', 'flag.created']);
  });

  it("has each flag's feed, with actor, action and before/after", async () => {
    await createFlag(t, 'f');
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/f', payload: { version: 1, name: 'Renamed' }, headers: { 'x-switchyard-source': 'cli' } });
    const p = await page('/api/flags/f/audit');
    expect(p.items.map((e) => [e.action, e.actor])).toEqual([
      ['flag.updated', 'editor'],
      ['flag.created', 'admin'],
    ]);
    expect(p.items[0]!.source).toBe('cli');
    expect((p.items[0]!.before as FlagBody).name).toBe('f');
    expect((p.items[0]!.after as FlagBody).name).toBe('Renamed');
    expect(p.nextCursor).toBeNull();
  });

  it('records the source a client names (cli, mcp), never one only the server itself may use', async () => {
    await createFlag(t, 'src');
    for (const [i, [stage, source]] of ([['dogfood', 'mcp'], ['10%', 'cli'], ['20%', 'scheduler'], ['30%', 'robot']] as const).entries()) {
      const response = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/src/environments/staging/stage', payload: { stage, version: i + 1 }, headers: { 'x-switchyard-source': source } });
      expect(response.statusCode).toBe(200);
    }
    expect((await page('/api/flags/src/audit')).items.map((e) => e.source)).toEqual(['api', 'api', 'cli', 'mcp', 'api']);
  });

  it('401 without credentials, 403 for SDK keys', async () => {
    expect((await t.request(null, { method: 'GET', url: '/api/audit' })).statusCode).toBe(401);
    expect((await t.request('bad', { method: 'GET', url: '/api/flags/f/audit' })).statusCode).toBe(401);
    expect((await t.request(await t.sdkKey('staging'), { method: 'GET', url: '/api/audit' })).statusCode).toBe(403);
  });
});

describe('POST /api/audit/:id/revert', () => {
  it('undoes only what the entry changed (later, unrelated changes stay), and audits the revert', async () => {
    await createFlag(t, 'f', { tags: ['one'] });
    await setStage(t, 'f', 'production', '10%');
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/f/environments/staging', payload: { version: 2, targets: [{ variation: 'on', values: ['qa'] }], on: true } });
    const before = await readFlag('f');
    await setStage(t, 'f', 'production', '100%');
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/f', payload: { version: 4, tags: ['two'], description: 'changed' } });
    const history = (await page('/api/flags/f/audit')).items;
    expect(history.map((e) => e.action)).toEqual(['flag.updated', 'flag.stage_changed', 'flag.environment_updated', 'flag.stage_changed', 'flag.created']);
    const stageEntry = history[1]!;

    const res = await revert(stageEntry.id, { version: 5, message: 'too fast' });
    expect(res.statusCode).toBe(200);
    const after = await readFlag('f');
    // Production is back where it was before the entry; the later metadata change stays.
    expect(restorable(after)).toEqual({ ...restorable(before), tags: ['two'], description: 'changed' });
    expect(after.environments.production!.stage).toBe('10%');
    expect(after.version).toBe(6);

    const latest = (await page('/api/flags/f/audit?limit=1')).items[0]!;
    expect(latest).toMatchObject({ action: 'flag.reverted', actor: 'editor', environment: 'production', message: `revert of audit entry #${stageEntry.id}: too fast` });
    expect((latest.before as FlagBody).version).toBe(5);
    expect((latest.after as FlagBody).version).toBe(6);
  });

  it('reverting the creation deletes the flag; reverting that brings it back', async () => {
    await createFlag(t, 'f', { name: 'Original' });
    const created = (await page('/api/flags/f/audit')).items[0]!;
    expect(created.action).toBe('flag.created');
    const res = await revert(created.id, { version: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ flag: null });
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/f' })).statusCode).toBe(404);
    const deletion = (await page('/api/flags/f/audit')).items[0]!;
    expect(deletion.action).toBe('flag.reverted');
    const back = await revert(deletion.id);
    expect(back.statusCode).toBe(200);
    expect((await readFlag('f')).name).toBe('Original');
  });

  it('reverting a deletion restores the deleted flag', async () => {
    await createFlag(t, 'f');
    await setStage(t, 'f', 'staging', '50%');
    const before = await readFlag('f');
    await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/flags/f', payload: { version: 2 } });
    const deletion = (await page('/api/flags/f/audit')).items[0]!;
    expect(deletion.action).toBe('flag.deleted');
    expect((await revert(deletion.id)).statusCode).toBe(200);
    expect(restorable(await readFlag('f'))).toEqual(restorable(before));
  });

  it('409 on a stale version; 428 without one; 404 for an unknown entry; 400 for a non-flag entry; 403 for viewers', async () => {
    await createFlag(t, 'f');
    await setStage(t, 'f', 'staging', 'dogfood');
    const entry = (await page('/api/flags/f/audit')).items[0]!;
    const stale = await revert(entry.id, { version: 1 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json<ErrorBody>().error.code).toBe('version_conflict');
    const unversioned = await revert(entry.id);
    expect(unversioned.statusCode).toBe(428);
    expect(unversioned.json<ErrorBody>().error.message).toMatch(/current version/);
    expect((await revert(999_999)).statusCode).toBe(404);
    const tokenEntry = (await page('/api/audit?resourceType=api_token&limit=1')).items[0]!;
    const wrongKind = await revert(tokenEntry.id);
    expect(wrongKind.statusCode).toBe(400);
    expect(wrongKind.json<ErrorBody>().error.message).toMatch(/only flag changes/);
    expect((await t.request(t.tokens.viewer, { method: 'POST', url: `/api/audit/${entry.id}/revert` })).statusCode).toBe(403);
    expect((await readFlag('f')).environments.staging!.stage).toBe('dogfood');
  });
});
