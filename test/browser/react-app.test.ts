import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { createElement, type ComponentType, type ReactNode } from 'react';
import { renderToString } from 'react-dom/server';
import { build } from 'vite';
import { createClient } from '@switchyard/sdk/node';
import type { FlagValues } from '@switchyard/sdk/web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, changeToDom, createClientKey, eventStreamOpened, launchChromium, recordBulkRequests } from '../support/browser.js';
import { createFlag, sdkSetup, setStage, type Api } from '../support/sdk-e2e.js';
import { ROOT, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * `@switchyard/react` in the example Vite + React app (test/fixtures/react-app), built with Vite and
 * served from another origin than the server, in Chromium, with a client key: the hook renders the
 * flag, a stage change made through REST re-renders it within the 1 s bound without a reload
 * (announced over the OFREP event stream, not polled), a flag not marked visible to client keys
 * renders its default, and a reload with the server gone paints the cached value on the very first render.
 */
const FLAG = 'new-checkout';
/** The flag of the server-rendering test: on for everyone before the page is rendered. */
const SSR_FLAG = 'ssr-checkout';
/** On for everyone but not marked visible to client keys: the page never receives it. */
const HIDDEN = 'internal-checkout';
/** The bound from the REST call's start to the DOM change. */
const STAGE_TO_DOM_MS = 1000;
const APP = join(ROOT, 'test/fixtures/react-app');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** The React module shapes the server-side rendering below needs. */
interface ReactModules {
  App: ComponentType<{ flag: string }>;
  SwitchyardProvider: ComponentType<{ bootstrap?: FlagValues; children?: ReactNode }>;
  inlineJson(values: FlagValues): string;
  bootstrapFor(source: { allFlags(context: { userId: string }): FlagValues }, context: { userId: string }): FlagValues;
}

/**
 * The .tsx modules, loaded by path: vitest compiles them, while this .ts file's typecheck
 * (test/tsconfig.json, no JSX) does not follow a computed specifier into them.
 */
async function reactModules(): Promise<ReactModules> {
  // The bindings by the very specifier App.tsx uses, after it: one module instance, one context.
  const specifiers = [join(APP, 'App.tsx'), '@switchyard/react'];
  const app = (await import(specifiers[0]!)) as Record<string, unknown>;
  const bindings = (await import(specifiers[1]!)) as Record<string, unknown>;
  return { ...app, ...bindings } as unknown as ReactModules;
}

/**
 * A static server for the built app (index.html for every unknown path, as a SPA host does).
 * `/ssr?…` is the page rendered on the server by `render(query)`.
 */
function serveDirectory(dir: string, render: (query: URLSearchParams) => Promise<string>): Server {
  return createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    if (url.pathname === '/ssr') {
      const template = readFileSync(join(dir, 'index.html'), 'utf8');
      void render(url.searchParams).then(
        (page) => response.writeHead(200, { 'content-type': 'text/html' }).end(template.replace('<div id="root"></div>', page)),
        (error: unknown) => response.writeHead(500).end(String(error)),
      );
      return;
    }
    const path = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dir, path);
    const found = file.startsWith(dir) && existsSync(file) && extname(file) ? file : join(dir, 'index.html');
    response.writeHead(200, { 'content-type': TYPES[extname(found)] ?? 'application/octet-stream' }).end(readFileSync(found));
  });
}

describe.skipIf(!ready)('@switchyard/react in the example Vite app', () => {
  let server: ServerProcess;
  let browser: Browser;
  let app: Server;
  let appOrigin: string;
  let appUrl: string;
  let call: Api;
  let sdkKey: string;
  let clientKey: string;
  const outDir = mkdtempSync(join(tmpdir(), 'switchyard-react-app-'));

  beforeAll(async () => {
    [server, browser] = await Promise.all([startServerProcess(), launchChromium()]);
    // The page gets a client key; the server-side rendering below uses the Node SDK with a server key.
    ({ call, sdkKey } = await sdkSetup(server));
    clientKey = await createClientKey(call);
    await createFlag(call, FLAG, { clientVisible: true });
    await createFlag(call, SSR_FLAG, { clientVisible: true });
    await setStage(call, SSR_FLAG, '100%');
    await createFlag(call, HIDDEN);
    await setStage(call, HIDDEN, '100%');
    await build({ root: APP, configFile: join(APP, 'vite.config.ts'), logLevel: 'silent', build: { outDir, emptyOutDir: true } });
    const { App, SwitchyardProvider, inlineJson, bootstrapFor } = await reactModules();
    // The server side of the SSR recipe: the Node SDK evaluates for this user, React renders with
    // those values, and the page receives the same values as the web client's bootstrap.
    const nodeClient = createClient({ url: server.url, sdkKey });
    const render = async (query: URLSearchParams) => {
      await nodeClient.ready();
      const bootstrap = bootstrapFor(nodeClient, { userId: query.get('user') ?? 'anonymous' });
      const html = renderToString(createElement(SwitchyardProvider, { bootstrap }, createElement(App, { flag: query.get('flag') ?? FLAG })));
      return `<div id="root">${html}</div><script>window.__SWITCHYARD__ = ${inlineJson(bootstrap)}</script>`;
    };
    app = serveDirectory(outDir, render);
    app.on('close', () => nodeClient.close());
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    appUrl = `${appOrigin}/?${new URLSearchParams({ server: server.url, key: clientKey, user: 'user-1', flag: FLAG })}`;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (app ? app.close(resolve) : resolve(undefined)));
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
    rmSync(outDir, { recursive: true, force: true });
  });

  it('hydrates a server-rendered page (Node SDK values as bootstrap) with no mismatch and no flicker', async () => {
    const url = `${appOrigin}/ssr?${new URLSearchParams({ server: server.url, key: clientKey, user: 'user-2', flag: SSR_FLAG })}`;
    const html = await (await fetch(url)).text();
    expect(html).toContain(`<p data-flag="${SSR_FLAG}">on</p>`); // the server HTML already has the value
    const tab = await browser.newPage();
    const problems: string[] = [];
    tab.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    tab.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`));
    await tab.goto(url);
    await tab.locator('main[data-ready="true"]').waitFor({ timeout: 10_000 });
    expect(await tab.locator(`[data-first-render="${SSR_FLAG}"]`).textContent()).toBe('on'); // hydration rendered the bootstrap
    expect(await tab.locator(`[data-flag="${SSR_FLAG}"]`).textContent()).toBe('on');
    expect(await tab.getAttribute('body', 'data-hydration-error')).toBeNull();
    expect(problems).toEqual([]);
    await tab.close();
  });

  it('renders the default for a flag not marked visible to client keys, though it is on for everyone', async () => {
    const tab = await browser.newPage();
    await tab.goto(`${appOrigin}/?${new URLSearchParams({ server: server.url, key: clientKey, user: 'user-3', flag: HIDDEN })}`);
    await tab.locator('main[data-ready="true"]').waitFor({ timeout: 10_000 });
    expect(await tab.locator(`[data-flag="${HIDDEN}"]`).textContent()).toBe('off');
    // A server key (what the application's server holds) does get it.
    const asServer = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${HIDDEN}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'user-3' } }),
    });
    expect(await asServer.json()).toMatchObject({ key: HIDDEN, value: true });
    await tab.close();
  });

  it('renders the flag, re-renders a stage change announced over SSE within 1 s, and paints the cached value after a reload with the server down', async () => {
    const tab = await browser.newPage();
    const problems: string[] = [];
    tab.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    tab.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`));
    const bulk = recordBulkRequests(tab);
    const streamOpen = eventStreamOpened(tab);
    await tab.goto(appUrl);
    await tab.locator('main[data-ready="true"]').waitFor({ timeout: 10_000 });
    expect(await tab.locator(`[data-flag="${FLAG}"]`).textContent()).toBe('off');
    expect(await tab.locator('[data-flag="layout"]').textContent()).toBe('classic'); // unknown flag: the default
    expect(problems).toEqual([]);

    await streamOpen;
    const latency = await changeToDom(tab, `[data-flag="${FLAG}"]`, 'on', () => setStage(call, FLAG, '100%'));
    console.log(`[react-app] stage change → DOM over the OFREP event stream: ${latency} ms (the example app polls only as a fallback, every 30 s)`);
    expect(latency).toBeLessThan(STAGE_TO_DOM_MS);
    expect(await tab.locator(`[data-flag="${FLAG}"]`).textContent()).toBe('on');
    // The re-fetch was the notification's (it names the announced version); no poll ran.
    expect(bulk).toHaveLength(2);
    expect(bulk[1]).toMatch(/\?flagConfigEtag=%22\d+%22$/);

    await server.stop();
    await tab.reload();
    // The first render already shows the value stored by the last answer, not the default.
    await tab.locator(`[data-first-render="${FLAG}"]`).waitFor();
    expect(await tab.locator(`[data-first-render="${FLAG}"]`).textContent()).toBe('on');
    expect(await tab.locator(`[data-flag="${FLAG}"]`).textContent()).toBe('on');
    expect(await tab.locator('main').getAttribute('data-ready')).toBe('false'); // no server answer this time
    await tab.close();
  });
});
