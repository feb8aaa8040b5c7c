import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestContext } from '../testing/test-app.js';
import { IMMUTABLE } from './dashboard.routes.js';

/** A build as Vite makes it: index.html, and content-hashed files under assets/. */
const SCRIPT = `export const rows = [${Array.from({ length: 400 }, (_, i) => `{ key: "flag-${i}", stage: "off" }`).join(', ')}];\n`;
const STYLE = `.row { display: grid; grid-template-columns: 1fr 2fr 1fr; }\n`.repeat(50);
const INDEX = `<!doctype html><html lang="en"><head><meta charset="utf-8" /><title>Switchyard</title>
<script type="module" crossorigin src="/assets/index-BaoogH4Q.js"></script>
<link rel="stylesheet" crossorigin href="/assets/index-3pa4eUzr.css"></head><body><div id="app"></div></body></html>\n`;
/** Already compressed data: not worth compressing again. */
const IMAGE = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

let site: TestContext;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-dashboard-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets/index-BaoogH4Q.js'), SCRIPT);
  writeFileSync(join(dir, 'assets/index-3pa4eUzr.css'), STYLE);
  writeFileSync(join(dir, 'assets/logo-Xy12Ab34.png'), IMAGE);
  writeFileSync(join(dir, '.env'), 'SECRET=1');
  site = await createTestApp({ dashboardDir: dir });
});
afterAll(async () => {
  await site?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (url: string, headers: Record<string, string> = {}) => site.app.inject({ method: 'GET', url, headers });
const decoders = { br: brotliDecompressSync, gzip: gunzipSync } as const;

describe('dashboard files', () => {
  it.each([
    { name: 'the script', url: '/assets/index-BaoogH4Q.js', type: /^text\/javascript/, body: SCRIPT },
    { name: 'the stylesheet', url: '/assets/index-3pa4eUzr.css', type: /^text\/css/, body: STYLE },
  ])('$name: cached for a year as immutable (its name is its content hash)', async ({ url, type, body }) => {
    const res = await get(url);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['content-type']).toMatch(type);
    expect(res.headers.etag).toMatch(/^"[\w-]+"$/);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body).toBe(body);
  });

  it.each(['/', '/index.html', '/flags/checkout', '/flags/checkout/environments/production'])('%s: index.html, revalidated on every load, never immutable', async (url) => {
    const res = await get(url, { 'accept-encoding': 'gzip, br' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['cache-control']).not.toContain('immutable');
    expect(res.headers['cache-control']).not.toContain('max-age');
    expect(res.headers.etag).toMatch(/^"[\w-]+\.br"$/);
    expect(brotliDecompressSync(res.rawPayload).toString()).toBe(INDEX);
  });

  it.each([
    { accept: 'gzip, deflate, br, zstd', encoding: 'br' },
    { accept: 'br', encoding: 'br' },
    { accept: 'gzip', encoding: 'gzip' },
    { accept: 'x-gzip', encoding: 'gzip' },
    { accept: 'br;q=0.4, gzip;q=0.8', encoding: 'gzip' },
    { accept: 'br;q=0, *', encoding: 'gzip' },
    { accept: '*', encoding: 'br' },
    { accept: 'GZIP;Q=1', encoding: 'gzip' },
    { accept: 'identity', encoding: undefined },
    { accept: 'deflate', encoding: undefined },
    { accept: 'gzip;q=0, br;q=0', encoding: undefined },
    { accept: '', encoding: undefined },
    { accept: 'br;q=not-a-number', encoding: undefined },
  ])('Accept-Encoding "$accept" → $encoding', async ({ accept, encoding }) => {
    const res = await get('/assets/index-BaoogH4Q.js', { 'accept-encoding': accept });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe(encoding);
    expect(res.headers.vary).toBe('Accept-Encoding');
    expect(res.headers['cache-control']).toBe(IMMUTABLE);
    const body = encoding ? decoders[encoding as keyof typeof decoders](res.rawPayload) : res.rawPayload;
    expect(body.toString()).toBe(SCRIPT);
    if (encoding) expect(res.rawPayload.length).toBeLessThan(SCRIPT.length / 4);
    expect(Number(res.headers['content-length'])).toBe(res.rawPayload.length);
  });

  it('each encoding is its own representation, with its own ETag', async () => {
    const tags = await Promise.all(['br', 'gzip', 'identity'].map(async (accept) => (await get('/assets/index-BaoogH4Q.js', { 'accept-encoding': accept })).headers.etag));
    expect(new Set(tags).size).toBe(3);
  });

  it('If-None-Match with the ETag (of any encoding) → 304 without a body; another ETag → 200', async () => {
    for (const url of ['/', '/assets/index-BaoogH4Q.js']) {
      const first = await get(url, { 'accept-encoding': 'br' });
      const other = await get(url, { 'accept-encoding': 'identity' });
      for (const tag of [first.headers.etag, `W/${first.headers.etag}`, `"nope", ${other.headers.etag}`, '*']) {
        const again = await get(url, { 'accept-encoding': 'br', 'if-none-match': String(tag) });
        expect(again.statusCode, `${url} ${tag}`).toBe(304);
        expect(again.rawPayload.length).toBe(0);
        expect(again.headers.etag).toBe(first.headers.etag);
        expect(again.headers['cache-control']).toBe(first.headers['cache-control']);
        expect(again.headers.vary).toBe('Accept-Encoding');
      }
      const stale = await get(url, { 'accept-encoding': 'br', 'if-none-match': '"an-older-build"' });
      expect(stale.statusCode).toBe(200);
    }
  });

  it('an image is sent as it is: never compressed again, and the response does not vary', async () => {
    const res = await get('/assets/logo-Xy12Ab34.png', { 'accept-encoding': 'gzip, br' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers.vary).toBeUndefined();
    expect(res.headers['cache-control']).toBe(IMMUTABLE);
    expect(res.rawPayload.equals(IMAGE)).toBe(true);
  });

  it('HEAD gets the headers without the body', async () => {
    const res = await site.app.inject({ method: 'HEAD', url: '/assets/index-BaoogH4Q.js', headers: { 'accept-encoding': 'br' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers['cache-control']).toBe(IMMUTABLE);
    expect(res.rawPayload.length).toBe(0);
  });

  it.each(['/assets/index-0ld0ld00.js', '/.env', '/assets/../.env', '/api/nothing-here', '/favicon.ico'])('%s: 404 in the error shape, never index.html', async (url) => {
    const res = await get(url);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('keeps the security headers on the files it serves', async () => {
    for (const url of ['/', '/assets/index-BaoogH4Q.js']) {
      const res = await get(url, { 'accept-encoding': 'br' });
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });
});

describe('a dashboard directory without index.html (not built yet, or a build under way)', () => {
  it('starts without the dashboard: the API answers, the page is a 404', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'switchyard-dashboard-'));
    mkdirSync(join(empty, 'assets'));
    writeFileSync(join(empty, 'assets/index-BaoogH4Q.js'), SCRIPT);
    const t = await createTestApp({ dashboardDir: empty });
    try {
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/' })).statusCode).toBe(404);
      expect((await t.app.inject({ method: 'GET', url: '/assets/index-BaoogH4Q.js' })).statusCode).toBe(404);
    } finally {
      await t.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
