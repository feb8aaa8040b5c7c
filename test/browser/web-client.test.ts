import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium } from '../support/browser.js';
import { createFlag, sdkSetup, setStage, type Api } from '../support/sdk-e2e.js';
import { ROOT, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * `@switchyard/sdk/web` in a real browser against the real server: a page on another origin (its
 * own port) asks for its user's values over OFREP bulk evaluation (CORS), sees a stage change
 * within seconds, and after a reload with the server gone still renders the values it stored.
 */
const FLAG = 'web-banner';

/** The application's page: renders the flag at once (from the cache) and on every change. */
function page(serverUrl: string, clientKey: string): string {
  const options = JSON.stringify({
    url: serverUrl,
    clientKey,
    context: { targetingKey: 'user-1', plan: 'pro' },
    // The server does not advertise OFREP event streams yet: the client polls, every 200 ms here
    // so the test is quick (30 s by default). With `eventStreams` it would re-fetch on each event.
    pollIntervalMs: 200,
    requestTimeoutMs: 2000,
  });
  return `<!doctype html><meta charset="utf-8"><title>app</title>
<p>first render: <span id="first"></span></p><p>now: <span id="now"></span></p>
<script src="/web.js"></script>
<script>
  const client = Switchyard.createWebClient(${options});
  const show = (id) => (document.getElementById(id).textContent = String(client.isEnabled(${JSON.stringify(FLAG)})));
  show('first');
  show('now');
  client.on('change', () => show('now'));
  client.ready().then((fromServer) => (document.body.dataset.ready = String(fromServer)));
</script>`;
}

describe.skipIf(!ready)('@switchyard/sdk/web in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let app: Server;
  let appUrl: string;
  let call: Api;

  beforeAll(async () => {
    server = await startServerProcess();
    browser = await launchChromium();
    const setup = await sdkSetup(server);
    call = setup.call;
    await createFlag(call, FLAG);
    const bundle = await build({ entryPoints: [join(ROOT, 'sdk/src/web.ts')], bundle: true, minify: true, format: 'iife', globalName: 'Switchyard', platform: 'browser', target: 'es2022', write: false });
    const script = bundle.outputFiles[0]!.text;
    const html = page(server.url, setup.sdkKey);
    app = createServer((request, response) => {
      if (request.url === '/web.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else response.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (app ? app.close(resolve) : resolve(undefined)));
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('shows the value, follows a stage change, and renders the stored value after a reload with the server down', async () => {
    const tab = await browser.newPage();
    const failedRequests: string[] = [];
    tab.on('requestfailed', (request) => failedRequests.push(request.url()));
    await tab.goto(appUrl);
    await tab.locator('body[data-ready="true"]').waitFor({ timeout: 10_000 });
    expect(await tab.locator('#first').textContent()).toBe('false'); // nothing stored yet: the default
    expect(await tab.locator('#now').textContent()).toBe('false'); // the flag starts off
    expect(failedRequests).toEqual([]); // the cross-origin requests (CORS, If-None-Match) went through

    await setStage(call, FLAG, '100%');
    await tab.locator('#now', { hasText: 'true' }).waitFor({ timeout: 5000 });

    await server.stop();
    await tab.reload();
    // The very first render, before any answer, comes from localStorage: no flicker to the default.
    expect(await tab.locator('#first').textContent()).toBe('true');
    await tab.locator('body[data-ready="false"]').waitFor({ timeout: 10_000 });
    expect(await tab.locator('#now').textContent()).toBe('true');
    await tab.close();
  });
});
