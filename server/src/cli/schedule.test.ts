import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess, runScripted } from '../testing/cli.js';
import { createFlag, createTestApp, type FlagBody, type TestContext } from '../testing/test-app.js';

describe('switchyard schedule: usage errors exit 2 before any request', () => {
  const cases = [
    { name: 'no --at', argv: ['schedule', 'add', 'f', 'production', '--stage', '50%'], err: 'missing --at' },
    { name: 'no zone', argv: ['schedule', 'add', 'f', 'production', '--at', '2026-12-08T09:00', '--stage', '50%'], err: 'invalid --at: "2026-12-08T09:00" is not an ISO-8601 time with a zone' },
    { name: 'no action', argv: ['schedule', 'add', 'f', 'production', '--at', '2026-12-08T09:00Z'], err: 'missing --stage or --kill' },
    { name: 'both actions', argv: ['schedule', 'add', 'f', 'production', '--at', '2026-12-08T09:00Z', '--stage', '50%', '--kill'], err: 'give --stage or --kill, not both' },
    { name: 'percentage without %', argv: ['schedule', 'add', 'f', 'production', '--at', '2026-12-08T09:00Z', '--stage', '50'], err: 'Did you mean "50%"?' },
    { name: 'bad late policy', argv: ['schedule', 'add', 'f', 'production', '--at', '2026-12-08T09:00Z', '--kill', '--on-late', 'later'], err: '--on-late must be run or skip' },
    { name: 'bad status', argv: ['schedule', 'list', '--status', 'done'], err: '--status must be pending, executed, skipped, failed or cancelled, got "done"' },
    { name: 'bad id', argv: ['schedule', 'cancel', 'x'], err: 'ID must be a whole number' },
    { name: 'empty edit', argv: ['schedule', 'edit', '3'], err: 'nothing to change' },
    { name: 'request without --at', argv: ['schedule', 'request', '12'], err: 'missing --at' },
    { name: 'request with a bad id', argv: ['schedule', 'request', 'x', '--at', '2026-12-08T09:00Z'], err: 'ID must be a whole number' },
    { name: 'request with --if-changed', argv: ['schedule', 'request', '12', '--at', '2026-12-08T09:00Z', '--if-changed', 'apply'], err: 'if-changed' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const result = await runScripted(c.argv);
      expect(result.err).toContain(c.err);
      expect(result.code).toBe(2);
      expect(result.calls).toEqual([]);
    });
  }

  it('sends what it was asked, and lists upcoming changes by default', async () => {
    const added = await runScripted(['schedule', 'add', 'new-checkout', 'production', '--at', '2026-12-08T10:00+01:00', '--stage', '50%', '--message', 'launch', '--if-changed', 'apply', '--grace', '60'], [
      { status: 201, body: { id: 4, flag: 'new-checkout', environment: 'production', at: '2026-12-08T09:00:00.000Z', action: { type: 'stage', stage: '50%' } } },
    ]);
    expect(added.requests).toEqual(['POST /api/flags/new-checkout/environments/production/schedules']);
    expect(added.calls[0]!.body).toEqual({ at: '2026-12-08T10:00+01:00', action: { type: 'stage', stage: '50%' }, message: 'launch', ifChanged: 'apply', graceSeconds: 60 });
    expect(added.out).toBe('Scheduled new-checkout → 50% in production at 2026-12-08 09:00:00Z (schedule 4)\n');
    const request = await runScripted(['schedule', 'request', '12', '--at', '2026-12-08T09:00Z', '--message', 'launch', '--on-late', 'skip'], [
      { status: 201, body: { id: 5, flag: 'new-checkout', environment: 'production', at: '2026-12-08T09:00:00.000Z', action: { type: 'change_request', requestId: 12 } } },
    ]);
    expect(request.requests).toEqual(['POST /api/change-requests/12/schedule']);
    expect(request.calls[0]!.body).toEqual({ at: '2026-12-08T09:00Z', message: 'launch', onLate: 'skip' });
    expect(request.out).toBe('Scheduled the apply of change request #12 in production at 2026-12-08 09:00:00Z (schedule 5)\n');
    const listed = await runScripted(['schedule', 'list', '--flag', 'new-checkout'], [{ status: 200, body: { items: [] } }]);
    expect(listed.requests).toEqual(['GET /api/schedules?flag=new-checkout&status=pending']);
    const all = await runScripted(['schedule', 'list', '--all', '--env', 'production'], [{ status: 200, body: { items: [] } }]);
    expect(all.requests).toEqual(['GET /api/schedules?environment=production']);
  });
});

describe('switchyard schedule against a server', () => {
  let t: TestContext;
  let url: string;
  let now = Date.UTC(2026, 11, 7, 12, 0);
  beforeAll(async () => {
    t = await createTestApp({ now: () => now, background: false });
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    await createFlag(t, 'new-checkout');
  });
  afterAll(() => t.close());

  const cli = (...argv: string[]) => runCliInProcess(argv, { env: { SWITCHYARD_URL: url, SWITCHYARD_TOKEN: t.tokens.editor } });

  it('adds, lists, cancels; the scheduler runs what is left when it is due', async () => {
    const move = await cli('schedule', 'add', 'new-checkout', 'production', '--at', '2026-12-08T09:00Z', '--stage', '50%', '--message', 'launch');
    expect(move.err).toContain('Cancel it with: switchyard schedule cancel');
    expect(move.code).toBe(0);
    expect(move.out).toMatch(/^Scheduled new-checkout → 50% in production at 2026-12-08 09:00:00Z \(schedule (\d+)\)\n$/);
    const kill = await cli('schedule', 'add', 'new-checkout', 'staging', '--at', '2026-12-08T10:00+01:00', '--kill', '--json');
    expect(kill.code).toBe(0);
    const killId = JSON.parse(kill.out).id as number;

    const listed = await cli('schedule', 'list', '--flag', 'new-checkout');
    expect(listed.out.split('\n')[0]).toMatch(/^ID\s+FLAG\s+ENV\s+ACTION\s+AT \(UTC\)\s+STATUS\s+BY\s+NOTE/);
    expect(listed.out).toMatch(/new-checkout\s+staging\s+kill\s+2026-12-08 09:00:00Z\s+pending\s+editor/);
    expect(listed.out).toMatch(/new-checkout\s+production\s+→ 50%\s+2026-12-08 09:00:00Z\s+pending\s+editor\s+launch/);

    const cancelled = await cli('schedule', 'cancel', String(killId));
    expect(cancelled.out).toBe(`Cancelled schedule ${killId} (new-checkout kill in staging at 2026-12-08 09:00:00Z)\n`);
    const again = await cli('schedule', 'cancel', String(killId));
    expect(again.code).toBe(1);
    expect(again.err).toContain(`schedule ${killId} is cancelled: only a pending schedule can be cancelled`);

    const past = await cli('schedule', 'add', 'new-checkout', 'production', '--at', '2026-12-01T09:00Z', '--kill');
    expect(past.code).toBe(1);
    expect(past.err).toContain('is in the past');

    now = Date.UTC(2026, 11, 8, 9, 0, 1);
    await t.services.scheduler.tick();
    const flag = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/new-checkout' })).json<FlagBody>();
    expect(flag.environments.production!.stage).toBe('50%');
    expect(flag.environments.staging!.stage).toBe('off');
    const upcoming = await cli('schedule', 'list');
    expect(upcoming.out).toBe('No upcoming scheduled changes. Add one with: switchyard schedule add KEY ENV --at TIME --stage 50%\n');
    const history = await cli('schedule', 'list', '--all');
    expect(history.out).toMatch(/production\s+→ 50%\s+2026-12-08 09:00:00Z\s+executed\s+editor\s+move to 50%: flag version/);
    expect(history.out).toMatch(/staging\s+kill\s+2026-12-08 09:00:00Z\s+cancelled/);
  });
});
