import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../domain/errors.js';
import { auditCount, changeFlag, createFlag, createTestApp, snapshotDatabase, type FlagBody, type TestContext } from '../testing/test-app.js';

/**
 * Every write that changes a flag writes exactly one audit entry in the same transaction: a write
 * that fails leaves neither the change nor an entry; a write that succeeds leaves both.
 */

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
  await createFlag(t, 'f');
});
afterEach(async () => {
  await t.close();
});

const readFlag = async () => (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/f' })).json<FlagBody>();
const SYSTEM = { actor: 'test', source: 'api' } as const;

describe('failed writes leave no change and no audit entry', () => {
  it('a validation error raised inside the transaction (unknown variation)', async () => {
    const before = await snapshotDatabase(t.db);
    const res = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/f/environments/production', payload: { version: 1, on: true, offVariation: 'nope' } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(/offVariation.*unknown variation "nope"/);
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('a stage change whose release variation is invalid', async () => {
    const count = (await auditCount(t.db));
    const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/f/environments/production/stage', payload: { version: 1, stage: '10%', variation: 'off' } });
    expect(res.statusCode).toBe(400);
    expect((await auditCount(t.db))).toBe(count);
    expect((await readFlag()).version).toBe(1);
  });

  it('a stale version', async () => {
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/f', payload: { version: 1, name: 'x' } });
    const before = await snapshotDatabase(t.db);
    const res = await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/f/environments/production/stage', payload: { version: 1, stage: '50%' } });
    expect(res.statusCode).toBe(409);
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('a mutation that throws after the flag row was written is rolled back with its audit entry', async () => {
    const before = await snapshotDatabase(t.db);
    // Renames the flag (written first), then names an environment that does not exist, which
    // fails while writing the per-environment rows — after the flag row was updated.
    await expect(
      changeFlag(t, 'f', 1, (flag) => ({ ...flag, name: 'half-written', environments: { ...flag.environments, moon: flag.environments.production! } }), SYSTEM),
    ).rejects.toThrow(/unknown environment "moon"/);
    expect(await snapshotDatabase(t.db)).toEqual(before);
    expect((await readFlag()).name).toBe('f');
  });

  it('a mutation that throws an AppError leaves nothing behind', async () => {
    const before = await snapshotDatabase(t.db);
    await expect(
      changeFlag(t, 'f', undefined, () => {
        throw new AppError('validation_failed', 'nope');
      }, SYSTEM),
    ).rejects.toThrow('nope');
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('a revert to a state that is no longer valid (its segment was deleted)', async () => {
    await t.request(t.adminToken, { method: 'POST', url: '/api/segments', payload: { key: 'beta', name: 'Beta' } });
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/f/environments/staging', payload: { version: 1, rules: [{ id: 'b', clauses: [{ operator: 'in_segment', values: ['beta'] }], serve: { variation: 'on' } }] } });
    const withRule = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/f/audit?limit=1' })).json<{ items: { id: number }[] }>().items[0]!.id;
    await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/f/environments/staging', payload: { version: 2, rules: [] } });
    await t.request(t.tokens.editor, { method: 'DELETE', url: '/api/segments/beta', payload: { version: 1 } });
    // Reverting the removal of the rule would bring back a reference to the deleted segment.
    const removal = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/f/audit?limit=1' })).json<{ items: { id: number }[] }>().items[0]!.id;
    expect(removal).toBeGreaterThan(withRule);
    const before = await snapshotDatabase(t.db);
    const res = await t.request(t.tokens.editor, { method: 'POST', url: `/api/audit/${removal}/revert`, payload: { version: 3 } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(/unknown segment "beta"/);
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });
});

describe('successful writes have exactly one audit entry', () => {
  const writes = [
    { name: 'metadata', method: 'PATCH' as const, url: '/api/flags/f', payload: { version: 1, description: 'new' }, action: 'flag.updated', environment: null },
    { name: 'targeting', method: 'PATCH' as const, url: '/api/flags/f/environments/staging', payload: { version: 1, on: true }, action: 'flag.environment_updated', environment: 'staging' },
    { name: 'stage', method: 'POST' as const, url: '/api/flags/f/environments/production/stage', payload: { version: 1, stage: '10%' }, action: 'flag.stage_changed', environment: 'production' },
    { name: 'kill', method: 'POST' as const, url: '/api/flags/f/environments/production/kill', payload: {}, action: 'flag.killed', environment: 'production' },
    { name: 'delete', method: 'DELETE' as const, url: '/api/flags/f', payload: { version: 1 }, action: 'flag.deleted', environment: null },
  ];

  for (const write of writes) {
    it(`${write.name}: one entry with actor = token name and before/after`, async () => {
      const flagBefore = await readFlag();
      const count = (await auditCount(t.db));
      const res = await t.request(t.tokens.editor, { method: write.method, url: write.url, payload: write.payload });
      expect(res.statusCode).toBe(200);
      expect((await auditCount(t.db))).toBe(count + 1);
      const entry = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/audit?limit=1' })).json<{
        items: { actor: string; action: string; resourceKey: string; environment: string | null; before: { version: number; name: string }; after: { version: number } | null }[];
      }>().items[0]!;
      expect(entry).toMatchObject({ actor: 'editor', action: write.action, resourceKey: 'f', environment: write.environment });
      expect(entry.before.version).toBe(flagBefore.version);
      expect(entry.before.name).toBe(flagBefore.name);
      if (write.action === 'flag.deleted') {
        expect(entry.after).toBeNull();
      } else {
        expect(entry.after!.version).toBe(flagBefore.version + 1);
        const { environments: _e, ...stored } = entry.after as unknown as FlagBody;
        const { environments: _r, createdAt: _c, updatedAt: _u, managedBy: _m, ...read } = (await readFlag()) as FlagBody & { managedBy?: string | null };
        expect(stored).toMatchObject(read);
      }
    });
  }
});
