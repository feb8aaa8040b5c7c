import { afterEach, describe, expect, it } from 'vitest';
import { SESSION_TTL_MS } from '../domain/credentials.js';
import { AppError } from '../domain/errors.js';
import type { Flag } from '../domain/flags.js';
import { defaultFlagEnvironment } from '../domain/flag-defaults.js';
import { createServices, type Services } from '../services/index.js';
import { SILENT } from '../services/logger.js';
import { Maintenance } from '../services/maintenance.js';
import { Writes } from '../services/write.js';
import { bootstrap } from '../services/bootstrap.js';
import { DIALECTS, dumpTables, openTestDatabase, type TestDatabase } from '../testing/databases.js';
import { fakeClock } from '../testing/test-app.js';
import type { Tx } from './ports.js';

/**
 * The repository contract, on SQLite and PostgreSQL alike: what the services rely on. Anything
 * dialect-specific (locking, claims, leadership) is in concurrency.test.ts.
 */

const ADMIN = 'contract-admin-token-0123456789abcdef';
const ctx = { actor: 'tester', source: 'api' } as const;

describe.each(DIALECTS)('store contract on %s', (dialect) => {
  const open: { database: TestDatabase; services: Services }[] = [];

  async function setup(): Promise<Services> {
    const database = await openTestDatabase(`contract_${dialect}`, dialect);
    const services = createServices(database.db, { now: fakeClock(), background: false });
    await bootstrap(services.writes, services.environments, ADMIN);
    open.push({ database, services });
    return services;
  }

  afterEach(async () => {
    for (const { database } of open.splice(0)) await database.close();
  });

  const write = <T>(s: Services, fn: (tx: Tx) => Promise<T>) => s.db.transaction(fn);
  const read = <T>(s: Services, fn: (tx: Tx) => Promise<T>) => s.db.read(fn);

  function flag(key: string, environments: string[]): Flag {
    const variations = [{ key: 'off', value: false }, { key: 'on', value: true }];
    return {
      key,
      name: key,
      description: '',
      tags: ['a', 'b'],
      owner: '',
      type: 'boolean',
      variations,
      archived: false,
      clientVisible: true,
      version: 1,
      createdAt: 1000,
      updatedAt: 1000,
      updatedBy: 'me',
      environments: Object.fromEntries(environments.map((e) => [e, defaultFlagEnvironment(key, variations, 'boolean')])),
    };
  }

  it('stores a flag with a configuration per environment and reads it back unchanged', async () => {
    const s = await setup();
    const { repos } = s.db;
    const f = flag('round-trip', ['development', 'staging', 'production']);
    f.environments.production = { ...f.environments.production!, on: true, rules: [{ id: 'r', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@x.io'] }], serve: { variation: 'on' } }] };
    await write(s, (tx) => repos.flags.insert(tx, f));
    expect(await read(s, (tx) => repos.flags.get(tx, 'round-trip'))).toEqual({ value: f, managedBy: null });
    expect((await read(s, (tx) => repos.flags.list(tx))).map((m) => m.value.key)).toEqual(['round-trip']);
  });

  it("returns a flag's configurations in the environments' order, whatever order they were written in", async () => {
    const s = await setup();
    const { repos } = s.db;
    await write(s, (tx) => repos.flags.insert(tx, flag('ordered', ['production', 'development', 'staging'])));
    const order = ['development', 'staging', 'production'];
    expect(Object.keys((await read(s, (tx) => repos.flags.get(tx, 'ordered')))!.value.environments)).toEqual(order);
    expect(Object.keys((await read(s, (tx) => repos.flags.list(tx)))[0]!.value.environments)).toEqual(order);
  });

  it('maps a duplicate key to a 409 naming it, for flags, segments and environments', async () => {
    const s = await setup();
    const { repos } = s.db;
    await write(s, (tx) => repos.flags.insert(tx, flag('dup', ['production'])));
    const expectConflict = async (promise: Promise<unknown>, message: RegExp) => {
      const error = await promise.then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).statusCode).toBe(409);
      expect((error as AppError).message).toMatch(message);
    };
    await expectConflict(write(s, (tx) => repos.flags.insert(tx, flag('dup', ['production']))), /flag "dup" already exists/);
    await expectConflict(write(s, (tx) => repos.segments.insert(tx, { key: 'internal', name: 'x', description: '', unitAttribute: 'userId', included: [], excluded: [], rules: [], version: 1, createdAt: 1, updatedAt: 1, updatedBy: 'x' })), /segment "internal" already exists/);
    await expectConflict(write(s, (tx) => repos.environments.insert(tx, { key: 'staging', name: 'S', critical: false, sortOrder: 9, createdAt: 1 })), /environment "staging" already exists/);
  });

  it('refuses a configuration for an environment that does not exist, writing nothing', async () => {
    const s = await setup();
    const before = await dumpTables(s.db, ['flags', 'flag_environments']);
    const error = await write(s, (tx) => s.db.repos.flags.insert(tx, flag('moon', ['production', 'moon']))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).message).toMatch(/unknown environment "moon"/);
    expect(await dumpTables(s.db, ['flags', 'flag_environments'])).toEqual(before);
  });

  it('writes a flag only at the version it was read (compare-and-set), configurations named only', async () => {
    const s = await setup();
    const { repos } = s.db;
    const f = flag('cas', ['staging', 'production']);
    await write(s, (tx) => repos.flags.insert(tx, f));
    const next = { ...f, name: 'renamed', version: 2, environments: { ...f.environments, production: { ...f.environments.production!, on: true } } };
    expect(await write(s, (tx) => repos.flags.update(tx, next, 1, { production: next.environments.production! }))).toBe(true);
    expect(await write(s, (tx) => repos.flags.update(tx, { ...next, name: 'lost', version: 3 }, 1, {}))).toBe(false);
    const stored = (await read(s, (tx) => repos.flags.get(tx, 'cas')))!.value;
    expect(stored).toMatchObject({ name: 'renamed', version: 2 });
    expect(stored.environments.production!.on).toBe(true);
    expect(stored.environments.staging).toEqual(f.environments.staging);
    expect(await write(s, (tx) => repos.flags.delete(tx, 'cas', 1))).toBe(false);
    expect(await write(s, (tx) => repos.flags.delete(tx, 'cas', 2))).toBe(true);
    expect(await read(s, (tx) => repos.flags.get(tx, 'cas'))).toBeUndefined();
  });

  it('rolls a transaction back whole when it throws', async () => {
    const s = await setup();
    const before = await dumpTables(s.db, ['flags', 'audit_log', 'change_feed']);
    await expect(
      write(s, async (tx) => {
        await s.db.repos.flags.insert(tx, flag('half', ['production']));
        await s.db.repos.audit.append(tx, [{ at: 1, actor: 'a', action: 'x', resourceType: 'flag', resourceKey: 'half', environment: null, before: null, after: null, source: 'api', message: null, commit: null }]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await dumpTables(s.db, ['flags', 'audit_log', 'change_feed'])).toEqual(before);
  });

  it('hands out change-feed positions in order without gaps, and makes each the version of the environments it patches', async () => {
    const s = await setup();
    const { repos } = s.db;
    const head = await read(s, (tx) => repos.feed.head(tx));
    const entry = (environments: string[]) => ({ at: 5, writes: [], sdk: Object.fromEntries(environments.map((e) => [e, { flags: {}, segments: {} }])), revoked: [], deliveries: false });
    const first = await write(s, (tx) => repos.feed.append(tx, entry(['production'])));
    // A rolled-back append gives its position back.
    await write(s, async (tx) => {
      await repos.feed.append(tx, entry(['staging']));
      throw new Error('rolled back');
    }).catch(() => undefined);
    const second = await write(s, (tx) => repos.feed.append(tx, entry(['staging', 'production'])));
    expect([first, second]).toEqual([head + 1, head + 2]);
    expect((await read(s, (tx) => repos.feed.after(tx, head, 10))).map((e) => e.seq)).toEqual([head + 1, head + 2]);
    expect(await read(s, (tx) => repos.feed.head(tx))).toBe(head + 2);
    const versions = Object.fromEntries((await read(s, (tx) => repos.environments.list(tx))).map((e) => [e.key, e.version]));
    expect(versions.production).toBe(second);
    expect(versions.staging).toBe(second);
    expect(versions.development).toBeLessThanOrEqual(head);
  });

  it('keeps the newest entries when pruning, whatever their age', async () => {
    const s = await setup();
    const { repos } = s.db;
    for (let i = 0; i < 5; i++) await write(s, (tx) => repos.feed.append(tx, { at: 10, writes: [], sdk: {}, revoked: [], deliveries: false }));
    const head = await read(s, (tx) => repos.feed.head(tx));
    const pruned = await write(s, (tx) => repos.feed.prune(tx, Number.MAX_SAFE_INTEGER, 2));
    expect(pruned).toBeGreaterThan(0);
    expect(await read(s, (tx) => repos.feed.oldest(tx))).toBe(head - 1);
    expect(await read(s, (tx) => repos.feed.head(tx))).toBe(head);
  });

  it('maintenance prunes old feed entries (keeping the newest) and expired sessions', async () => {
    const s = await setup();
    const { repos } = s.db;
    const clock = { t: Date.UTC(2030, 0, 1) };
    const writes = new Writes(s.db, () => clock.t);
    for (let i = 0; i < 4; i++) await write(s, (tx) => repos.feed.append(tx, { at: 1000 + i, writes: [], sdk: {}, revoked: [], deliveries: false }));
    await write(s, (tx) => repos.sessions.insert(tx, { sessionHash: 'old', tokenId: 1, createdAt: 0, expiresAt: 5 }));
    await new Maintenance(writes, SILENT, { ms: 10_000, keep: 1 }).run();
    const head = await read(s, (tx) => repos.feed.head(tx));
    expect(await read(s, (tx) => repos.feed.oldest(tx))).toBe(head);
    expect((await dumpTables(s.db, ['sessions'])).sessions).toEqual([]);
  });

  it('adds metric counts in place, histogram buckets included', async () => {
    const s = await setup();
    const { repos } = s.db;
    const counts = [{ flagKey: 'f', variation: 'on', metric: 'latency', count: 2, sum: 30, histogram: { '4': 1, '5': 1 } }];
    const web = { keyId: 1, keyName: 'web' };
    for (let i = 0; i < 3; i++) await write(s, (tx) => repos.metrics.add(tx, 'production', 60_000, counts, web));
    await write(s, (tx) => repos.metrics.add(tx, 'production', 70_000, [{ flagKey: 'f', variation: 'on', metric: 'latency', count: 1, sum: 5, histogram: { '4': 1 } }], web));
    const totals = await read(s, (tx) => repos.metrics.totals(tx, 'production', 'f', 0));
    expect(totals).toEqual([{ variation: 'on', metric: 'latency', count: 7, sum: 95, histogram: { '4': 4, '5': 3 } }]);
    expect(await read(s, (tx) => repos.metrics.totals(tx, 'production', 'f', 65_000))).toEqual([{ variation: 'on', metric: 'latency', count: 1, sum: 5, histogram: { '4': 1 } }]);
  });

  it('keeps metric counts per SDK key, and counts uploads per key and window', async () => {
    const s = await setup();
    const { repos } = s.db;
    const exposure = (variation: string, count: number) => ({ flagKey: 'f', variation, metric: '$exposure', count, sum: 0 });
    await write(s, (tx) => repos.metrics.add(tx, 'production', 60_000, [exposure('on', 5), exposure('off', 7)], { keyId: 1, keyName: 'web' }));
    await write(s, (tx) => repos.metrics.add(tx, 'production', 70_000, [exposure('on', 2)], { keyId: 1, keyName: 'web (renamed)' }));
    await write(s, (tx) => repos.metrics.add(tx, 'production', 70_000, [exposure('on', 100), { ...exposure('on', 3), metric: 'error' }], { keyId: 2, keyName: 'api' }));
    const bySource = await read(s, (tx) => repos.metrics.sourceTotals(tx, 'production', 'f', 0, ['$exposure']));
    const sorted = [...bySource].sort((a, b) => a.keyId - b.keyId || a.variation.localeCompare(b.variation));
    expect(sorted.map(({ keyId, variation, count }) => ({ keyId, variation, count }))).toEqual([
      { keyId: 1, variation: 'off', count: 7 },
      { keyId: 1, variation: 'on', count: 7 },
      { keyId: 2, variation: 'on', count: 100 },
    ]);
    expect(sorted.map((r) => r.keyName)).toEqual(['web', 'web (renamed)', 'api']);
    expect(await read(s, (tx) => repos.metrics.sourceTotals(tx, 'production', 'f', 65_000, ['error']))).toEqual([{ keyId: 2, keyName: 'api', variation: 'on', metric: 'error', count: 3 }]);
    expect((await read(s, (tx) => repos.metrics.totals(tx, 'production', 'f', 0))).find((t) => t.variation === 'on' && t.metric === '$exposure')?.count).toBe(107);

    const uploads = [];
    for (let i = 0; i < 3; i++) uploads.push(await write(s, (tx) => repos.metrics.countUpload(tx, 1, 60_000)));
    uploads.push(await write(s, (tx) => repos.metrics.countUpload(tx, 2, 60_000)), await write(s, (tx) => repos.metrics.countUpload(tx, 1, 120_000)));
    expect(uploads).toEqual([1, 2, 3, 1, 1]);
    await write(s, (tx) => repos.metrics.pruneUploads(tx, 120_000));
    expect(await write(s, (tx) => repos.metrics.countUpload(tx, 1, 60_000))).toBe(1);
    await write(s, (tx) => repos.metrics.prune(tx, 65_000));
    expect(await read(s, (tx) => repos.metrics.sourceTotals(tx, 'production', 'f', 0, ['$exposure']))).toHaveLength(2);
  });

  it('queues a webhook delivery only for subscribers, and a claim hides it from the next claimer until it expires', async () => {
    const s = await setup();
    const { repos } = s.db;
    await write(s, (tx) => repos.webhooks.insert(tx, { url: 'https://a.example', secret: 's1', events: ['release.started'], createdAt: 1, createdBy: 'x' }));
    await write(s, (tx) => repos.webhooks.insert(tx, { url: 'https://b.example', secret: 's2', events: ['*'], createdAt: 1, createdBy: 'x' }));
    await write(s, (tx) => repos.webhooks.insert(tx, { url: 'https://c.example', secret: 's3', events: ['release.paused'], createdAt: 1, createdBy: 'x' }));
    expect(await write(s, (tx) => repos.webhooks.enqueue(tx, { event: 'release.started', payload: '{}' }, 100))).toBe(2);
    const claimed = await write(s, (tx) => repos.webhooks.claim(tx, 100, 1000, 10));
    expect(claimed.map((d) => d.url).sort()).toEqual(['https://a.example', 'https://b.example']);
    expect(await write(s, (tx) => repos.webhooks.claim(tx, 500, 1500, 10))).toEqual([]);
    expect((await write(s, (tx) => repos.webhooks.claim(tx, 1001, 2000, 10))).length).toBe(2);
    await write(s, (tx) => repos.webhooks.complete(tx, claimed[0]!.id, { status: 'delivered', attempts: 1, lastStatusCode: 200, lastError: null, nextAttemptAt: null, deliveredAt: 1002 }));
    expect((await write(s, (tx) => repos.webhooks.claim(tx, 3000, 4000, 10))).map((d) => d.id)).toEqual([claimed[1]!.id]);
  });

  it('marks what a Git source manages, and moves or clears the mark', async () => {
    const s = await setup();
    const { repos } = s.db;
    for (const key of ['a', 'b', 'c']) await write(s, (tx) => repos.flags.insert(tx, flag(key, ['production'])));
    await write(s, (tx) => repos.flags.setManaged(tx, 'flags.yaml', ['a', 'b']));
    const managed = async () => Object.fromEntries((await read(s, (tx) => repos.flags.list(tx))).map((f) => [f.value.key, f.managedBy]));
    expect(await managed()).toEqual({ a: 'flags.yaml', b: 'flags.yaml', c: null });
    await write(s, (tx) => repos.flags.setManaged(tx, 'flags.yaml', ['b', 'c']));
    expect(await managed()).toEqual({ a: null, b: 'flags.yaml', c: 'flags.yaml' });
    await write(s, (tx) => repos.flags.setManaged(tx, null, []));
    expect(await managed()).toEqual({ a: null, b: null, c: null });
  });

  it('keeps shared state documents', async () => {
    const s = await setup();
    const { repos } = s.db;
    expect(await read(s, (tx) => repos.state.get(tx, 'k'))).toBeUndefined();
    await write(s, (tx) => repos.state.put(tx, 'k', { a: [1, 2] }, 5));
    await write(s, (tx) => repos.state.put(tx, 'k', { a: [3] }, 6));
    expect(await read(s, (tx) => repos.state.get(tx, 'k'))).toEqual({ value: { a: [3] }, updatedAt: 6 });
  });

  it('resolves a session only while it lives and its token is not revoked', async () => {
    const s = await setup();
    const { sessionId, token } = await s.credentials.signIn(ADMIN);
    const live = await s.credentials.session(sessionId);
    expect(live).toMatchObject({ tokenId: token.id, name: 'admin', role: 'admin' });
    // Twelve hours from sign-in, absolute.
    expect(live!.endsInMs).toBeGreaterThan(SESSION_TTL_MS - 60_000);
    expect(live!.endsInMs).toBeLessThanOrEqual(SESSION_TTL_MS);
    await s.credentials.revokeToken(token.id, ctx);
    expect(await s.credentials.session(sessionId)).toBeUndefined();
  });

  it('the one write path: a change, its audit entry and its feed entry commit together', async () => {
    const s = await setup();
    const before = await read(s, (tx) => s.db.repos.feed.head(tx));
    const created = await s.flags.create({ key: 'path', type: 'boolean' }, ctx);
    const [entry] = await read(s, (tx) => s.db.repos.feed.after(tx, before, 10));
    const [audit] = await s.writes.read((tx) => s.db.repos.audit.list(tx, { limit: 1 }));
    expect(audit).toMatchObject({ action: 'flag.created', resourceKey: 'path', actor: 'tester' });
    expect(entry!.writes).toEqual([expect.objectContaining({ auditId: audit!.id, resourceKey: 'path', version: created.value.version })]);
    expect(Object.keys(entry!.sdk).sort()).toEqual(['development', 'production', 'staging']);
  });

  it('reads the newest audit entries of many resources at once: per key, since a time, newest first', async () => {
    const s = await setup();
    const entry = (resourceKey: string, at: number, resourceType: 'flag' | 'segment' = 'flag') => ({ at, actor: 'a', action: 'x', resourceType, resourceKey, environment: null, before: null, after: { at }, source: 'api' as const, message: null, commit: null });
    await write(s, (tx) =>
      s.db.repos.audit.append(tx, [entry('a', 10), entry('b', 20), entry('a', 30), entry('a', 40), entry('c', 50), entry('a', 60), entry('b', 70, 'segment'), entry('b', 80)]),
    );
    const found = await read(s, (tx) => s.db.repos.audit.recentByResource(tx, 'flag', ['a', 'b', 'missing'], 20, 2));
    expect([...found.keys()].sort()).toEqual(['a', 'b']);
    expect(found.get('a')!.map((e) => e.at)).toEqual([60, 40]);
    expect(found.get('b')!.map((e) => [e.at, e.resourceType, e.after])).toEqual([
      [80, 'flag', { at: 80 }],
      [20, 'flag', { at: 20 }],
    ]);
    expect(await read(s, (tx) => s.db.repos.audit.recentByResource(tx, 'flag', [], 0, 5))).toEqual(new Map());
    // More keys than one statement takes: every key is still read.
    const many = Array.from({ length: 2500 }, (_, i) => `k${i}`);
    await write(s, (tx) => s.db.repos.audit.append(tx, [entry('k0', 1), entry('k2499', 2)]));
    expect([...(await read(s, (tx) => s.db.repos.audit.recentByResource(tx, 'flag', many, 0, 1))).keys()].sort()).toEqual(['k0', 'k2499']);
  });
});
