import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditContext } from '../../domain/audit.js';
import { deriveStage } from '../../domain/stages.js';
import { openPostgres } from '../../store/postgres/database.js';
import type { Database } from '../../store/ports.js';
import { openSqlite } from '../../store/sqlite/database.js';
import { testDialect } from '../../testing/databases.js';
import { createTestSchema } from '../../testing/postgres.js';
import { bootstrap } from '../bootstrap.js';
import { createServices, startServices, stopServices, type Services } from '../index.js';
import type { RunOutcome } from './schedules.service.js';

/**
 * The scheduler on the dialect under test (SWITCHYARD_TEST_DIALECT), with a clock the test moves:
 * nothing sleeps until a schedule is due. On PostgreSQL each replica is a Database of its own (its
 * own pool) on one schema, as separate server processes are.
 */

const ADMIN = 'scheduler-test-admin-token-0123456789abcdef';
const T0 = Date.UTC(2026, 11, 7, 12, 0);
const HOUR = 60 * 60_000;
const alice: AuditContext = { actor: 'alice', source: 'api' };
const bob: AuditContext = { actor: 'bob', source: 'api' };
const iso = (ms: number) => new Date(ms).toISOString();

interface Clock {
  now: () => number;
  set(ms: number): void;
}

function clock(start = T0): Clock {
  let t = start;
  return { now: () => t, set: (ms) => (t = ms) };
}

/** A database that can be opened again (a restart), and more than once at a time (replicas). */
interface Storage {
  open(): Promise<Database>;
  drop(): Promise<void>;
}

async function storage(): Promise<Storage> {
  if (testDialect() === 'postgres') {
    const schema = await createTestSchema('scheduler');
    return { open: () => openPostgres(schema.url, { max: 4, leaderPollMs: 100 }), drop: () => schema.drop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-scheduler-'));
  const file = join(dir, 'switchyard.db');
  let open: ReturnType<typeof openSqlite> | undefined;
  return {
    // One process owns a SQLite file: "another replica" of it is the same database.
    open: async () => (open ??= openSqlite(file)),
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

describe('scheduled changes run by the scheduler', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function setup(): Promise<{ store: Storage; clock: Clock; replica: (options?: { background?: boolean }) => Promise<Services> }> {
    const store = await storage();
    const c = clock();
    const databases = new Set<Database>();
    cleanups.push(async () => {
      for (const db of databases) await db.close();
      await store.drop();
    });
    let bootstrapped = false;
    const replica = async (options: { background?: boolean } = {}) => {
      const db = await store.open();
      databases.add(db);
      const services = createServices(db, { now: c.now, background: options.background ?? false, scheduleTickMs: 60_000, tickMs: 60_000 });
      if (options.background) await startServices(services);
      else await services.feed.start();
      cleanups.unshift(() => (options.background ? stopServices(services) : services.feed.stop()));
      if (!bootstrapped) {
        await bootstrap(services.writes, services.environments, ADMIN);
        bootstrapped = true;
      }
      return services;
    };
    return { store, clock: c, replica };
  }

  const stageOf = async (s: Services, key: string, env = 'production') => deriveStage((await s.flags.get(key)).value.environments[env]!);
  const flagAudit = async (s: Services, key: string) => (await s.writes.read((tx) => s.writes.repos.audit.list(tx, { resourceType: 'flag', resourceKey: key, limit: 100 }))).reverse();
  const scheduleAudit = async (s: Services, id: number) =>
    (await s.writes.read((tx) => s.writes.repos.audit.list(tx, { resourceType: 'schedule', resourceKey: String(id), limit: 100 }))).reverse().map((e) => e.action);
  const kinds = (outcomes: RunOutcome[]) => outcomes.map((o) => o.kind);

  it('runs a schedule once when it comes due, through the stage service, audited as the scheduler', async () => {
    const { clock: c, replica } = await setup();
    const s = await replica();
    await s.flags.create({ key: 'new-checkout', type: 'boolean' }, alice);
    const schedule = await s.schedules.create('new-checkout', 'production', { at: iso(T0 + HOUR), action: { type: 'stage', stage: '50%' }, message: 'launch day' }, alice);
    expect(schedule).toMatchObject({ status: 'pending', at: T0 + HOUR, createdBy: 'alice', baseVersion: 1 });

    c.set(T0 + HOUR - 1);
    expect(await s.scheduler.tick()).toEqual([]);
    expect(await stageOf(s, 'new-checkout')).toBe('off');

    c.set(T0 + HOUR + 1500);
    expect(kinds(await s.scheduler.tick())).toEqual(['executed']);
    expect(await stageOf(s, 'new-checkout')).toBe('50%');
    // Due again? No: it ran.
    expect(await s.scheduler.tick()).toEqual([]);

    const ran = await s.schedules.get(schedule.id);
    expect(ran).toMatchObject({ status: 'executed', executedAt: T0 + HOUR + 1500, lateByMs: null, resultVersion: 2 });
    const entries = await flagAudit(s, 'new-checkout');
    expect(entries.map((e) => e.action)).toEqual(['flag.created', 'flag.stage_changed']);
    const change = entries[1]!;
    expect(change).toMatchObject({ actor: 'scheduler', source: 'scheduler', environment: 'production' });
    expect(change.message).toBe(`scheduled by alice (schedule ${schedule.id}): launch day`);
    expect(ran.auditId).toBe(change.id);
    expect(await scheduleAudit(s, schedule.id)).toEqual(['schedule.created', 'schedule.executed']);
    expect((await s.flags.get('new-checkout')).value.updatedBy).toBe('scheduler');
  });

  it('two schedulers looking at once over one database run each schedule exactly once', async () => {
    const { clock: c, replica } = await setup();
    const a = await replica();
    const b = await replica();
    await a.flags.create({ key: 'raced', type: 'boolean' }, alice);
    const stages = ['10%', '20%', '30%', '40%', '50%', '60%'];
    const ids: number[] = [];
    for (const [i, stage] of stages.entries()) {
      ids.push((await a.schedules.create('raced', 'production', { at: iso(T0 + HOUR + i), action: { type: 'stage', stage }, ifChanged: 'apply' }, alice)).id);
    }
    c.set(T0 + 2 * HOUR);
    const [fromA, fromB] = await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
    const executed = [...fromA!, ...fromB!].filter((o) => o.kind === 'executed');
    expect(executed).toHaveLength(stages.length);
    expect(new Set(executed.map((o) => (o.kind === 'executed' ? o.schedule.id : 0)))).toEqual(new Set(ids));
    const changes = (await flagAudit(a, 'raced')).filter((e) => e.action === 'flag.stage_changed');
    expect(changes).toHaveLength(stages.length);
    for (const id of ids) expect(await scheduleAudit(a, id)).toEqual(['schedule.created', 'schedule.executed']);
    expect((await a.flags.get('raced')).value.version).toBe(1 + stages.length);
  });

  it('survives a restart: a pending schedule runs after start; a late one is reported, and run or skipped by its policy', async () => {
    const { clock: c, replica } = await setup();
    const first = await replica({ background: true });
    await first.flags.create({ key: 'restarted', type: 'boolean' }, alice);
    await first.flags.create({ key: 'skipped', type: 'boolean' }, alice);
    await first.flags.create({ key: 'on-time', type: 'boolean' }, alice);
    const late = await first.schedules.create('restarted', 'production', { at: iso(T0 + HOUR), action: { type: 'stage', stage: '100%' } }, alice);
    const skip = await first.schedules.create('skipped', 'production', { at: iso(T0 + HOUR), action: { type: 'kill' }, onLate: 'skip' }, alice);
    const soon = await first.schedules.create('on-time', 'production', { at: iso(T0 + 3 * HOUR), action: { type: 'stage', stage: 'dogfood' }, onLate: 'skip' }, alice);
    // Down before they are due…
    await stopServices(first);

    // …and back three hours later: the new leader's first look runs what came due meanwhile.
    c.set(T0 + 3 * HOUR + 10_000);
    const second = await replica({ background: true });
    await expect.poll(async () => (await second.schedules.list({ statuses: ['pending'] })).length, { timeout: 10_000 }).toBe(0);

    const ranLate = await second.schedules.get(late.id);
    expect(ranLate).toMatchObject({ status: 'executed', lateByMs: 2 * HOUR + 10_000 });
    expect(ranLate.outcome).toContain('ran 2 h late');
    expect(await stageOf(second, 'restarted')).toBe('100%');
    const lateEntry = (await flagAudit(second, 'restarted')).at(-1)!;
    expect(lateEntry).toMatchObject({ actor: 'scheduler', action: 'flag.stage_changed' });
    expect(lateEntry.message).toContain('ran 2 h late');

    const skipped = await second.schedules.get(skip.id);
    expect(skipped).toMatchObject({ status: 'skipped', lateByMs: 2 * HOUR + 10_000 });
    expect(skipped.outcome).toMatch(/found 2 h late.*"skip"/);
    expect(await stageOf(second, 'skipped')).toBe('off');
    expect(await scheduleAudit(second, skip.id)).toEqual(['schedule.created', 'schedule.skipped']);

    // Ten seconds past its time is within the grace period: on time, whatever its late policy.
    expect(await second.schedules.get(soon.id)).toMatchObject({ status: 'executed', lateByMs: null });
    expect(await stageOf(second, 'on-time')).toBe('dogfood');
  });

  it('fails with the reason recorded when the fields it would change were edited since, unless ifChanged is "apply"', async () => {
    const { clock: c, replica } = await setup();
    const s = await replica();
    await s.flags.create({ key: 'contested', type: 'boolean' }, alice);
    await s.flags.create({ key: 'forced', type: 'boolean' }, alice);
    await s.flags.create({ key: 'elsewhere', type: 'boolean' }, alice);
    const strict = await s.schedules.create('contested', 'production', { at: iso(T0 + HOUR), action: { type: 'stage', stage: '50%' } }, alice);
    const forced = await s.schedules.create('forced', 'production', { at: iso(T0 + HOUR), action: { type: 'stage', stage: '50%' }, ifChanged: 'apply' }, alice);
    const unrelated = await s.schedules.create('elsewhere', 'production', { at: iso(T0 + HOUR), action: { type: 'stage', stage: '50%' } }, alice);
    // Bob moves two of them by hand meanwhile; the third changes only where the schedule does not look.
    await s.flags.setStage('contested', 'production', '10%', undefined, undefined, bob);
    await s.flags.setStage('forced', 'production', '10%', undefined, undefined, bob);
    await s.flags.setStage('elsewhere', 'staging', '10%', undefined, undefined, bob);
    await s.flags.updateMeta('elsewhere', undefined, { name: 'Renamed' }, bob);

    c.set(T0 + HOUR);
    const outcomes = await s.scheduler.tick();
    expect(Object.fromEntries(outcomes.map((o) => [o.kind === 'gone' ? o.id : o.schedule.id, o.kind]))).toEqual({ [strict.id]: 'failed', [forced.id]: 'executed', [unrelated.id]: 'executed' });

    const failed = await s.schedules.get(strict.id);
    expect(failed.status).toBe('failed');
    expect(failed.outcome).toContain('changed in production since this was scheduled at version 1 (last by bob');
    expect(failed.outcome).toContain('now 10%');
    expect(await stageOf(s, 'contested')).toBe('10%');
    expect((await flagAudit(s, 'contested')).map((e) => e.actor)).toEqual(['alice', 'bob']);
    expect(await scheduleAudit(s, strict.id)).toEqual(['schedule.created', 'schedule.failed']);

    expect(await stageOf(s, 'forced')).toBe('50%');
    expect((await s.schedules.get(forced.id)).outcome).toContain('applied over changes since version 1');
    expect(await stageOf(s, 'elsewhere')).toBe('50%');
    expect(await stageOf(s, 'elsewhere', 'staging')).toBe('10%');
  });

  it('runs a ramp scheduled step by step: its own earlier steps are not conflicts for the later ones', async () => {
    const { clock: c, replica } = await setup();
    const s = await replica();
    await s.flags.create({ key: 'ramp', type: 'boolean' }, alice);
    const steps = ['10%', '50%', '100%'];
    for (const [i, stage] of steps.entries()) await s.schedules.create('ramp', 'production', { at: iso(T0 + (i + 1) * HOUR), action: { type: 'stage', stage } }, alice);
    const kill = await s.schedules.create('ramp', 'production', { at: iso(T0 + 4 * HOUR), action: { type: 'kill' } }, alice);
    for (const [i, stage] of steps.entries()) {
      c.set(T0 + (i + 1) * HOUR);
      expect(kinds(await s.scheduler.tick())).toEqual(['executed']);
      expect(await stageOf(s, 'ramp')).toBe(stage);
    }
    // Bob moves it by hand before the kill: a kill touches only on/killed, so that is no conflict for it.
    await s.flags.setStage('ramp', 'production', '50%', undefined, undefined, bob);
    c.set(T0 + 4 * HOUR);
    expect(kinds(await s.scheduler.tick())).toEqual(['executed']);
    expect((await s.schedules.get(kill.id)).status).toBe('executed');
    expect(await stageOf(s, 'ramp')).toBe('kill');
  });

  it('does nothing for a schedule cancelled, or edited, before it runs', async () => {
    const { clock: c, replica } = await setup();
    const s = await replica();
    await s.flags.create({ key: 'changed-mind', type: 'boolean' }, alice);
    const cancelled = await s.schedules.create('changed-mind', 'production', { at: iso(T0 + HOUR), action: { type: 'kill' } }, alice);
    const edited = await s.schedules.create('changed-mind', 'production', { at: iso(T0 + HOUR), action: { type: 'stage', stage: '10%' } }, alice);
    await s.schedules.cancel(cancelled.id, undefined, bob);

    c.set(T0 + HOUR);
    // The scheduler read the due list, then the schedule was edited before its claim: the stale run claims nothing.
    const [due] = await s.schedules.due(10);
    expect(due!.id).toBe(edited.id);
    await s.schedules.update(edited.id, { action: { type: 'stage', stage: '25%' } }, undefined, bob);
    expect(await s.schedules.run(due!)).toEqual({ kind: 'gone', id: edited.id });
    expect(await stageOf(s, 'changed-mind')).toBe('off');

    // The next look runs the edited one, and only that.
    expect(kinds(await s.scheduler.tick())).toEqual(['executed']);
    expect(await stageOf(s, 'changed-mind')).toBe('25%');
    expect((await s.schedules.get(cancelled.id)).status).toBe('cancelled');
    expect((await flagAudit(s, 'changed-mind')).filter((e) => e.actor === 'scheduler')).toHaveLength(1);
    expect((await flagAudit(s, 'changed-mind')).at(-1)!.message).toBe(`scheduled by alice, last edited by bob (schedule ${edited.id})`);
  });

  it('fails a stage move of a flag that became managed by Git meanwhile, with the manual change\'s message; a kill still runs', async () => {
    const { clock: c, replica } = await setup();
    const s = await replica();
    await s.flags.create({ key: 'managed', type: 'boolean' }, alice);
    await s.flags.setStage('managed', 'production', '50%', undefined, undefined, alice);
    const move = await s.schedules.create('managed', 'production', { at: iso(T0 + HOUR), action: { type: 'stage', stage: '100%' } }, alice);
    const kill = await s.schedules.create('managed', 'staging', { at: iso(T0 + HOUR), action: { type: 'kill' } }, alice);
    await s.db.transaction((tx) => s.writes.repos.flags.setManaged(tx, 'flags.yaml', ['managed']));
    const manual = await s.flags.setStage('managed', 'production', '100%', undefined, undefined, bob).catch((e: Error) => e.message);

    c.set(T0 + HOUR);
    await s.scheduler.tick();
    expect(await s.schedules.get(move.id)).toMatchObject({ status: 'failed', outcome: `failed: ${manual}` });
    expect(await stageOf(s, 'managed')).toBe('50%');
    expect(await s.schedules.get(kill.id)).toMatchObject({ status: 'executed' });
    expect(await stageOf(s, 'managed', 'staging')).toBe('kill');
  });
});
