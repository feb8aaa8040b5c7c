import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { signUserKey } from '@switchyard/sdk/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, changeToDom, createClientKey, eventStreamOpened, launchChromium, recordBulkRequests } from '../support/browser.js';
import { createFlag, sdkSetup, setStage, type Api } from '../support/sdk-e2e.js';
import { ROOT, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * `@switchyard/sdk/web` in a real browser against the real server, with a client key: a page on
 * another origin (its own port) asks for its user's values over OFREP bulk evaluation (CORS), gets
 * only the flags marked visible to client keys, is notified of a stage change over the advertised
 * event stream (SSE) within 1 s, and after a reload with the server gone still renders the values
 * it stored. In secure mode the application's server signs the user key it puts in the page; a page
 * whose user key was tampered with gets no values.
 */
const FLAG = 'web-banner';
/** Not marked visible to client keys: a client key never receives it. */
const HIDDEN = 'web-secret-copy';
/** The bound from the REST call's start to the DOM change. */
const STAGE_TO_DOM_MS = 1000;
/** Polling far longer than the test: every update it sees came through the event stream. */
const POLL_MS = 10 * 60_000;
/** The user the application's server signed in (secure-mode test). */
const SIGNED_USER = 'user-7';

/** The application's page: renders the flags at once (from the cache) and on every change. */
function page(options: Record<string, unknown>): string {
  return `<!doctype html><meta charset="utf-8"><title>app</title>
<p>first render: <span id="first"></span></p><p>now: <span id="now"></span></p>
<p>hidden: <span id="hidden"></span></p><p>keys: <span id="keys"></span></p><p>error: <span id="error"></span></p>
<script src="/web.js"></script>
<script>
  const client = Switchyard.createWebClient(${JSON.stringify(options)});
  const set = (id, text) => (document.getElementById(id).textContent = text);
  const render = () => {
    set('now', String(client.isEnabled(${JSON.stringify(FLAG)})));
    set('hidden', client.variation(${JSON.stringify(HIDDEN)}, 'absent'));
    set('keys', Object.keys(client.allFlags()).sort().join(','));
  };
  set('first', String(client.isEnabled(${JSON.stringify(FLAG)})));
  render();
  client.on('change', render);
  client.on('error', (error) => set('error', error.message));
  client.ready().then((fromServer) => (document.body.dataset.ready = String(fromServer)));
</script>`;
}

describe.skipIf(!ready)('@switchyard/sdk/web in a browser, with a client key', () => {
  let server: ServerProcess;
  let browser: Browser;
  let app: Server;
  let appUrl: string;
  let call: Api;
  let sdkKey: string;
  let secret: string;

  beforeAll(async () => {
    server = await startServerProcess();
    browser = await launchChromium();
    ({ call, sdkKey } = await sdkSetup(server));
    await createFlag(call, FLAG, { clientVisible: true });
    await createFlag(call, HIDDEN, { type: 'string', variations: [{ key: 'plain', value: 'plain' }, { key: 'fancy', value: 'fancy' }] });
    // Staging runs in secure mode; its secret stays on the application's server (here: the test).
    const secure = await call<{ secret: string; clientSecureMode: boolean }>('POST', '/api/environments/staging/secure-mode');
    expect(secure.body).toMatchObject({ clientSecureMode: true });
    secret = secure.body.secret;
    await setStage(call, FLAG, '100%', { environment: 'staging' });
    const clientKeys = { production: await createClientKey(call, 'production'), staging: await createClientKey(call, 'staging') };

    const bundle = await build({ entryPoints: [join(ROOT, 'sdk/src/web.ts')], bundle: true, minify: true, format: 'iife', globalName: 'Switchyard', platform: 'browser', target: 'es2022', write: false });
    const script = bundle.outputFiles[0]!.text;
    // The application's server: it knows who is signed in (here: ?user=) and, in secure mode,
    // signs that user key with signUserKey from @switchyard/sdk/node.
    app = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://x');
      if (url.pathname === '/web.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      const staging = url.searchParams.get('env') === 'staging';
      const user = url.searchParams.get('user') ?? 'user-1';
      const context = staging ? { targetingKey: user, switchyardSignature: signUserKey(secret, user) } : { targetingKey: user, plan: 'pro' };
      // ?tamper=: the page as a user who edited it would have it (another targetingKey, the same signature).
      const tamper = url.searchParams.get('tamper');
      if (tamper) context.targetingKey = tamper;
      const options = { url: server.url, clientKey: staging ? clientKeys.staging : clientKeys.production, context, pollIntervalMs: POLL_MS, requestTimeoutMs: 2000 };
      response.writeHead(200, { 'content-type': 'text/html' }).end(page(options));
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

  const text = async (tab: Page, id: string) => tab.locator(`#${id}`).textContent();

  // First: the next test ends by stopping the server.
  it('secure mode: the page with the user key its server signed gets values; a tampered user key gets none, and no crash', async () => {
    const signed = await browser.newPage();
    await signed.goto(`${appUrl}?env=staging&user=${SIGNED_USER}`);
    await signed.locator('body[data-ready]').waitFor({ timeout: 10_000 });
    expect(await signed.getAttribute('body', 'data-ready')).toBe('true');
    expect(await text(signed, 'now')).toBe('true'); // on at 100% in staging
    expect(await text(signed, 'error')).toBe('');
    await signed.close();

    // The user edits the page to ask for another user's values, keeping the signature it was given.
    const tampered = await browser.newPage();
    const problems: string[] = [];
    tampered.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    const sent = tampered.waitForRequest((request) => request.method() === 'POST' && request.url().endsWith('/ofrep/v1/evaluate/flags'));
    await tampered.goto(`${appUrl}?env=staging&user=${SIGNED_USER}&tamper=user-8`);
    const context = ((await sent).postDataJSON() as { context: Record<string, unknown> }).context;
    expect(context).toEqual({ targetingKey: 'user-8', switchyardSignature: signUserKey(secret, SIGNED_USER) }); // user-7's signature, for user-8
    await tampered.locator('body[data-ready]').waitFor({ timeout: 10_000 });
    expect(await tampered.getAttribute('body', 'data-ready')).toBe('false');
    expect(await text(tampered, 'error')).toContain('HTTP 403');
    expect(await text(tampered, 'now')).toBe('false'); // the default: no value came
    expect(await text(tampered, 'keys')).toBe('');
    expect(problems).toEqual([]);
    await tampered.close();
  });

  it('gets only visible flags, is notified of changes over SSE within 1 s (also after a reload), and renders the stored values with the server down', async () => {
    const tab = await browser.newPage();
    const failedRequests: string[] = [];
    tab.on('requestfailed', (request) => failedRequests.push(request.url()));
    const bulk = recordBulkRequests(tab);
    let streamOpen = eventStreamOpened(tab);
    await tab.goto(appUrl);
    await tab.locator('body[data-ready="true"]').waitFor({ timeout: 10_000 });
    expect(await text(tab, 'first')).toBe('false'); // nothing stored yet: the default
    expect(await text(tab, 'now')).toBe('false'); // the flag starts off
    // The flag not marked visible is absent: its default, though the server has a value for it.
    expect(await text(tab, 'hidden')).toBe('absent');
    expect(await text(tab, 'keys')).toBe(FLAG);
    const asServer = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'user-1' } }),
    });
    expect(((await asServer.json()) as { flags: { key: string; value: unknown }[] }).flags).toContainEqual(expect.objectContaining({ key: HIDDEN, value: 'plain' }));
    expect(failedRequests).toEqual([]); // the cross-origin requests (CORS, If-None-Match) went through

    await streamOpen;
    const latency = await changeToDom(tab, '#now', 'true', () => setStage(call, FLAG, '100%'));
    console.log(`[web-client] stage change → DOM over the OFREP event stream: ${latency} ms (polling every ${POLL_MS / 60_000} min)`);
    expect(latency).toBeLessThan(STAGE_TO_DOM_MS);
    // The re-fetch was the notification's (it names the announced version); no poll ran.
    expect(bulk).toHaveLength(2);
    expect(bulk[0]).not.toContain('flagConfigEtag');
    expect(bulk[1]).toMatch(/\?flagConfigEtag=%22\d+%22$/);

    // A reload with unchanged flags: the cache answers the first render, the server a 304 (no
    // body, so no eventStreams) — and the page is still notified, from the streams it stored.
    streamOpen = eventStreamOpened(tab);
    const revalidated = tab.waitForResponse((response) => response.url().endsWith('/ofrep/v1/evaluate/flags'));
    await tab.reload();
    expect(await text(tab, 'first')).toBe('true');
    expect((await revalidated).status()).toBe(304);
    await streamOpen;
    // Marking the hidden flag visible is a change too: its value arrives.
    const { version } = (await call<{ version: number }>('GET', `/api/flags/${HIDDEN}`)).body;
    const shown = await changeToDom(tab, '#hidden', 'plain', async () => expect((await call('PATCH', `/api/flags/${HIDDEN}`, { version, clientVisible: true })).status).toBe(200));
    console.log(`[web-client] after a reload (304): visibility change → DOM over the event stream: ${shown} ms`);
    expect(shown).toBeLessThan(STAGE_TO_DOM_MS);
    expect(bulk.at(-1)).toContain('flagConfigEtag');
    expect(await text(tab, 'keys')).toBe([FLAG, HIDDEN].sort().join(','));

    await server.stop();
    await tab.reload();
    // The very first render, before any answer, comes from localStorage: no flicker to the default.
    expect(await text(tab, 'first')).toBe('true');
    await tab.locator('body[data-ready="false"]').waitFor({ timeout: 10_000 });
    expect(await text(tab, 'now')).toBe('true');
    await tab.close();
  });
});
