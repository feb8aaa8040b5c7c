import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, createClientKey, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Evaluation insights in the dashboard, in Chromium against the real server: the flag list says when
 * each flag was last evaluated, and the flag page's "Evaluations" tab draws the hourly counts per
 * variation (inline SVG) for the last 24 hours or 7 days. And `@switchyard/sdk/web` on a page of
 * another origin reports its evaluations with a client key (CORS), on its schedule and on close().
 */
describe.skipIf(!ready)('evaluation insights in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;
  let app: Server | undefined;

  beforeAll(async () => {
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    for (const key of ['used-flag', 'unused-flag']) expect((await call('POST', '/api/flags', { key })).status).toBe(201);
    expect((await call('POST', '/api/flags', { key: 'web-flag', clientVisible: true })).status).toBe(201);
    const sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'backend', environment: 'production' })).body.key;
    const sdk = api(server.url, sdkKey);
    const upload = await sdk('POST', '/api/sdk/evaluations', { sdk: 'switchyard-node', version: '0.1.0', evaluations: [{ flag: 'used-flag', variation: 'on', count: 30 }, { flag: 'used-flag', variation: 'off', count: 12 }] });
    expect(upload.status).toBe(202);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
    await signIn(page, server.url, server.adminToken);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (app ? app.close(resolve) : resolve(undefined)));
    if (server) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it('the list says when each flag was last evaluated in the selected environment', async () => {
    await page.goto(`${server.url}/flags`);
    const used = page.locator('tr[data-flag="used-flag"] td[data-env="production"] .last-evaluated');
    await used.waitFor();
    expect(await used.textContent()).toBe('evaluated just now');
    expect(await page.locator('tr[data-flag="unused-flag"] td[data-env="production"] .last-evaluated').textContent()).toBe('not evaluated');
    // Other columns stay quiet about flags never evaluated there.
    expect(await page.locator('tr[data-flag="unused-flag"] td[data-env="staging"] .last-evaluated').count()).toBe(0);
  });

  it('the flag page charts the hours per variation, for a day or a week', async () => {
    await page.goto(`${server.url}/flags/used-flag#evaluations`);
    const section = page.locator('section.insights');
    await section.locator('svg.insights-chart').waitFor();
    expect(await section.getByTestId('last-evaluated').textContent()).toContain('Last evaluated just now');
    expect(await section.getByTestId('evaluation-total').textContent()).toBe('42 evaluations in the last 24 hours');
    const bars = section.locator('svg.insights-chart g[data-hour]');
    expect(await bars.count()).toBe(24);
    expect(await bars.last().getAttribute('data-total')).toBe('42');
    expect(await bars.last().locator('rect.insight-v0, rect.insight-v1').count()).toBe(2); // off and on, stacked
    expect(await bars.last().locator('title').textContent()).toMatch(/42 · off 12 · on 30$/);

    await section.getByRole('button', { name: '7 days' }).click();
    await page.waitForFunction(() => document.querySelectorAll('svg.insights-chart g[data-hour]').length === 168);
    expect(await section.getByTestId('evaluation-total').textContent()).toBe('42 evaluations in the last 7 days');
    expect(await section.getByRole('button', { name: '7 days' }).getAttribute('aria-pressed')).toBe('true');

    await page.goto(`${server.url}/flags/unused-flag#evaluations`);
    await section.getByTestId('last-evaluated').waitFor();
    expect(await section.getByTestId('last-evaluated').textContent()).toContain('No SDK has reported evaluating this flag here.');
  });

  it('the browser client reports its evaluations with a client key, cross-origin, on its schedule and on close()', async () => {
    const clientKey = await createClientKey(call);
    const bundle = await build({ entryPoints: [join(ROOT, 'sdk/src/web.ts')], bundle: true, minify: true, format: 'iife', globalName: 'Switchyard', platform: 'browser', target: 'es2022', write: false });
    const options = { url: server.url, clientKey, context: { targetingKey: 'user-1' }, insightsIntervalMs: 300, pollIntervalMs: 600_000 };
    // The application's own origin (another port): every request to the server is cross-origin.
    app = createServer((request, response) => {
      if (request.url === '/web.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle.outputFiles[0]!.text);
      response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><meta charset="utf-8"><title>app</title><script src="/web.js"></script>
<script>
  window.flags = Switchyard.createWebClient(${JSON.stringify(options)});
  flags.ready().then(() => { for (let i = 0; i < 5; i++) flags.isEnabled('web-flag'); document.body.dataset.ready = 'true'; });
</script>`);
    });
    await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
    const tab = await browser.newPage();
    tab.setDefaultTimeout(10_000);
    const problems: string[] = [];
    tab.on('pageerror', (error) => problems.push(error.message));
    tab.on('console', (message) => void (message.type() === 'error' && problems.push(message.text())));
    await tab.goto(`http://127.0.0.1:${(app.address() as AddressInfo).port}/`);
    await tab.locator('body[data-ready="true"]').waitFor({ state: 'attached' }).catch((error: unknown) => {
      throw new Error(`the page never got its values: ${problems.join('; ')}`, { cause: error });
    });
    const total = async () => (await call<{ hours: { total: number; variations: Record<string, number> }[] }>('GET', '/api/flags/web-flag/insights?environment=production&hours=2')).body.hours.reduce((n, h) => n + (h.variations.off ?? 0), 0);
    const until = async (expected: number) => {
      const deadline = Date.now() + 10_000;
      while ((await total()) !== expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await total()).toBe(expected);
    };
    await until(5); // the flag is off: 5 evaluations of its "off" variation, on the 300 ms schedule
    await tab.evaluate(() => {
      const flags = (window as unknown as { flags: { isEnabled(flag: string): boolean; close(): void } }).flags;
      for (let i = 0; i < 3; i++) flags.isEnabled('web-flag');
      flags.close(); // the last summary goes with close(), before the next tick
    });
    await until(8);
    expect(await tab.evaluate(() => (window as unknown as { flags: { insightsStats(): unknown } }).flags.insightsStats())).toEqual({ flushed: 2, dropped: 0 });
    const connections = await call<{ items: { sdk: string; keyName: string }[] }>('GET', '/api/sdk-connections?environment=production');
    expect(connections.body.items.map((c) => c.sdk)).toContain('switchyard-web');
    await tab.close();
  });
});
