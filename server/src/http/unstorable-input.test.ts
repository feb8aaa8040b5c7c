import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HTTPMethods } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, snapshotDatabase, type ErrorBody, type TestContext } from '../testing/test-app.js';

/**
 * Input the OpenAPI fuzzer found turning into 500s on PostgreSQL (and silently stored on SQLite):
 * NUL characters and unpaired surrogates in stored text, row ids past 32 bits; and requests Node's
 * HTTP parser rejects, which answered in Fastify's shape instead of ours. Each is a 4xx naming the
 * field, on both databases, and changes nothing.
 */

interface Case {
  name: string;
  method: HTTPMethods;
  url: string;
  /** A string is sent as raw JSON (to carry escapes such as a lone \ud800). */
  payload?: unknown;
  as?: 'sdk';
  expectStatus: number;
  expectMessage: RegExp;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const FIRST_ID_PAST_32_BITS = 2 ** 31;

const refused: Case[] = [
  { name: 'NUL in a flag description', method: 'PATCH', url: '/api/flags/f', payload: { version: 1, description: 'a\u0000b' }, expectStatus: 400, expectMessage: /^body\.description: contains a NUL character/ },
  { name: 'NUL in an environment name', method: 'POST', url: '/api/environments', payload: { key: 'qa', name: 'QA\u0000' }, expectStatus: 400, expectMessage: /^body\.name: contains a NUL character/ },
  { name: 'NUL in an API token name', method: 'POST', url: '/api/tokens', payload: { name: '\u0000', role: 'viewer' }, expectStatus: 400, expectMessage: /^body\.name: contains a NUL/ },
  { name: 'NUL deep in an array', method: 'PATCH', url: '/api/segments/internal', payload: { version: 1, included: ['user-1', 'user\u00002'] }, expectStatus: 400, expectMessage: /^body\.included\[1\]: contains a NUL/ },
  { name: 'NUL in an object key', method: 'POST', url: '/api/gitops/apply', payload: { document: 'flags: {}\n', expectedVersions: { 'flag:\u0000': 1 } }, expectStatus: 400, expectMessage: /^body\.expectedVersions: a field name contains a NUL/ },
  { name: 'NUL in a path parameter', method: 'GET', url: '/api/flags/a%00b', expectStatus: 400, expectMessage: /^params\.key: contains a NUL/ },
  { name: 'NUL in a query parameter', method: 'GET', url: '/api/audit?actor=%00', expectStatus: 400, expectMessage: /^query\.actor: contains a NUL/ },
  { name: 'NUL in a gitops file', method: 'POST', url: '/api/gitops/plan', payload: { document: 'flags:\n  g:\n    name: "a\u0000"\n' }, expectStatus: 400, expectMessage: /^body\.document: contains a NUL/ },
  { name: 'lone high surrogate in a flag name', method: 'PATCH', url: '/api/flags/f', payload: '{"version":1,"name":"a\\ud800b"}', expectStatus: 400, expectMessage: /^body\.name: contains an unpaired surrogate/ },
  { name: 'lone low surrogate in a segment', method: 'POST', url: '/api/segments', payload: '{"key":"beta","name":"\\udfff"}', expectStatus: 400, expectMessage: /^body\.name: contains an unpaired surrogate/ },
  { name: 'API token id past 32 bits', method: 'DELETE', url: `/api/tokens/${FIRST_ID_PAST_32_BITS}`, expectStatus: 400, expectMessage: /^params\.id: Too big/ },
  { name: 'SDK key id past 32 bits', method: 'DELETE', url: `/api/sdk-keys/${Number.MAX_SAFE_INTEGER}`, expectStatus: 400, expectMessage: /^params\.id: Too big/ },
  { name: 'webhook id past 32 bits', method: 'DELETE', url: `/api/webhooks/${FIRST_ID_PAST_32_BITS}`, expectStatus: 400, expectMessage: /^params\.id: Too big/ },
  { name: 'audit id past 32 bits', method: 'POST', url: `/api/audit/${FIRST_ID_PAST_32_BITS}/revert`, payload: {}, expectStatus: 400, expectMessage: /^params\.id: Too big/ },
  { name: 'audit cursor past 32 bits', method: 'GET', url: `/api/audit?before=${FIRST_ID_PAST_32_BITS}`, expectStatus: 400, expectMessage: /^query\.before: Too big/ },
  { name: 'the largest 32-bit id is merely unknown', method: 'DELETE', url: `/api/tokens/${FIRST_ID_PAST_32_BITS - 1}`, expectStatus: 404, expectMessage: /not found/ },
  { name: 'a body nested 100,000 deep', method: 'PATCH', url: '/api/flags/f', payload: `{"version":1,"name":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, expectStatus: 400, expectMessage: /^body\.name/ },
];

let t: TestContext;
beforeAll(async () => {
  t = await createTestApp({ background: false });
  await createFlag(t, 'f');
});
afterAll(async () => {
  await t.close();
});

describe('unstorable or out-of-range input: 4xx naming the field, nothing written', () => {
  for (const c of refused) {
    it(c.name, async () => {
      const before = await snapshotDatabase(t.db);
      const raw = typeof c.payload === 'string';
      const res = await t.request(t.adminToken, { method: c.method, url: c.url, ...(raw ? { headers: JSON_TYPE } : {}), ...(c.payload === undefined ? {} : { payload: c.payload as string }) });
      expect(res.statusCode, res.body).toBe(c.expectStatus);
      expect(res.json<ErrorBody>().error.message).toMatch(c.expectMessage);
      expect(await snapshotDatabase(t.db)).toEqual(before);
    });
  }

  it('OFREP contexts are evaluated, never stored: odd characters there are nobody’s business', async () => {
    const res = await t.request(await t.sdkKey('production'), { method: 'POST', url: '/ofrep/v1/evaluate/flags/f', payload: { context: { targetingKey: 'user\u00001', note: 'x\u0000' } } });
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('requests Node itself rejects', () => {
  it('get the one error shape: headers over 16 KiB → 431', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/api/flags', headers: { 'x-padding': 'p'.repeat(20_000) } }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'bad_request', message: expect.stringMatching(/request headers too large/) } });
  });
});
