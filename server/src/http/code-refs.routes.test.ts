import { afterEach, describe, expect, it, vi } from 'vitest';
import { CODE_REF_LIMITS } from '../domain/code-refs.js';
import { DAY_MS } from '../domain/lifecycle.js';
import { createFlag, createTestApp, setStage, type ErrorBody, type TestContext } from '../testing/test-app.js';

/**
 * Code references (`PUT /api/code-refs`, `GET /api/flags/{key}/code-refs`) and the lifecycle they
 * feed (`lifecycle` in flag summaries, `?lifecycle=` on both lists), on a clock the test moves.
 */

const START = Date.UTC(2026, 0, 1);
let clock = START;
let t: TestContext;
let evaluations: { flagKey: string; environment: string; at: number }[] | undefined;

/** `evaluations`: what the lifecycle reads as last evaluations; undefined: the test's flags were all evaluated just now. */
async function open(options: { tracked?: boolean } = {}): Promise<void> {
  clock = START;
  evaluations = options.tracked ? [] : undefined;
  const everyFlagJustNow = () => ['checkout', 'rollout', 'banner', 'quiet'].map((flagKey) => ({ flagKey, environment: 'production', at: clock }));
  t = await createTestApp({ now: () => clock++, lastEvaluated: async () => evaluations ?? everyFlagJustNow() });
}
afterEach(async () => {
  await t.close();
});

interface Reference {
  flag: string;
  path: string;
  line: number;
  snippet: string;
}
const ref = (flag: string, path: string, line: number): Reference => ({ flag, path, line, snippet: `if (client.isEnabled('${flag}', user)) {` });

async function upload(references: Reference[], where: { repository?: string; branch?: string; commit?: string } = {}, token = t.tokens.editor) {
  return t.request(token, { method: 'PUT', url: '/api/code-refs', payload: { repository: 'github.com/acme/shop', branch: 'main', commit: 'a1b2c3d', ...where, references } });
}

interface CodeRefsBody {
  items: { repository: string; branch: string; commit: string; path: string; line: number; snippet: string; uploadedAt: number }[];
  total: number;
  lastReferencedAt: number | null;
  removedAt: number | null;
}

async function refsOf(key: string): Promise<CodeRefsBody> {
  const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flags/${key}/code-refs` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<CodeRefsBody>();
}

async function lifecycleOf(key: string): Promise<string> {
  const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/flag-summaries/${key}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ lifecycle: string }>().lifecycle;
}

async function keysWith(list: 'flags' | 'flag-summaries', lifecycle: string): Promise<string[]> {
  const res = await t.request(t.tokens.viewer, { method: 'GET', url: `/api/${list}?lifecycle=${lifecycle}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ items: { key: string }[] }>().items.map((f) => f.key).sort();
}

function expectInvalid(res: { statusCode: number; json: <T>() => T }, field: string, message?: RegExp): void {
  expect(res.statusCode).toBe(400);
  const { error } = res.json<ErrorBody>();
  expect(error.code).toBe('validation_failed');
  expect(error.message).toContain(field);
  if (message) expect(error.message).toMatch(message);
}

async function launchEverywhere(key: string): Promise<void> {
  for (const env of ['development', 'staging', 'production']) await setStage(t, key, env, '100%');
}

describe('code references', () => {
  it('stores an upload and lists where a flag is used, with the commit and time of the upload', async () => {
    await open();
    await createFlag(t, 'checkout');
    await createFlag(t, 'banner');
    const res = await upload([ref('checkout', 'web/src/app.ts', 12), ref('checkout', 'api/handlers.py', 3), ref('banner', 'go/main.go', 40), ref('gone-flag', 'web/old.ts', 1)]);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ repository: 'github.com/acme/shop', branch: 'main', commit: 'a1b2c3d', references: 4 });
    const uploadedAt = res.json<{ uploadedAt: number }>().uploadedAt;

    const body = await refsOf('checkout');
    expect(body).toEqual({
      items: [
        { repository: 'github.com/acme/shop', branch: 'main', commit: 'a1b2c3d', path: 'api/handlers.py', line: 3, snippet: "if (client.isEnabled('checkout', user)) {", uploadedAt },
        { repository: 'github.com/acme/shop', branch: 'main', commit: 'a1b2c3d', path: 'web/src/app.ts', line: 12, snippet: "if (client.isEnabled('checkout', user)) {", uploadedAt },
      ],
      total: 2,
      lastReferencedAt: uploadedAt,
      removedAt: null,
    });
    // A flag nobody scanned a reference of.
    await createFlag(t, 'quiet');
    expect(await refsOf('quiet')).toEqual({ items: [], total: 0, lastReferencedAt: null, removedAt: null });
  });

  it('replaces per repository and branch, and remembers when the last reference disappeared', async () => {
    await open();
    await createFlag(t, 'checkout');
    const first = (await upload([ref('checkout', 'a.ts', 1)])).json<{ uploadedAt: number }>().uploadedAt;
    // Another branch and another repository also reference it.
    await upload([ref('checkout', 'b.ts', 2)], { branch: 'release-1' });
    await upload([ref('checkout', 'c.ts', 3)], { repository: 'github.com/acme/mobile' });
    expect((await refsOf('checkout')).total).toBe(3);

    // main no longer has it: the others still do.
    await upload([], { commit: 'b2c3d4e' });
    let body = await refsOf('checkout');
    expect(body.items.map((i) => `${i.repository}@${i.branch}:${i.path}`)).toEqual(['github.com/acme/mobile@main:c.ts', 'github.com/acme/shop@release-1:b.ts']);
    expect(body.removedAt).toBeNull();

    await upload([], { branch: 'release-1' });
    clock += DAY_MS;
    const gone = (await upload([], { repository: 'github.com/acme/mobile' })).json<{ uploadedAt: number }>().uploadedAt;
    body = await refsOf('checkout');
    expect(body.items).toEqual([]);
    expect(body.removedAt).toBe(gone);
    expect(body.lastReferencedAt).toBeGreaterThan(first);
    expect(body.lastReferencedAt).toBeLessThan(gone);

    // It comes back: referenced again, no longer removed.
    const back = (await upload([ref('checkout', 'a.ts', 7)])).json<{ uploadedAt: number }>().uploadedAt;
    expect(await refsOf('checkout')).toMatchObject({ total: 1, lastReferencedAt: back, removedAt: null });
  });

  it('takes an upload of the maximum size', async () => {
    await open();
    await createFlag(t, 'checkout');
    const many = Array.from({ length: CODE_REF_LIMITS.references }, (_, i) => ({ ...ref('checkout', `src/file-${i}.ts`, i + 1), snippet: 'x'.repeat(CODE_REF_LIMITS.snippet) }));
    const res = await upload(many);
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    const body = await refsOf('checkout');
    expect(body.total).toBe(CODE_REF_LIMITS.references);
    expect(body.items).toHaveLength(CODE_REF_LIMITS.listed);
  });

  it('editors upload, viewers read; anonymous callers do neither', async () => {
    await open();
    await createFlag(t, 'checkout');
    expect((await upload([ref('checkout', 'a.ts', 1)], {}, t.tokens.viewer)).statusCode).toBe(403);
    expect((await t.request(null, { method: 'PUT', url: '/api/code-refs', payload: { repository: 'r', branch: 'main', commit: 'abc', references: [] } })).statusCode).toBe(401);
    expect((await t.request(null, { method: 'GET', url: '/api/flags/checkout/code-refs' })).statusCode).toBe(401);
    expect((await upload([ref('checkout', 'a.ts', 1)], {}, t.tokens.admin)).statusCode).toBe(200);
  });

  it('refuses bad uploads with a 400 naming the field, and writes nothing', async () => {
    await open();
    await createFlag(t, 'checkout');
    const put = (payload: unknown) => t.request(t.tokens.editor, { method: 'PUT', url: '/api/code-refs', payload: payload as Record<string, unknown> });
    const valid = { repository: 'shop', branch: 'main', commit: 'abc123', references: [ref('checkout', 'a.ts', 1)] };
    expectInvalid(await put({ ...valid, repository: undefined }), 'body.repository');
    expectInvalid(await put({ ...valid, branch: '' }), 'body.branch');
    expectInvalid(await put({ ...valid, branch: 'main\nevil' }), 'body.branch', /one line/);
    expectInvalid(await put({ ...valid, commit: 'abc 123' }), 'body.commit');
    expectInvalid(await put({ ...valid, references: [{ ...ref('checkout', 'a.ts', 0) }] }), 'body.references[0].line');
    expectInvalid(await put({ ...valid, references: [ref('checkout', 'a.ts', 1), { ...ref('checkout', 'a.ts', 2), snippet: 'x'.repeat(CODE_REF_LIMITS.snippet + 1) }] }), 'body.references[1].snippet');
    expectInvalid(await put({ ...valid, references: [{ ...ref('checkout', 'a.ts', 1), extra: true }] }), 'body.references[0]');
    expectInvalid(await put({ ...valid, references: [{ ...ref('', 'a.ts', 1) }] }), 'body.references[0].flag');
    expectInvalid(await put({ ...valid, references: Array.from({ length: CODE_REF_LIMITS.references + 1 }, (_, i) => ref('checkout', 'a.ts', i + 1)) }), 'body.references');
    expect((await refsOf('checkout')).total).toBe(0);

    const huge = await t.request(t.tokens.editor, { method: 'PUT', url: '/api/code-refs', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ ...valid, pad: 'x'.repeat(CODE_REF_LIMITS.bodyBytes) }) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json<ErrorBody>().error.code).toBe('payload_too_large');

    const missing = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flags/nope/code-refs' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<ErrorBody>().error.message).toContain('nope');
  });
});

describe('lifecycle', () => {
  it('new → active → launched → stale → ready to remove, with the filter on both lists', async () => {
    await open();
    await createFlag(t, 'checkout');
    await createFlag(t, 'rollout');
    expect(await lifecycleOf('checkout')).toBe('active');

    await launchEverywhere('checkout');
    await setStage(t, 'rollout', 'production', '50%');
    clock += 6 * DAY_MS;
    expect(await lifecycleOf('checkout')).toBe('active');
    clock += DAY_MS;
    expect(await lifecycleOf('checkout')).toBe('launched');
    expect(await lifecycleOf('rollout')).toBe('active');
    expect(await keysWith('flags', 'launched')).toEqual(['checkout']);
    expect(await keysWith('flag-summaries', 'launched')).toEqual(['checkout']);
    expect(await keysWith('flag-summaries', 'active')).toEqual(['rollout']);

    // A change of what one environment serves starts the count again.
    await setStage(t, 'checkout', 'staging', '50%');
    await setStage(t, 'checkout', 'staging', '100%');
    expect(await lifecycleOf('checkout')).toBe('active');
    clock += 7 * DAY_MS;
    expect(await lifecycleOf('checkout')).toBe('launched');

    // Launched long ago: stale. Code still uses it, then no longer does.
    clock += 23 * DAY_MS;
    expect(await lifecycleOf('checkout')).toBe('stale');
    await upload([ref('checkout', 'web/app.ts', 3)]);
    expect(await keysWith('flags', 'stale')).toEqual(['checkout']);
    await upload([]);
    expect(await lifecycleOf('checkout')).toBe('ready-to-remove');
    expect(await keysWith('flags', 'ready-to-remove')).toEqual(['checkout']);
    expect(await keysWith('flag-summaries', 'ready-to-remove')).toEqual(['checkout']);
    const all = await t.request(t.tokens.viewer, { method: 'GET', url: '/api/flag-summaries' });
    expect(all.json<{ items: { key: string; lifecycle: string }[] }>().items.map((f) => [f.key, f.lifecycle])).toEqual([
      ['checkout', 'ready-to-remove'],
      ['rollout', 'active'],
    ]);
  });

  it('reads the audit log once for the whole list, however many flags are launched', async () => {
    await open();
    const keys = ['banner', 'checkout', 'rollout'];
    for (const key of keys) {
      await createFlag(t, key);
      await launchEverywhere(key);
    }
    clock += 7 * DAY_MS;
    const list = vi.spyOn(t.db.repos.audit, 'list');
    const recent = vi.spyOn(t.db.repos.audit, 'recentByResource');
    try {
      expect(await keysWith('flags', 'launched')).toEqual(keys);
      expect(list).not.toHaveBeenCalled();
      expect(recent).toHaveBeenCalledTimes(1);
      expect(recent.mock.calls[0]![2]).toEqual(keys);
    } finally {
      list.mockRestore();
      recent.mockRestore();
    }
  });

  it('with evaluations tracked, a flag nobody evaluated for 30 days is stale', async () => {
    await open({ tracked: true });
    await createFlag(t, 'checkout');
    await setStage(t, 'checkout', 'production', '50%');
    evaluations!.push({ flagKey: 'checkout', environment: 'production', at: clock });
    expect(await lifecycleOf('checkout')).toBe('active');
    clock += 29 * DAY_MS;
    expect(await lifecycleOf('checkout')).toBe('active');
    clock += DAY_MS;
    expect(await lifecycleOf('checkout')).toBe('stale');
    evaluations!.push({ flagKey: 'checkout', environment: 'staging', at: clock });
    expect(await lifecycleOf('checkout')).toBe('active');
  });

  it('reads last evaluations from the evaluations store by default: new until evaluated, stale after 30 idle days', async () => {
    clock = START;
    t = await createTestApp({ now: () => clock++ });
    await createFlag(t, 'checkout');
    expect(await lifecycleOf('checkout')).toBe('new');
    await t.db.transaction((tx) => t.db.repos.evaluations.add(tx, 'production', START, [{ flagKey: 'checkout', variation: 'on', count: 3 }], clock));
    expect(await lifecycleOf('checkout')).toBe('active');
    clock += 30 * DAY_MS;
    expect(await lifecycleOf('checkout')).toBe('stale');
  });

  it('refuses an unknown lifecycle filter, naming it', async () => {
    await open();
    for (const list of ['flags', 'flag-summaries']) {
      expectInvalid(await t.request(t.tokens.viewer, { method: 'GET', url: `/api/${list}?lifecycle=dead` }), 'lifecycle');
    }
  });
});
