import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakDatabase } from './testing/databases.js';
import { createFlag, createTestApp, type TestContext } from './testing/test-app.js';

let t: TestContext;
beforeAll(async () => {
  t = await createTestApp();
  await createFlag(t, 'one');
  await createFlag(t, 'two');
  await t.request(t.adminToken, { method: 'PATCH', url: '/api/flags/two', payload: { version: 1, archived: true } });
});
afterAll(async () => {
  await t.close();
});

describe('operational endpoints (no credentials needed)', () => {
  it('/healthz', async () => {
    const res = await t.request(null, { method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz', async () => {
    const res = await t.request(null, { method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', position: expect.any(Number), leader: true });
  });

  it('/readyz answers 503 in the error shape when storage is unreachable', async () => {
    const broken = await createTestApp();
    await breakDatabase(broken.db);
    const res = await broken.request(null, { method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'unavailable', message: 'not caught up with the change feed: the database is unreachable (or the replica is starting)' } });
    await broken.app.close();
  });

  it('/metrics: request counts by route and flags by archived state', async () => {
    const res = await t.request(null, { method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toContain('# TYPE switchyard_http_requests_total counter');
    expect(res.body).toMatch(/switchyard_http_requests_total\{method="POST",route="\/api\/flags",status="201"\} 2/);
    expect(res.body).toContain('switchyard_http_request_duration_seconds_bucket');
    expect(res.body).toContain('switchyard_flags{archived="false"} 1');
    expect(res.body).toContain('switchyard_flags{archived="true"} 1');
  });

  it('/openapi.json: an OpenAPI 3 document listing every API route', async () => {
    const res = await t.request(null, { method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{ openapi: string; info: { title: string }; paths: Record<string, Record<string, unknown>> }>();
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toBe('Switchyard API');
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations).toEqual(
      expect.arrayContaining([
        'GET /api/flags',
        'POST /api/flags',
        'GET /api/flags/{key}',
        'PATCH /api/flags/{key}',
        'DELETE /api/flags/{key}',
        'PATCH /api/flags/{key}/environments/{environment}',
        'POST /api/flags/{key}/environments/{environment}/stage',
        'POST /api/flags/{key}/environments/{environment}/kill',
        'GET /api/environments',
        'POST /api/environments',
        'PATCH /api/environments/{environment}',
        'DELETE /api/environments/{environment}',
        'GET /api/segments',
        'POST /api/segments',
        'GET /api/segments/{key}',
        'PATCH /api/segments/{key}',
        'DELETE /api/segments/{key}',
        'GET /api/audit',
        'GET /api/flags/{key}/audit',
        'POST /api/audit/{id}/revert',
        'GET /api/me',
        'GET /api/tokens',
        'POST /api/tokens',
        'DELETE /api/tokens/{id}',
        'GET /api/sdk-keys',
        'POST /api/sdk-keys',
        'DELETE /api/sdk-keys/{id}',
        'GET /api/sdk/rules',
        'POST /ofrep/v1/evaluate/flags/{key}',
        'POST /ofrep/v1/evaluate/flags',
      ]),
    );
    // Request bodies come from the zod schemas.
    const createFlagOp = doc.paths['/api/flags']!.post as { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } };
    expect(Object.keys(createFlagOp.requestBody.content['application/json']!.schema.properties)).toEqual(expect.arrayContaining(['key', 'type', 'variations']));
  });

  it('/docs: the interactive documentation page', async () => {
    const res = await t.request(null, { method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toMatch(/swagger/i);
  });

  it('unknown routes get 404 in the error shape', async () => {
    const res = await t.request(null, { method: 'GET', url: '/api/nothing-here' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'not_found', message: 'no route GET /api/nothing-here' } });
  });

  it.each([
    { name: 'malformed percent-encoding', url: '/api/flags/%E0%A4%A' },
    { name: 'over-long path parameter', url: `/api/flags/${'a'.repeat(200)}` },
  ])('router failures ($name) get a 4xx in the error shape', async ({ url }) => {
    const res = await t.request(t.adminToken, { method: 'GET', url });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(res.json()).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  });
});
