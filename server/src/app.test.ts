import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('security headers', () => {
  let site: TestContext;
  let dashboardDir: string;
  beforeAll(async () => {
    dashboardDir = mkdtempSync(join(tmpdir(), 'switchyard-dashboard-'));
    mkdirSync(join(dashboardDir, 'assets'));
    writeFileSync(join(dashboardDir, 'index.html'), '<!doctype html><title>Switchyard</title><script type="module" src="/assets/app.js"></script>');
    writeFileSync(join(dashboardDir, 'assets/app.js'), 'export {};');
    site = await createTestApp({ dashboardDir });
  });
  afterAll(async () => {
    await site?.close();
    rmSync(dashboardDir, { recursive: true, force: true });
  });

  /** `content-security-policy` as directive → sources. */
  function csp(header: unknown): Map<string, string[]> {
    expect(header, 'a Content-Security-Policy header').toBeTypeOf('string');
    return new Map(
      (header as string)
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .filter((parts) => parts[0])
        .map(([name, ...sources]) => [name!, sources]),
    );
  }

  const pages = [
    { name: 'the dashboard page', url: '/', type: /text\/html/, token: false },
    { name: 'a dashboard deep link', url: '/flags/checkout', type: /text\/html/, token: false },
    { name: 'a dashboard script', url: '/assets/app.js', type: /javascript/, token: false },
    { name: 'management API JSON', url: '/api/flags', type: /application\/json/, token: true },
    { name: 'a management API error', url: '/api/flags', type: /application\/json/, token: false },
    { name: 'the API docs page', url: '/docs', type: /text\/html/, token: false },
    { name: 'the API docs script', url: '/docs/static/swagger-initializer.js', type: /javascript/, token: false },
    { name: 'the OpenAPI document', url: '/openapi.json', type: /application\/json/, token: false },
  ];
  for (const page of pages) {
    it(`${page.name} (${page.url}): CSP without unsafe-inline, nosniff, no framing, no referrer`, async () => {
      const res = await site.request(page.token ? site.adminToken : null, { method: 'GET', url: page.url });
      expect(res.headers['content-type']).toMatch(page.type);
      const policy = csp(res.headers['content-security-policy']);
      expect(policy.get('script-src')).toEqual(["'self'"]);
      // /docs: Swagger UI's one injected <style>, allowed by its hash (see app.ts).
      expect(policy.get('style-src')).toEqual(page.url.startsWith('/docs') ? ["'self'", expect.stringMatching(/^'sha256-[A-Za-z0-9+/=]+'$/)] : ["'self'"]);
      expect(policy.get('script-src-attr')).toEqual(["'none'"]);
      expect(policy.get('object-src')).toEqual(["'none'"]);
      expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
      expect(res.headers['content-security-policy']).not.toContain('unsafe-');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    });
  }

  it('SDK endpoints stay open to other origins: CORS, nosniff, and no same-origin resource policy', async () => {
    const key = await site.sdkKey('production');
    const rules = await site.request(key, { method: 'GET', url: '/api/sdk/rules', headers: { origin: 'https://app.example' } });
    expect(rules.statusCode).toBe(200);
    expect(rules.headers['access-control-allow-origin']).toBe('*');
    expect(rules.headers['x-content-type-options']).toBe('nosniff');
    expect(rules.headers['cross-origin-resource-policy']).toBeUndefined();
    const ofrep = await site.request(key, { method: 'POST', url: '/ofrep/v1/evaluate/flags', headers: { origin: 'https://app.example' }, payload: { context: { targetingKey: 'u' } } });
    expect(ofrep.statusCode).toBe(200);
    expect(ofrep.headers['access-control-allow-origin']).toBe('*');
    expect(ofrep.headers['cross-origin-resource-policy']).toBeUndefined();
    // A page can read why it was refused (401/403 carry the reason in WWW-Authenticate) and when to retry.
    expect(String(ofrep.headers['access-control-expose-headers']).split(/,\s*/)).toEqual(['ETag', 'WWW-Authenticate', 'Retry-After']);
  });
});

describe('request logging', () => {
  it('logs management requests at info with their request id; SDK routes log nothing at info', async () => {
    const lines: { msg?: string; reqId?: string; req?: { url?: string }; sdk?: boolean }[] = [];
    const stream = { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) };
    const site = await createTestApp({ logger: { level: 'info', stream } });
    try {
      const key = await site.sdkKey('production');
      lines.length = 0;
      expect((await site.request(site.adminToken, { method: 'GET', url: '/api/flags' })).statusCode).toBe(200);
      const management = lines.filter((l) => l.msg === 'incoming request');
      expect(management).toHaveLength(1);
      expect(management[0]!.reqId).toBeTruthy();
      lines.length = 0;
      for (let i = 0; i < 3; i++) {
        expect((await site.request(key, { method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: { targetingKey: 'u' } } })).statusCode).toBe(200);
      }
      expect(lines).toEqual([]);
    } finally {
      await site.close();
    }
  });
});
