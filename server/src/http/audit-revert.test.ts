import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, snapshotDatabase, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

/**
 * Reverting an audit entry undoes exactly that entry's change — its fields, in its environment —
 * and nothing later; a preview shows the diff first; a later change of the same fields blocks it.
 * (Runs on SQLite and PostgreSQL.)
 */

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

interface Entry {
  id: number;
  action: string;
  actor: string;
  environment: string | null;
  message: string | null;
  before: unknown;
  after: unknown;
}
interface Preview {
  entry: Entry;
  operation: 'update' | 'delete' | 'recreate';
  version: number | null;
  changes: { environment: string | null; field: string; current: unknown; reverted: unknown; text: string }[];
  stages: { environment: string; current: string; reverted: string }[];
  summary: string[];
  conflicts: { entry: { id: number; actor: string; at: string; action: string } | null; fields: { environment: string | null; field: string }[] }[];
  canApply: boolean;
  refusal: { code: string; message: string } | null;
}
interface SegmentBody {
  key: string;
  name: string;
  included: string[];
  excluded: string[];
  version: number;
}

const history = async (url: string) => (await t.request(t.tokens.viewer, { method: 'GET', url })).json<{ items: Entry[] }>().items;
const latestOf = async (resource: 'flag' | 'segment', key: string) => (await history(`/api/audit?resourceType=${resource}&resourceKey=${key}&limit=1`))[0]!;
const readFlag = async (key: string) => (await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>();
const preview = (id: number | string, token = t.tokens.viewer) => t.request(token, { method: 'GET', url: `/api/audit/${id}/revert` });
const revert = (id: number | string, payload?: Record<string, unknown>) => t.request(t.tokens.editor, { method: 'POST', url: `/api/audit/${id}/revert`, ...(payload ? { payload } : {}) });
const admin = async (method: 'POST' | 'PATCH' | 'DELETE' | 'PUT', url: string, payload: Record<string, unknown> = {}) => {
  const res = await t.request(t.adminToken, { method, url, payload });
  expect(res.statusCode, res.body).toBeLessThan(300);
  return res.json<Record<string, unknown>>();
};

describe('the issue: a production change, then an unrelated staging change', () => {
  it('reverting the production change leaves the later staging change as it is', async () => {
    await createFlag(t, 'checkout');
    await setStage(t, 'checkout', 'production', '10%');
    await setStage(t, 'checkout', 'production', '100%');
    const production = await latestOf('flag', 'checkout');
    await setStage(t, 'checkout', 'staging', '50%');
    await admin('PATCH', '/api/flags/checkout', { version: 4, description: 'later, unrelated' });
    const beforeRevert = await readFlag('checkout');

    const res = await revert(production.id, { version: beforeRevert.version, message: 'too fast' });
    expect(res.statusCode, res.body).toBe(200);
    const flag = res.json<{ flag: FlagBody }>().flag;
    expect(flag.environments.production!.stage).toBe('10%');
    expect(flag.environments.staging).toEqual(beforeRevert.environments.staging);
    expect(flag.environments.staging!.stage).toBe('50%');
    expect(flag.description).toBe('later, unrelated');
    expect(flag.version).toBe(beforeRevert.version + 1);
    expect(await readFlag('checkout')).toEqual(flag);

    const entry = await latestOf('flag', 'checkout');
    expect(entry).toMatchObject({ action: 'flag.reverted', actor: 'editor', environment: 'production', message: `revert of audit entry #${production.id}: too fast` });

    // Without a comment the message still points at the entry; reverting the revert restores 100%.
    const again = await revert(entry.id, { version: flag.version });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json<{ flag: FlagBody }>().flag.environments.production!.stage).toBe('100%');
    expect((await latestOf('flag', 'checkout')).message).toBe(`revert of audit entry #${entry.id}`);
  });

  it('reverting a metadata change keeps later targeting changes', async () => {
    await createFlag(t, 'f', { name: 'Old name' });
    await admin('PATCH', '/api/flags/f', { version: 1, name: 'New name', tags: ['x'] });
    const rename = await latestOf('flag', 'f');
    await setStage(t, 'f', 'production', 'dogfood');
    const res = await revert(rename.id, { version: 3 });
    expect(res.statusCode, res.body).toBe(200);
    const flag = res.json<{ flag: FlagBody }>().flag;
    expect(flag).toMatchObject({ name: 'Old name', tags: [] });
    expect(flag.environments.production!.stage).toBe('dogfood');
    expect((await latestOf('flag', 'f')).environment).toBeNull();
  });
});

describe('GET /api/audit/:id/revert (preview)', () => {
  it('shows the diff readably, writes nothing, and is exactly what the revert then does', async () => {
    await createFlag(t, 'f');
    await setStage(t, 'f', 'production', '10%');
    await setStage(t, 'f', 'production', '100%');
    const ramp = await latestOf('flag', 'f');
    await setStage(t, 'f', 'staging', 'dogfood');
    const current = await readFlag('f');

    const dbBefore = await snapshotDatabase(t.db);
    const res = await preview(ramp.id);
    expect(res.statusCode, res.body).toBe(200);
    expect(await snapshotDatabase(t.db)).toEqual(dbBefore);
    const p = res.json<Preview>();
    expect(p).toMatchObject({ operation: 'update', version: current.version, canApply: true, refusal: null, conflicts: [] });
    expect(p.entry.id).toBe(ramp.id);
    expect(p.stages).toEqual([{ environment: 'production', current: '100%', reverted: '10%' }]);
    expect(p.summary[0]).toBe('production: stage 100% → 10%');
    expect(p.changes.map((c) => `${c.environment}.${c.field}`)).toEqual(['production.defaultServe']);
    expect(p.changes[0]!.text).toBe('production: defaultServe on → on 10% / off 90%');
    expect(p.changes[0]!.current).toEqual(current.environments.production!.defaultServe);

    const applied = await revert(ramp.id, { version: p.version });
    expect(applied.statusCode, applied.body).toBe(200);
    const after = applied.json<{ flag: FlagBody }>().flag;
    // Every previewed field has its previewed value…
    for (const change of p.changes) {
      const holder = (change.environment === null ? after : after.environments[change.environment]) as unknown as Record<string, unknown>;
      expect(holder[change.field], `${change.environment}.${change.field}`).toEqual(change.reverted);
    }
    // …and nothing else changed.
    const strip = (f: FlagBody) => {
      const { version: _v, updatedAt: _u, updatedBy: _b, environments, ...rest } = f;
      // Production's stored fields but the reverted one (derived ones, such as its stage, move with it).
      const { on, killed, offVariation, targets, rules, salt, bucketBy } = environments.production!;
      return { ...rest, environments: { ...environments, production: { on, killed, offVariation, targets, rules, salt, bucketBy } } };
    };
    expect(strip(after)).toEqual(strip(current));
  });

  it('viewers may preview; only editors may revert', async () => {
    await createFlag(t, 'f');
    await setStage(t, 'f', 'production', '10%');
    const entry = await latestOf('flag', 'f');
    expect((await preview(entry.id, t.tokens.viewer)).statusCode).toBe(200);
    expect((await t.request(t.tokens.viewer, { method: 'POST', url: `/api/audit/${entry.id}/revert`, payload: { version: 2 } })).statusCode).toBe(403);
    expect((await t.request(null, { method: 'GET', url: `/api/audit/${entry.id}/revert` })).statusCode).toBe(401);
  });

  it('previews undoing a creation and a deletion', async () => {
    await createFlag(t, 'f');
    const created = await latestOf('flag', 'f');
    expect((await preview(created.id)).json<Preview>()).toMatchObject({ operation: 'delete', version: 1, canApply: true, summary: ['delete flag "f" (created by this entry)'] });
    await setStage(t, 'f', 'production', '10%');
    await admin('DELETE', '/api/flags/f', { version: 2 });
    const deleted = await latestOf('flag', 'f');
    const p = (await preview(deleted.id)).json<Preview>();
    expect(p).toMatchObject({ operation: 'recreate', version: null, canApply: true });
    expect(p.summary[0]).toMatch(/^recreate flag "f" as it was before this entry \(.*production: 10%/);
  });
});

describe('a later change of the same fields blocks the revert', () => {
  it('409 naming the later entry, who, when and the fields; nothing is written', async () => {
    await createFlag(t, 'f');
    await setStage(t, 'f', 'production', '10%');
    await setStage(t, 'f', 'production', '50%');
    const first = await latestOf('flag', 'f');
    await setStage(t, 'f', 'production', '100%');
    const later = await latestOf('flag', 'f');

    const p = (await preview(first.id)).json<Preview>();
    expect(p.canApply).toBe(false);
    expect(p.conflicts).toEqual([{ entry: { id: later.id, actor: 'admin', at: expect.any(String), action: 'flag.stage_changed' }, fields: [{ environment: 'production', field: 'defaultServe' }] }]);
    expect(p.refusal?.code).toBe('conflict');
    expect(p.stages).toEqual([{ environment: 'production', current: '100%', reverted: '10%' }]);

    const dbBefore = await snapshotDatabase(t.db);
    const res = await revert(first.id, { version: 4 });
    expect(res.statusCode).toBe(409);
    const error = res.json<ErrorBody>().error;
    expect(error.code).toBe('conflict');
    expect(error.message).toContain(`cannot revert audit entry ${first.id}`);
    expect(error.message).toMatch(new RegExp(`production\\.defaultServe was changed later by entry #${later.id} \\(flag\\.stage_changed by admin at \\d{4}-\\d\\d-\\d\\dT`));
    expect(error.message).toBe(p.refusal!.message);
    expect(error.details).toEqual({ conflicts: p.conflicts });
    expect(await snapshotDatabase(t.db)).toEqual(dbBefore);
  });

  it('a later change of other fields or other environments does not block it', async () => {
    await createFlag(t, 'f');
    await admin('PATCH', '/api/flags/f/environments/production', { version: 1, targets: [{ variation: 'on', values: ['qa'] }] });
    const targets = await latestOf('flag', 'f');
    await admin('PATCH', '/api/flags/f/environments/production', { version: 2, salt: 'reshuffled' });
    await admin('PATCH', '/api/flags/f/environments/staging', { version: 3, targets: [{ variation: 'on', values: ['dev'] }] });
    const res = await revert(targets.id, { version: 4 });
    expect(res.statusCode, res.body).toBe(200);
    const flag = res.json<{ flag: FlagBody }>().flag;
    expect(flag.environments.production).toMatchObject({ targets: [], salt: 'reshuffled' });
    expect(flag.environments.staging!.targets).toEqual([{ variation: 'on', values: ['dev'] }]);
  });

  it('the deletion of the environment the change was in blocks it, named', async () => {
    await admin('POST', '/api/environments', { key: 'qa' });
    await createFlag(t, 'f');
    await setStage(t, 'f', 'qa', '10%');
    const change = await latestOf('flag', 'f');
    await admin('DELETE', '/api/environments/qa');
    const deletion = (await history('/api/audit?resourceType=environment&resourceKey=qa&limit=1'))[0]!;
    const res = await revert(change.id, { version: 2 });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toContain(`were changed later by entry #${deletion.id} (environment.deleted by admin`);
  });

  it('undoing the creation of a since-deleted flag is refused, naming the deletion', async () => {
    await createFlag(t, 'f');
    const created = await latestOf('flag', 'f');
    await admin('DELETE', '/api/flags/f', { version: 1 });
    const deleted = await latestOf('flag', 'f');
    const res = await revert(created.id, { version: 1 });
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toMatch(new RegExp(`flag "f" was created by audit entry ${created.id} and no longer exists \\(flag\\.deleted by admin at .*, entry #${deleted.id}\\): nothing to revert`));
    expect((await preview(created.id)).json<Preview>()).toMatchObject({ canApply: false, refusal: { code: 'conflict' } });
  });

  it('undoing a deletion is refused once the flag exists again', async () => {
    await createFlag(t, 'f');
    await admin('DELETE', '/api/flags/f', { version: 1 });
    const deleted = await latestOf('flag', 'f');
    await createFlag(t, 'f');
    const res = await revert(deleted.id);
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.message).toMatch(/flag "f" exists again.*flag\.created by admin/);
  });
});

describe('segments', () => {
  it('reverting a segment change sets back only its fields; a later change of the same field blocks it', async () => {
    await admin('POST', '/api/segments', { key: 'beta', name: 'Beta', included: ['ana'] });
    await admin('PATCH', '/api/segments/beta', { version: 1, included: ['ana', 'ben'] });
    const widen = await latestOf('segment', 'beta');
    await admin('PATCH', '/api/segments/beta', { version: 2, name: 'Beta testers' });
    const rename = await latestOf('segment', 'beta');

    const p = (await preview(widen.id)).json<Preview>();
    expect(p).toMatchObject({ operation: 'update', version: 3, canApply: true, stages: [] });
    expect(p.changes).toEqual([{ environment: null, field: 'included', current: ['ana', 'ben'], reverted: ['ana'], text: 'included 2 items (ana, ben) → 1 item (ana)' }]);

    const res = await revert(widen.id, { version: 3 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ segment: SegmentBody }>().segment).toMatchObject({ key: 'beta', name: 'Beta testers', included: ['ana'], version: 4 });
    expect(await latestOf('segment', 'beta')).toMatchObject({ action: 'segment.reverted', message: `revert of audit entry #${widen.id}` });

    await admin('PATCH', '/api/segments/beta', { version: 4, name: 'Beta crew' });
    const dbBefore = await snapshotDatabase(t.db);
    const blocked = await revert(rename.id, { version: 5 });
    expect(blocked.statusCode).toBe(409);
    expect(blocked.json<ErrorBody>().error.message).toMatch(/: name was changed later by entry #\d+ \(segment\.updated by admin/);
    expect(await snapshotDatabase(t.db)).toEqual(dbBefore);
  });

  it('undoing a segment creation deletes it, unless a flag uses it', async () => {
    await admin('POST', '/api/segments', { key: 'beta', name: 'Beta' });
    const created = await latestOf('segment', 'beta');
    await createFlag(t, 'f');
    await admin('PATCH', '/api/flags/f/environments/staging', { version: 1, rules: [{ id: 'b', clauses: [{ operator: 'in_segment', values: ['beta'] }], serve: { variation: 'on' } }] });
    const used = await revert(created.id, { version: 1 });
    expect(used.statusCode).toBe(409);
    expect(used.json<ErrorBody>().error.message).toMatch(/segment "beta" is used by flag\(s\): f/);
    await admin('PATCH', '/api/flags/f/environments/staging', { version: 2, rules: [] });
    const res = await revert(created.id, { version: 1 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ segment: null });
    expect((await t.request(t.tokens.viewer, { method: 'GET', url: '/api/segments/beta' })).statusCode).toBe(404);
  });
});

describe('what cannot be reverted', () => {
  it('bad ids: 400 for a malformed one, 404 for an unknown one (preview and revert)', async () => {
    for (const send of [(id: string) => preview(id), (id: string) => revert(id, {})]) {
      const malformed = await send('abc');
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json<ErrorBody>().error.message).toMatch(/params\.id/);
      expect((await send('0')).statusCode).toBe(400);
      const unknown = await send('999999');
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json<ErrorBody>().error.message).toBe('audit entry "999999" not found');
    }
  });

  it('token actions and release plans: 400 with a clear message, nothing written', async () => {
    const token = (await history('/api/audit?resourceType=api_token&limit=1'))[0]!;
    for (const res of [await preview(token.id), await revert(token.id, {})]) {
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorBody>().error.message).toBe(`audit entry ${token.id} is about an api token (api_token.created); only flag changes can be reverted (and segment changes)`);
    }
    await createFlag(t, 'f');
    await admin('PUT', '/api/flags/f/environments/production/release-plan', { strategy: 'guarded' });
    const plan = await latestOf('flag', 'f');
    expect(plan.action).toBe('release.plan_saved');
    const dbBefore = await snapshotDatabase(t.db);
    const res = await revert(plan.id, { version: 1 });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.message).toMatch(/records no change to the flag itself/);
    expect(await snapshotDatabase(t.db)).toEqual(dbBefore);
  });

  it('the version is required while the flag exists, and checked', async () => {
    await createFlag(t, 'f');
    await setStage(t, 'f', 'production', '10%');
    const entry = await latestOf('flag', 'f');
    expect((await revert(entry.id)).statusCode).toBe(428);
    const stale = await revert(entry.id, { version: 1 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json<ErrorBody>().error.code).toBe('version_conflict');
    expect((await readFlag('f')).environments.production!.stage).toBe('10%');
  });
});
