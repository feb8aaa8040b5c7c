import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, setStage, type ErrorBody, type FlagBody, type TestContext } from '../testing/test-app.js';

/**
 * The audit log people read: each entry's readable sentence, filters by flag, person, environment
 * and date range (bad values are 400s naming the parameter), and a comment on any write through
 * `X-Switchyard-Message`. (Runs on SQLite and PostgreSQL.)
 */

const DAY = 86_400_000;
const START = Date.UTC(2026, 11, 1, 9); // 2026-12-01T09:00:00Z
const clock = { t: START };

let t: TestContext;
beforeEach(async () => {
  clock.t = START;
  t = await createTestApp({ now: () => clock.t });
});
afterEach(async () => {
  await t.close();
});

interface Entry {
  id: number;
  at: string;
  actor: string;
  action: string;
  resourceKey: string;
  environment: string | null;
  message: string | null;
  summary: string;
}

const list = async (query: string, token = t.tokens.viewer) => {
  const res = await t.request(token, { method: 'GET', url: `/api/audit${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ items: Entry[] }>().items;
};
const refusal = async (query: string) => {
  const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/audit${query}` });
  expect(res.statusCode, res.body).toBe(400);
  return res.json<ErrorBody>().error;
};
const version = async (key: string) => (await t.request(t.adminToken, { method: 'GET', url: `/api/flags/${key}` })).json<FlagBody>().version;

describe('readable sentences', () => {
  it('every list, the flag history and the revert preview carry the sentence, with environment display names', async () => {
    await createFlag(t, 'checkout');
    await setStage(t, 'checkout', 'production', '10%');
    await setStage(t, 'checkout', 'production', '100%', { message: 'ramp after a clean day' });
    await t.request(t.adminToken, { method: 'PATCH', url: '/api/environments/production', payload: { name: 'Prod (EU)' } });

    const [latest, ramp] = await list('?resourceType=flag&resourceKey=checkout');
    expect(latest).toMatchObject({ summary: '10% → 100% in Prod (EU)', actor: 'admin', message: 'ramp after a clean day' });
    expect(ramp!.summary).toBe('off → 10% in Prod (EU)');
    expect((await list('?resourceType=environment'))[0]!.summary).toBe('renamed environment production "Production" → "Prod (EU)"');
    const history = (await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/checkout/audit' })).json<{ items: Entry[] }>().items;
    expect(history.map((e) => e.summary)).toEqual(['10% → 100% in Prod (EU)', 'off → 10% in Prod (EU)', 'created flag (boolean)']);
    const preview = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/audit/${latest!.id}/revert` });
    expect(preview.json<{ entry: Entry }>().entry.summary).toBe('10% → 100% in Prod (EU)');
  });
});

describe('filters', () => {
  /** Three days of changes by three people in two environments. */
  async function history() {
    await createFlag(t, 'checkout');
    await createFlag(t, 'search');
    await setStage(t, 'checkout', 'staging', 'dogfood'); // admin, 2026-12-01 09:00
    clock.t += DAY;
    await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/stage', payload: { stage: '10%', version: await version('checkout') } }); // editor, 12-02
    await t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/search/environments/staging/stage', payload: { stage: 'dogfood', version: await version('search') } }); // editor, 12-02
    clock.t += DAY;
    await setStage(t, 'checkout', 'production', '50%'); // admin, 12-03
  }
  const actions = (items: Entry[]) => items.map((e) => `${e.resourceKey}:${e.environment ?? '-'}:${e.actor}`);

  it('by flag, person, environment and date range, alone and together', async () => {
    await history();
    expect(actions(await list('?actor=editor&resourceType=flag'))).toEqual(['search:staging:editor', 'checkout:production:editor']);
    expect(actions(await list('?resourceType=flag&environment=production'))).toEqual(['checkout:production:admin', 'checkout:production:editor']);
    expect(actions(await list('?resourceType=flag&resourceKey=checkout&environment=staging'))).toEqual(['checkout:staging:admin']);
    // A day means the whole day (UTC); a time is exact: since inclusive, until exclusive.
    expect(actions(await list('?since=2026-12-02&until=2026-12-02'))).toEqual(['search:staging:editor', 'checkout:production:editor']);
    expect(actions(await list('?since=2026-12-03'))).toEqual(['checkout:production:admin']);
    expect(actions(await list(`?resourceType=flag&until=${encodeURIComponent('2026-12-01T09:00:00.001Z')}`))).toEqual(['checkout:staging:admin', 'search:-:admin', 'checkout:-:admin']);
    expect(actions(await list(`?since=${encodeURIComponent('2026-12-02T10:00:00+01:00')}&until=${encodeURIComponent('2026-12-02T09:00:00.001Z')}`))).toEqual(['search:staging:editor', 'checkout:production:editor']);
    expect(await list('?actor=editor&environment=production&since=2026-12-03')).toEqual([]);
    expect(actions(await list('?resourceType=flag&resourceKey=checkout&actor=editor&environment=production&since=2026-12-02&until=2026-12-02'))).toEqual(['checkout:production:editor']);
  });

  it('pages inside a filter', async () => {
    await history();
    const first = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/audit?since=2026-12-02&limit=2' });
    const page = first.json<{ items: Entry[]; nextCursor: number | null }>();
    expect(actions(page.items)).toEqual(['checkout:production:admin', 'search:staging:editor']);
    expect(actions(await list(`?since=2026-12-02&before=${page.nextCursor!}`))).toEqual(['checkout:production:editor']);
  });

  it.each([
    { name: 'not a time', query: '?since=yesterday', path: 'since', message: /expected an ISO 8601 day or time/ },
    { name: 'no such day', query: '?until=2026-02-31', path: 'until', message: /expected an ISO 8601 day or time.*2026-02-31/ },
    { name: 'no such hour', query: '?since=2026-12-01T25:00:00Z', path: 'since', message: /expected an ISO 8601/ },
    { name: 'a time without its zone', query: '?since=2026-12-01T09:00:00', path: 'since', message: /no time zone: add Z or an offset/ },
    { name: 'a range that ends before it starts', query: '?since=2026-12-03&until=2026-12-02', path: 'until', message: /later than since/ },
    { name: 'an empty range', query: `?since=${encodeURIComponent('2026-12-01T09:00:00Z')}&until=${encodeURIComponent('2026-12-01T10:00:00+01:00')}`, path: 'until', message: /later than since/ },
    { name: 'an unknown filter', query: '?person=ana', path: '', message: /person/ },
    { name: 'an overlong person', query: `?actor=${'a'.repeat(201)}`, path: 'actor', message: /200/ },
  ])('400 for $name', async ({ query, path, message }) => {
    const error = await refusal(query);
    expect(error.code).toBe('validation_failed');
    expect(error.message).toMatch(message);
    if (path) expect(error.message).toContain(path);
  });
});

describe('a comment on any write (X-Switchyard-Message)', () => {
  const latest = async () => (await list('?limit=1'))[0]!;

  it('is stored on targeting saves, metadata, segments and tokens; percent-encoded UTF-8', async () => {
    await createFlag(t, 'checkout');
    const comment = 'pro users first → 10% ✓';
    const targeting = await t.request(t.tokens.editor, {
      method: 'PATCH',
      url: '/api/flags/checkout/environments/staging',
      headers: { 'x-switchyard-message': encodeURIComponent(comment), 'x-switchyard-source': 'dashboard' },
      payload: { version: 1, on: true, rules: [{ id: 'pro', description: 'pro users', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } }] },
    });
    expect(targeting.statusCode, targeting.body).toBe(200);
    expect(await latest()).toMatchObject({ message: comment, summary: 'added rule "pro users" in Staging', environment: 'staging' });

    const meta = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/checkout', headers: { 'x-switchyard-message': 'owner%20moved' }, payload: { version: 2, owner: 'payments' } });
    expect(meta.statusCode, meta.body).toBe(200);
    expect(await latest()).toMatchObject({ message: 'owner moved', summary: 'set the owner to "payments"' });

    const segment = (await t.request(t.adminToken, { method: 'GET', url: '/api/segments/internal' })).json<{ version: number }>();
    const members = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/segments/internal', headers: { 'x-switchyard-message': 'new%20hires' }, payload: { version: segment.version, included: ['a', 'b', 'c'] } });
    expect(members.statusCode, members.body).toBe(200);
    expect(await latest()).toMatchObject({ message: 'new hires', summary: 'added 3 members to internal' });

    const token = await t.request(t.adminToken, { method: 'POST', url: '/api/tokens', headers: { 'x-switchyard-message': 'for%20the%20deploy%20job' }, payload: { name: 'ci-bot', role: 'editor' } });
    expect(token.statusCode).toBe(201);
    expect(await latest()).toMatchObject({ message: 'for the deploy job', summary: 'created API token "ci-bot" (editor)' });
  });

  it('a stage change takes it from the body or the header, and refuses two different ones', async () => {
    await createFlag(t, 'checkout');
    const stage = (headers: Record<string, string>, payload: Record<string, unknown>) => t.request(t.tokens.editor, { method: 'POST', url: '/api/flags/checkout/environments/production/stage', headers, payload });
    expect((await stage({ 'x-switchyard-message': 'ramp' }, { stage: '10%', version: 1 })).statusCode).toBe(200);
    expect((await latest()).message).toBe('ramp');
    expect((await stage({ 'x-switchyard-message': 'same' }, { stage: '50%', version: 2, message: 'same' })).statusCode).toBe(200);
    expect((await latest()).message).toBe('same');
    const before = (await latest()).id;
    const both = await stage({ 'x-switchyard-message': 'one' }, { stage: '100%', version: 3, message: 'other' });
    expect(both.statusCode).toBe(400);
    expect(both.json<ErrorBody>().error.message).toMatch(/body\.message: disagrees with the x-switchyard-message header/);
    expect((await latest()).id).toBe(before);
  });

  it.each([
    { name: 'bad percent-encoding', header: '50% of users', message: /headers\.x-switchyard-message: is not percent-encoded UTF-8.*%25/ },
    { name: 'a comment over 4000 characters', header: 'a'.repeat(4001), message: /headers\.x-switchyard-message: is 4001 characters long; a comment may have at most 4000/ },
  ])('400 and nothing written for $name', async ({ header, message }) => {
    await createFlag(t, 'checkout');
    const before = (await latest()).id;
    const res = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/checkout', headers: { 'x-switchyard-message': header }, payload: { version: 1, owner: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.message).toMatch(message);
    expect((await latest()).id).toBe(before);
    expect(await version('checkout')).toBe(1);
  });

  it('a blank header records no comment', async () => {
    await createFlag(t, 'checkout');
    const res = await t.request(t.tokens.editor, { method: 'PATCH', url: '/api/flags/checkout', headers: { 'x-switchyard-message': '%20%20' }, payload: { version: 1, owner: 'x' } });
    expect(res.statusCode).toBe(200);
    expect((await latest()).message).toBeNull();
  });
});
