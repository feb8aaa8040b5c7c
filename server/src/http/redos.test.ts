import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeFlag, createFlag, createTestApp, snapshotDatabase, type ErrorBody, type TestContext } from '../testing/test-app.js';

/**
 * Regular-expression denial of service (issue 11, item 1): a `matches` pattern with super-linear
 * backtracking is refused on every write path, with a 400 naming where it is and why; one stored
 * before the check existed is neither evaluated nor shipped, so the request answers at once.
 */

const CATASTROPHIC = '^(a+)+$';
/** The context: each extra "a" doubles the work of `^(a+)+$`. */
const HOSTILE_CONTEXT = { targetingKey: 'u', email: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' };

type ClauseBody = { attribute: string; operator: string; values: unknown[] };
const rule = (id: string, clauses: ClauseBody[]) => ({ id, clauses, serve: { variation: 'on' } });
const segmentRule = (id: string, clauses: ClauseBody[]) => ({ id, clauses });
const matches = (pattern: string) => ({ attribute: 'email', operator: 'matches', values: [pattern] });

let t: TestContext;
beforeEach(async () => {
  t = await createTestApp();
  await createFlag(t, 'checkout');
});
afterEach(async () => {
  await t.close();
});

async function expectRefused(res: { statusCode: number; body: string; json<T>(): T }, at: string, why: RegExp = /can take exponential time on inputs like "a+…\\u0000" \(nested or overlapping repetition/) {
  expect(res.statusCode, res.body).toBe(400);
  const { error } = res.json<ErrorBody>();
  expect(error.code).toBe('validation_failed');
  expect(error.message.startsWith(`${at}: pattern "`), error.message).toBe(true);
  expect(error.message).toMatch(why);
}

interface WriteCase {
  name: string;
  method: 'PATCH' | 'POST';
  url: string;
  payload: Record<string, unknown>;
  at: string;
}

const WRITES: WriteCase[] = [
  {
    name: 'flag targeting rule',
    method: 'PATCH',
    url: '/api/flags/checkout/environments/production',
    payload: { version: 1, on: true, rules: [rule('beta', [{ attribute: 'plan', operator: 'in', values: ['pro'] }, matches(CATASTROPHIC)])] },
    at: 'body.rules[0].clauses[1].values[0]',
  },
  {
    name: 'flag targeting rule, second pattern of a clause',
    method: 'PATCH',
    url: '/api/flags/checkout/environments/staging',
    payload: { version: 1, rules: [rule('ok', [matches('@acme\\.com$')]), rule('bad', [{ attribute: 'email', operator: 'matches', values: ['@acme\\.com$', CATASTROPHIC] }])] },
    at: 'body.rules[1].clauses[0].values[1]',
  },
  { name: 'new segment rule', method: 'POST', url: '/api/segments', payload: { key: 'beta', name: 'Beta', rules: [segmentRule('r', [matches(CATASTROPHIC)])] }, at: 'body.rules[0].clauses[0].values[0]' },
  { name: 'changed segment rule', method: 'PATCH', url: '/api/segments/internal', payload: { version: 1, rules: [segmentRule('r', [matches(CATASTROPHIC)])] }, at: 'body.rules[0].clauses[0].values[0]' },
];

describe('a catastrophic pattern is refused when saved', () => {
  it.each(WRITES)('$name', async ({ method, url, payload, at }) => {
    const before = await snapshotDatabase(t.db);
    await expectRefused(await t.request(t.adminToken, { method, url, payload }), at);
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('a polynomial pattern too, naming its degree', async () => {
    const res = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout/environments/production', payload: { version: 1, rules: [rule('r', [matches('foo.*bar')])] } });
    await expectRefused(res, 'body.rules[0].clauses[0].values[0]', /can take polynomial time \(2nd degree polynomial\)/);
  });

  it('a safe pattern is saved', async () => {
    const res = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout/environments/production', payload: { version: 1, rules: [rule('r', [matches('^[^@]+@acme\\.com$')])] } });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('invalid syntax keeps its own error', async () => {
    const res = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout/environments/production', payload: { version: 1, rules: [rule('r', [matches('(a+')])] } });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.message).toMatch(/invalid regular expression/);
  });

  it('a revert cannot bring back a pattern stored before the check existed', async () => {
    await changeFlag(t, 'checkout', 1, (flag) => ({ ...flag, environments: { ...flag.environments, production: { ...flag.environments.production!, rules: [rule('legacy', [matches(CATASTROPHIC)]) as never] } } }));
    const cleared = await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/checkout/environments/production', payload: { version: 2, rules: [] } });
    expect(cleared.statusCode, cleared.body).toBe(200);
    const entries = (await t.request(t.adminToken, { method: 'GET', url: '/api/flags/checkout/audit' })).json<{ items: { id: number; action: string }[] }>().items;
    const clearing = entries.find((e) => e.action === 'flag.environment_updated')!;
    const before = await snapshotDatabase(t.db);
    await expectRefused(await t.request(t.adminToken, { method: 'POST', url: `/api/audit/${clearing.id}/revert`, payload: { version: 3 } }), 'environments.production.rules[0].clauses[0].values[0]');
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });
});

const FLAG_FILE = `environments:
  production: {}
flags:
  a:
    environments:
      production:
        on: true
        offVariation: off
        targets: []
        rules:
          - id: r
            clauses: [{ attribute: email, operator: matches, values: ["${CATASTROPHIC}"] }]
            serve: { variation: on }
        defaultServe: { variation: off }
        salt: a
        bucketBy: userId
`;

const SEGMENT_FILE = `segments:
  beta:
    rules:
      - id: r
        clauses: [{ attribute: email, operator: matches, values: ["(a|aa)+$"] }]
`;

interface FileCase {
  name: string;
  filename: string;
  document: string;
  at: string;
}

const FILES: FileCase[] = [
  { name: 'flag rule in a YAML file', filename: 'flags.yaml', document: FLAG_FILE, at: 'flags.yaml:12:71: flags.a.environments.production.rules[0].clauses[0].values[0]' },
  { name: 'segment rule in a YAML file', filename: 'flags.yaml', document: SEGMENT_FILE, at: 'flags.yaml:5:67: segments.beta.rules[0].clauses[0].values[0]' },
  {
    // Large files are located by searching the text (parsing again would block the event loop).
    name: 'flag rule in a large JSON file',
    filename: 'flags.json',
    document: `${' '.repeat(20_000)}\n${JSON.stringify({ segments: { beta: { rules: [{ id: 'r', clauses: [{ attribute: 'email', operator: 'matches', values: ['^(\\w+\\s?)*$'] }] }] } } })}`,
    at: 'flags.json:2:104: segments.beta.rules[0].clauses[0].values[0]',
  },
];

describe('GitOps: a catastrophic pattern in a flags file is refused', () => {
  it.each(FILES)('$name', async ({ filename, document, at }) => {
    const before = await snapshotDatabase(t.db);
    for (const url of ['/api/gitops/plan', '/api/gitops/apply']) {
      await expectRefused(await t.request(t.adminToken, { method: 'POST', url, payload: { document, filename } }), at, /can take exponential time/);
    }
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('a file with safe patterns applies', async () => {
    const res = await t.request(t.adminToken, { method: 'POST', url: '/api/gitops/apply', payload: { document: FLAG_FILE.replace(CATASTROPHIC, '@acme\\\\.com$'), filename: 'flags.yaml' } });
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('a catastrophic pattern stored before the check existed', () => {
  beforeEach(async () => {
    // Written behind the API's back, as an older version would have stored it; before any rule set is loaded.
    await changeFlag(t, 'checkout', 1, (flag) => ({
      ...flag,
      environments: { ...flag.environments, production: { ...flag.environments.production!, on: true, rules: [rule('legacy', [matches(CATASTROPHIC)]) as never] } },
    }));
  });

  it('does not block OFREP: the issue request answers at once, single and bulk, and the clause never matches', async () => {
    const sdk = await t.sdkKey('production');
    const started = performance.now();
    const single = await t.request(sdk, { method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', payload: { context: HOSTILE_CONTEXT } });
    const bulk = await t.request(sdk, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: HOSTILE_CONTEXT } });
    // Unprotected, the two evaluations of 29 "a"s take tens of seconds; the analysis takes milliseconds.
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(single.statusCode, single.body).toBe(200);
    expect(single.json()).toMatchObject({ value: false, reason: 'STATIC' });
    expect(bulk.statusCode, bulk.body).toBe(200);
    expect(bulk.json<{ flags: { key: string; value: unknown }[] }>().flags).toContainEqual(expect.objectContaining({ key: 'checkout', value: false }));
  });

  it('is not shipped to SDKs', async () => {
    const res = await t.request(await t.sdkKey('production'), { method: 'GET', url: '/api/sdk/rules' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('"legacy"');
    expect(res.body).not.toContain(CATASTROPHIC);
  });
});
