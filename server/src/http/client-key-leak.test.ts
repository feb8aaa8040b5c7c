import { signUserKey } from '@switchyard/sdk/node';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeApi, fillPath } from '../testing/openapi-operations.js';
import { SseReader } from '../testing/sse.js';
import { createFlag, createTestApp, setStage, type TestContext } from '../testing/test-app.js';

/**
 * A client key is public: whatever it can reach, anyone can. This test plants distinctive secrets
 * everywhere a server key would see them — rule clause values and ids, segment members, excluded
 * IDs and rule values, hidden flags (keys, names, variants, values), other users' targeted IDs and
 * the values only they get — then calls every route with a client key, with matching and
 * non-matching contexts and every kind of error, reads the notification stream across changes,
 * and searches every status line, header and body for them.
 *
 * A secret the request itself carried may come back (an error naming the caller's own attribute);
 * nothing else may. A server key's rule set must contain the planted secrets, so the search is not
 * vacuous.
 */

const ENV = 'production';

/** Targeting secrets: every one of them is in the server rule set. */
const RULE_SECRETS = {
  emailDomain: '@secret-corp.example',
  plan: 'platinum-secret',
  member: 'member-secret-alice',
  excluded: 'excluded-secret-bob',
  segmentKey: 'seg-secret-vault',
  segmentRuleValue: 'segrule-secret-acme',
  segmentRuleId: 'segrule-secret-id',
  emailRuleId: 'rule-secret-email',
  planRuleId: 'rule-secret-plan',
  segmentRuleRef: 'rule-secret-seg',
  hiddenRuleId: 'rule-secret-hidden',
  carol: 'targeted-secret-carol',
  dave: 'targeted-secret-dave',
  hiddenKey: 'hidden-secret-launch',
  hiddenKey2: 'hidden-secret-pricing',
  hiddenVariant: 'variant-secret-gold',
  hiddenValue: 'hidden-value-secret-nightjar',
  hiddenJsonValue: 'hidden-json-secret-margin',
  carolOffer: 'vip-offer-secret-for-carol',
} as const;

/** Added by the changes the notification test makes. */
const LATER_SECRETS = { lateMember: 'member-secret-erin', lateValue: 'late-secret-value' } as const;

/** Never in a rule set, but never for a client key either. */
const OTHER_SECRETS = ['Codename Secret Nightjar', 'desc-secret-employees', 'Vault Secret Segment'];

const SECRETS: readonly string[] = [...Object.values(RULE_SECRETS), ...Object.values(LATER_SECRETS), ...OTHER_SECRETS];
const VISIBLE = ['visible-banner', 'visible-offer', 'visible-rollout', 'flippable'];

let t: TestContext;
let client: string;
let server: string;
const open: AbortController[] = [];

interface Exchange {
  label: string;
  /** Everything the caller sent: what it sent may come back. */
  sent: string;
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

const exchanges: Exchange[] = [];

/** Fails for any secret in the answer that the request did not carry itself (`entitled`: also allowed). */
function expectNoLeak(exchange: Exchange, entitled: readonly string[] = []): void {
  const answer = `${exchange.status}\n${JSON.stringify(exchange.headers)}\n${exchange.body}`;
  const leaked = SECRETS.filter((secret) => answer.includes(secret) && !exchange.sent.includes(secret) && !entitled.includes(secret));
  expect(leaked, `${exchange.label} → ${exchange.status} ${exchange.body.slice(0, 300)}`).toEqual([]);
  expect(exchange.status, `${exchange.label}: ${exchange.body.slice(0, 300)}`).toBeLessThan(500);
}

async function send(label: string, token: string | null, options: InjectOptions, entitled: readonly string[] = []): Promise<LightMyRequestResponse> {
  const res = await t.request(token, options);
  const exchange = { label, sent: JSON.stringify(options), status: res.statusCode, headers: res.headers, body: res.body };
  exchanges.push(exchange);
  expectNoLeak(exchange, entitled);
  return res;
}

interface BulkBody {
  flags: { key: string; value?: unknown; variant?: string; reason?: string; metadata?: Record<string, unknown>; errorCode?: string; errorDetails?: string }[];
  eventStreams?: { type: string; endpoint: { requestUri: string } }[];
}

/** Bulk evaluation with the client key; a 200 must list visible flags only, without metadata. */
async function bulk(label: string, payload: unknown, options: { query?: string; headers?: Record<string, string>; entitled?: readonly string[]; token?: string } = {}) {
  const res = await send(
    label,
    options.token ?? client,
    { method: 'POST', url: `/ofrep/v1/evaluate/flags${options.query ?? ''}`, ...(typeof payload === 'string' ? { payload } : { payload: payload as object }), headers: { 'content-type': 'application/json', ...options.headers } },
    options.entitled,
  );
  if (res.statusCode === 200) {
    const body = res.json<BulkBody>();
    for (const flag of body.flags) {
      expect(VISIBLE, label).toContain(flag.key);
      if (!flag.errorCode) expect(flag.metadata, `${label}: ${flag.key}`).toEqual({});
      expect(Object.keys(flag).sort(), label).toEqual(flag.errorCode ? ['errorCode', 'errorDetails', 'key'] : ['key', 'metadata', 'reason', 'value', 'variant']);
    }
  }
  return res;
}

async function admin(method: InjectOptions['method'], url: string, payload?: unknown): Promise<Record<string, unknown>> {
  const res = await t.request(t.adminToken, { method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  if (res.statusCode >= 300) throw new Error(`setup ${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json<Record<string, unknown>>();
}

async function configure(key: string, config: Record<string, unknown>): Promise<void> {
  const { version } = await admin('GET', `/api/flags/${key}`);
  await admin('PATCH', `/api/flags/${key}/environments/${ENV}`, { version, ...config });
}

async function plantSecrets(): Promise<void> {
  const s = RULE_SECRETS;
  await admin('POST', '/api/segments', {
    key: s.segmentKey,
    name: 'Vault Secret Segment',
    included: [s.member],
    excluded: [s.excluded],
    rules: [{ id: s.segmentRuleId, clauses: [{ attribute: 'company', operator: 'in', values: [s.segmentRuleValue] }] }],
  });

  await createFlag(t, 'visible-banner', { clientVisible: true });
  await configure('visible-banner', {
    on: true,
    targets: [{ variation: 'on', values: [s.carol] }],
    rules: [
      { id: s.emailRuleId, description: 'desc-secret-employees', clauses: [{ attribute: 'email', operator: 'ends_with', values: [s.emailDomain] }], serve: { variation: 'on' } },
      { id: s.planRuleId, clauses: [{ attribute: 'plan', operator: 'in', values: [s.plan] }], serve: { variation: 'on' } },
      { id: s.segmentRuleRef, clauses: [{ attribute: '', operator: 'in_segment', values: [s.segmentKey] }], serve: { variation: 'on' } },
    ],
    defaultServe: { variation: 'off' },
  });

  // Carol's value is hers: anyone else asking must not see it.
  await createFlag(t, 'visible-offer', {
    clientVisible: true,
    type: 'json',
    variations: [
      { key: 'standard', value: { offer: 'standard' } },
      { key: 'vip', value: { offer: s.carolOffer } },
    ],
  });
  await configure('visible-offer', { on: true, offVariation: 'standard', targets: [{ variation: 'vip', values: [s.carol] }], rules: [], defaultServe: { variation: 'standard' } });

  // A partial rollout: a context without a targetingKey gets TARGETING_KEY_MISSING.
  await createFlag(t, 'visible-rollout', { clientVisible: true });
  await setStage(t, 'visible-rollout', ENV, '50%');

  await createFlag(t, 'flippable', { clientVisible: true });
  await setStage(t, 'flippable', ENV, '100%');

  await createFlag(t, s.hiddenKey, {
    name: 'Codename Secret Nightjar',
    type: 'string',
    variations: [
      { key: s.hiddenVariant, value: s.hiddenValue },
      { key: 'plain', value: 'plain' },
    ],
  });
  await configure(s.hiddenKey, {
    on: true,
    offVariation: 'plain',
    targets: [{ variation: s.hiddenVariant, values: [s.dave] }],
    rules: [{ id: s.hiddenRuleId, clauses: [{ attribute: 'plan', operator: 'in', values: [s.plan] }], serve: { variation: s.hiddenVariant } }],
    defaultServe: { variation: s.hiddenVariant },
  });
  await createFlag(t, s.hiddenKey2, {
    type: 'json',
    variations: [
      { key: 'a', value: { margin: s.hiddenJsonValue } },
      { key: 'b', value: { margin: 'none' } },
    ],
  });
  await setStage(t, s.hiddenKey2, ENV, '100%');
}

/** Contexts a browser might send, for users the rules match and users they do not. */
const CONTEXTS: { name: string; context: Record<string, unknown>; entitled?: string[] }[] = [
  { name: 'anonymous', context: {} },
  { name: 'a plain user', context: { targetingKey: 'user-1' } },
  { name: 'a plain user by userId', context: { userId: 'user-2', email: 'someone@example.com', plan: 'free' } },
  { name: 'the email rule', context: { targetingKey: 'user-3', email: `x${RULE_SECRETS.emailDomain}` } },
  { name: 'the plan rule (hidden flag too)', context: { targetingKey: 'user-4', plan: RULE_SECRETS.plan } },
  { name: 'a segment member', context: { targetingKey: RULE_SECRETS.member } },
  { name: 'an excluded user', context: { targetingKey: RULE_SECRETS.excluded, company: RULE_SECRETS.segmentRuleValue } },
  { name: 'the segment rule', context: { targetingKey: 'user-5', company: RULE_SECRETS.segmentRuleValue } },
  { name: 'a targeted user', context: { targetingKey: RULE_SECRETS.carol }, entitled: [RULE_SECRETS.carolOffer] },
  { name: "the hidden flag's targeted user", context: { userId: RULE_SECRETS.dave } },
  { name: 'empty keys', context: { targetingKey: '', userId: '' } },
  { name: 'nested attributes', context: { targetingKey: 'user-6', company: { plan: RULE_SECRETS.plan, domain: 'secret-corp.example' } } },
  { name: 'array attributes', context: { targetingKey: 'user-7', plan: ['free', 'pro'], email: ['a@example.com'] } },
  { name: 'a stray signature', context: { targetingKey: 'user-8', switchyardSignature: 'ab'.repeat(32) } },
  { name: 'prototype-like names', context: { targetingKey: 'user-9', constructor: 'x', toString: RULE_SECRETS.plan, hasOwnProperty: 'y' } },
];

const BAD_REQUESTS: { name: string; payload: string; headers?: Record<string, string> }[] = [
  { name: 'malformed JSON', payload: '{"context": {"targetingKey": "u"' },
  { name: 'not JSON at all', payload: 'targetingKey=u' },
  { name: 'an empty body', payload: '' },
  { name: 'a JSON array', payload: '[]' },
  { name: 'a context that is a string', payload: '{"context":"u"}' },
  { name: 'a context that is an array', payload: '{"context":["u"]}' },
  { name: 'a __proto__ attribute', payload: `{"context":{"targetingKey":"u","__proto__":{"plan":"${RULE_SECRETS.plan}"}}}` },
  { name: 'an unknown field', payload: '{"context":{},"flags":["hidden-secret-launch"]}' },
  { name: 'an attribute of the wrong type', payload: '{"context":{"targetingKey":"u","plan":[{"nested":"array"}]}}' },
  { name: 'an over-long string', payload: JSON.stringify({ context: { targetingKey: 'u', email: 'a'.repeat(1025) } }) },
  { name: 'too many attributes', payload: JSON.stringify({ context: Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`a${i}`, i])) }) },
  { name: 'nesting too deep', payload: JSON.stringify({ context: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } }) },
  { name: 'an oversized context', payload: JSON.stringify({ context: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`a${i}`, 'x'.repeat(1000)])) }) },
  { name: 'a wrong content type', payload: '{"context":{}}', headers: { 'content-type': 'text/plain' } },
];

beforeEach(async () => {
  exchanges.length = 0;
  t = await createTestApp();
  await plantSecrets();
  client = (await admin('POST', '/api/sdk-keys', { name: 'browser', environment: ENV, kind: 'client' })).key as string;
  server = await t.sdkKey(ENV);
});
afterEach(async () => {
  for (const controller of open.splice(0)) controller.abort();
  await t.close();
});

/** Every planted secret reaches a server key: the searches below look for things that exist. */
async function expectSecretsInServerRuleSet(secrets: readonly string[]): Promise<void> {
  const rules = await t.request(server, { method: 'GET', url: '/api/sdk/rules' });
  expect(rules.statusCode).toBe(200);
  expect(secrets.filter((secret) => !rules.body.includes(secret)), 'planted but not in the rule set').toEqual([]);
}

describe('a client key leaks nothing', () => {
  it('bulk evaluation, for every kind of context, with and without the ETag: visible flags only, no targeting', async () => {
    await expectSecretsInServerRuleSet(Object.values(RULE_SECRETS));
    for (const { name, context, entitled } of CONTEXTS) {
      const first = await bulk(name, { context }, { entitled });
      expect(first.statusCode, name).toBe(200);
      const keys = first.json<BulkBody>().flags.map((f) => f.key).sort();
      expect(keys, name).toEqual([...VISIBLE].sort());
      const etag = first.headers.etag as string;
      // The 304 path, a stale ETag, and a notification's flagConfigEtag (current, future, garbage).
      expect((await bulk(`${name}, If-None-Match`, { context }, { headers: { 'if-none-match': etag }, entitled })).statusCode, name).toBe(304);
      expect((await bulk(`${name}, stale If-None-Match`, { context }, { headers: { 'if-none-match': '"1-cxyz"' }, entitled })).statusCode, name).toBe(200);
      const version = etag.replace(/^"(\d+)-.*$/, '$1');
      expect((await bulk(`${name}, flagConfigEtag`, { context }, { query: `?flagConfigEtag=${encodeURIComponent(`"${version}"`)}`, entitled })).statusCode, name).toBe(200);
      expect((await bulk(`${name}, bad flagConfigEtag`, { context }, { query: '?flagConfigEtag=%22nope%22&flagConfigLastModified=yesterday', entitled })).statusCode, name).toBe(200);
    }
    // Someone else's value is for them only: Carol's offer reaches Carol alone.
    const carol = (await bulk('carol', { context: { targetingKey: RULE_SECRETS.carol } }, { entitled: [RULE_SECRETS.carolOffer] })).json<BulkBody>();
    expect(carol.flags.find((f) => f.key === 'visible-offer')!.value).toEqual({ offer: RULE_SECRETS.carolOffer });
    // The same contexts through a server key do reach the secrets (so the client-key answers above were filtered, not empty).
    const viaServer = await t.request(server, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: { targetingKey: RULE_SECRETS.dave } } });
    expect(viaServer.body).toContain(RULE_SECRETS.hiddenValue);
    expect(viaServer.body).toContain(RULE_SECRETS.hiddenKey2);
  });

  it('TARGETING_KEY_MISSING on a visible rollout names the flag, nothing more', async () => {
    const res = await bulk('no targeting key', { context: { email: `x${RULE_SECRETS.emailDomain.slice(1)}` } });
    const rollout = res.json<BulkBody>().flags.find((f) => f.key === 'visible-rollout')!;
    expect(rollout).toEqual({ key: 'visible-rollout', errorCode: 'TARGETING_KEY_MISSING', errorDetails: 'flag visible-rollout: no userId to bucket by' });
  });

  it('malformed, oversized and wrongly typed requests answer 4xx without a secret', async () => {
    for (const { name, payload, headers } of BAD_REQUESTS) {
      const res = await bulk(name, payload, { headers });
      expect(res.statusCode, `${name}: ${res.body}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, name).toBeLessThan(500);
      if (res.body !== '') expect(res.json<Record<string, unknown>>().flags, name).toBeUndefined();
    }
  });

  it('secure mode: refusals (403) and signed answers leak nothing', async () => {
    const { secret } = (await admin('POST', `/api/environments/${ENV}/secure-mode`)) as { secret: string };
    const carol = RULE_SECRETS.carol;
    const refused = [
      { name: 'unsigned', context: { targetingKey: carol } },
      { name: 'signed for someone else', context: { targetingKey: carol, switchyardSignature: signUserKey(secret, 'user-1') } },
      { name: 'a signature that is not hex', context: { targetingKey: carol, switchyardSignature: RULE_SECRETS.member } },
      { name: 'a signature of the wrong type', context: { userId: RULE_SECRETS.dave, switchyardSignature: 42 } },
    ];
    for (const { name, context } of refused) {
      const res = await bulk(`secure mode, ${name}`, { context });
      expect(res.statusCode, name).toBe(403);
      expect(res.body).toBe('');
      expect(res.headers['www-authenticate']).not.toContain(secret);
    }
    const signed = await bulk('secure mode, signed', { context: { targetingKey: carol, switchyardSignature: signUserKey(secret, carol) } }, { entitled: [RULE_SECRETS.carolOffer] });
    expect(signed.statusCode).toBe(200);
    expect((await bulk('secure mode, anonymous', { context: { plan: RULE_SECRETS.plan } })).statusCode).toBe(200);
    for (const exchange of exchanges) expect(`${JSON.stringify(exchange.headers)}${exchange.body}`).not.toContain(secret);
  });

  it('every other operation of the OpenAPI document refuses it without a secret', async () => {
    const api = await describeApi(t.app);
    const params = { key: 'visible-banner', environment: ENV, id: '1', from: ENV, to: ENV };
    for (const op of api.operations) {
      // Evaluation counts take client keys too (browser clients): checked below.
      if (op.id === 'POST /ofrep/v1/evaluate/flags' || op.id === 'GET /ofrep/v1/events' || op.id === 'POST /api/sdk/evaluations') continue;
      const url = fillPath(op.path, params);
      const res = await send(op.id, client, { method: op.method, url, ...(op.body ? { payload: {} } : {}) });
      if (op.id !== 'GET /api/gitops/schema.json' && op.id !== 'POST /api/session' && op.id !== 'DELETE /api/session') expect(res.statusCode, op.id).toBe(403);
    }
    // Single-flag evaluation of a hidden flag: refused the same way as of a visible or unknown one.
    const answers = [];
    for (const key of [RULE_SECRETS.hiddenKey, 'visible-banner', 'no-such-flag']) {
      const res = await send(`single ${key}`, client, { method: 'POST', url: `/ofrep/v1/evaluate/flags/${key}`, payload: { context: { targetingKey: RULE_SECRETS.dave } } });
      answers.push({ status: res.statusCode, body: res.body, www: res.headers['www-authenticate'] });
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[1]).toEqual(answers[2]);
    // Evaluation counts for a hidden flag (on a variation it has) are dropped exactly like an unknown flag's.
    const counted = [];
    for (const key of [RULE_SECRETS.hiddenKey, 'no-such-flag']) {
      const payload = { sdk: 'switchyard-web', version: '0.1.0', evaluations: [{ flag: key, variation: RULE_SECRETS.hiddenVariant, count: 1 }] };
      const res = await send(`evaluations ${key}`, client, { method: 'POST', url: '/api/sdk/evaluations', payload });
      counted.push({ status: res.statusCode, body: res.body });
    }
    expect(counted[0]).toEqual({ status: 202, body: JSON.stringify({ accepted: 0, dropped: 1 }) });
    expect(counted[1]).toEqual(counted[0]);
  });

  it('bad, forged and revoked tickets get 401 (400 when malformed) and nothing else', async () => {
    const uri = (await bulk('for a ticket', { context: {} })).json<BulkBody>().eventStreams![0]!.endpoint.requestUri;
    const ticket = new URL(uri, 'http://x').searchParams.get('ticket')!;
    const [id] = ticket.split('.');
    const serverUri = (await t.request(server, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: {} } })).json<BulkBody>().eventStreams![0]!.endpoint.requestUri;
    const serverId = new URL(serverUri, 'http://x').searchParams.get('ticket')!.split('.')[0];
    const bad = [
      `${id}.${'A'.repeat(43)}`,
      `${serverId}.${ticket.split('.')[1]}`,
      `${Number(id) + 100}.${ticket.split('.')[1]}`,
      ticket.slice(0, -1),
      `${ticket}A`,
      client,
      'nonsense',
      '',
      `-1.${'A'.repeat(43)}`,
      `2147483648.${ticket.split('.')[1]}`,
      `999999999999999.${ticket.split('.')[1]}`,
    ];
    for (const forged of bad) {
      const res = await send(`ticket ${forged}`, null, { method: 'GET', url: `/ofrep/v1/events?ticket=${encodeURIComponent(forged)}` });
      expect(res.statusCode, forged).toBe(401);
      expect(res.body).toBe('');
    }
    for (const url of ['/ofrep/v1/events', `/ofrep/v1/events?ticket=${'1'.repeat(101)}`, `/ofrep/v1/events?ticket=${ticket}&ticket=${ticket}`]) {
      const res = await send(url, client, { method: 'GET', url });
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
    }
    // Revoked: the key's own ticket stops working.
    const keys = (await admin('GET', '/api/sdk-keys')) as { items: { id: number; name: string }[] };
    await admin('DELETE', `/api/sdk-keys/${keys.items.find((k) => k.name === 'browser')!.id}`);
    const revoked = await send('revoked ticket', null, { method: 'GET', url: uri });
    expect(revoked.statusCode).toBe(401);
  });

  it('the notification stream says only "refetch", across every kind of change; a flag made invisible disappears', async () => {
    const first = await bulk('subscribe', { context: { targetingKey: 'user-1' } });
    const uri = first.json<BulkBody>().eventStreams![0]!.endpoint.requestUri;
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    open.push(controller);
    const response = await fetch(`${url}${uri}`, { signal: controller.signal });
    expect(response.status).toBe(200);
    const stream = new SseReader(response);
    let etag = first.headers.etag as string;

    const s = RULE_SECRETS;
    const changes: { name: string; change: () => Promise<unknown> }[] = [
      { name: 'a stage change of a hidden flag', change: () => setStage(t, s.hiddenKey2, ENV, '50%') },
      {
        name: 'new secret targeting on a hidden flag',
        change: () => configure(s.hiddenKey, { rules: [{ id: s.hiddenRuleId, clauses: [{ attribute: 'plan', operator: 'in', values: [LATER_SECRETS.lateValue] }], serve: { variation: s.hiddenVariant } }] }),
      },
      { name: 'a stage change of a visible flag', change: () => setStage(t, 'visible-rollout', ENV, '100%') },
      {
        name: 'a segment edit',
        change: async () => {
          const { version } = await admin('GET', `/api/segments/${s.segmentKey}`);
          return admin('PATCH', `/api/segments/${s.segmentKey}`, { version, included: [s.member, LATER_SECRETS.lateMember] });
        },
      },
      {
        name: 'a flag made invisible',
        change: async () => {
          const { version } = await admin('GET', '/api/flags/flippable');
          return admin('PATCH', '/api/flags/flippable', { version, clientVisible: false });
        },
      },
      { name: 'a kill of a hidden flag', change: () => admin('POST', `/api/flags/${s.hiddenKey}/environments/${ENV}/kill`, {}) },
    ];
    for (const [i, { name, change }] of changes.entries()) {
      await change();
      const event = await stream.event(i);
      expect(event.event, name).toBe('message');
      const data = JSON.parse(event.data) as Record<string, unknown>;
      // The whole message: a type and the version, nothing about what changed.
      expect(data, name).toEqual({ type: 'refetchEvaluation', etag: `"${event.id}"` });
      expect(event.id, name).toMatch(/^\d+$/);
      const again = await bulk(`refetch after ${name}`, { context: { targetingKey: 'user-1' } }, { query: `?flagConfigEtag=${encodeURIComponent(data.etag as string)}`, headers: { 'if-none-match': etag } });
      // Every change moved the version, so a stale ETag never gets a stale 304.
      expect(again.statusCode, name).toBe(200);
      etag = again.headers.etag as string;
      const keys = again.json<BulkBody>().flags.map((f) => f.key);
      if (i >= changes.findIndex((c) => c.name === 'a flag made invisible')) expect(keys, name).not.toContain('flippable');
      else expect(keys, name).toContain('flippable');
    }
    await expectSecretsInServerRuleSet([...Object.values(RULE_SECRETS), ...Object.values(LATER_SECRETS)]);
    // The frames, comments and head of the stream: nothing but versions.
    const streamText = JSON.stringify({ events: stream.events, comments: stream.comments, headers: ['content-type', 'cache-control', 'etag', 'www-authenticate', 'access-control-allow-origin', 'x-accel-buffering'].map((name) => response.headers.get(name)) });
    expect(SECRETS.filter((secret) => streamText.includes(secret))).toEqual([]);
    expect(stream.events).toHaveLength(changes.length);
    // Once invisible, the flag is gone for every context, and its key appears nowhere.
    for (const { name, context, entitled } of CONTEXTS) {
      const res = await bulk(`after the flip: ${name}`, { context }, { entitled });
      expect(res.body, name).not.toContain('flippable');
    }
  });
});
