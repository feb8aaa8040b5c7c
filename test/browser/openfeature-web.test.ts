import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, changeToDom, createClientKey, eventStreamOpened, launchChromium, recordBulkRequests } from '../support/browser.js';
import { createFlag, sdkSetup, setStage, type Api } from '../support/sdk-e2e.js';
import { ROOT, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The standard route for the browser: OpenFeature's web SDK with the community OFREP web provider
 * (`@openfeature/ofrep-web-provider`), unmodified, against the real server from another origin,
 * with a client key. The flag's value and reason come through; a flag not marked visible to client
 * keys is FLAG_NOT_FOUND; a stage change arrives over the event stream bulk evaluation advertises
 * (SSE, ADR-0008), within 1 s.
 */
const FLAG = 'of-web-banner';
/** Not marked visible to client keys. */
const HIDDEN = 'of-web-hidden';
/** The bound from the REST call's start to the DOM change. */
const STAGE_TO_DOM_MS = 1000;
/** The provider's poll, far longer than the test: every update it sees came through the event stream. */
const POLL_MS = 10 * 60_000;

/** The page's script: what an application does with OpenFeature, rendering the details it gets. */
const ENTRY = `
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const query = new URLSearchParams(location.search);
const text = (details) => JSON.stringify({ value: details.value, reason: details.reason, variant: details.variant, errorCode: details.errorCode });
const show = (details) => {
  document.getElementById('flag').textContent = text(details);
  document.getElementById('hidden').textContent = text(client.getBooleanDetails(${JSON.stringify(HIDDEN)}, true));
};
const provider = new OFREPWebProvider({
  baseUrl: query.get('server'),
  headers: [['Authorization', 'Bearer ' + query.get('key')]],
  // The server advertises an event stream, which the provider prefers; the poll is its fallback.
  pollInterval: ${POLL_MS},
});
await OpenFeature.setContext({ targetingKey: 'user-1' });
try {
  await OpenFeature.setProviderAndWait(provider);
} catch (error) {
  document.body.dataset.error = String(error);
}
const client = OpenFeature.getClient();
show(client.getBooleanDetails(${JSON.stringify(FLAG)}, false));
client.addHandler(ProviderEvents.ConfigurationChanged, () => show(client.getBooleanDetails(${JSON.stringify(FLAG)}, false)));
client.addHandler(ProviderEvents.Error, (event) => (document.body.dataset.error = String(event?.message)));
document.body.dataset.ready = 'true';
`;

interface Shown {
  value: boolean;
  reason?: string;
  variant?: string;
  errorCode?: string;
}

describe.skipIf(!ready)('OpenFeature web SDK + OFREP web provider in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let app: Server;
  let appUrl: string;
  let call: Api;
  let sdkKey: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startServerProcess(), launchChromium()]);
    ({ call, sdkKey } = await sdkSetup(server));
    const clientKey = await createClientKey(call);
    await createFlag(call, FLAG, { clientVisible: true });
    await createFlag(call, HIDDEN);
    await setStage(call, HIDDEN, '100%'); // on for everyone: only its absence can make the page show the default
    const bundle = await build({ stdin: { contents: ENTRY, resolveDir: join(ROOT, 'test'), loader: 'js' }, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false });
    const script = bundle.outputFiles[0]!.text;
    app = createServer((request, response) => {
      if (request.url === '/app.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><p id="flag"></p><p id="hidden"></p><script type="module" src="/app.js"></script>');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/?${new URLSearchParams({ server: server.url, key: clientKey })}`;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (app ? app.close(resolve) : resolve(undefined)));
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('serves the value and reason the server evaluates, FLAG_NOT_FOUND for a flag not visible to client keys, and a stage change over SSE within 1 s', async () => {
    const tab = await browser.newPage();
    const failedRequests: string[] = [];
    tab.on('requestfailed', (request) => failedRequests.push(`${request.url()} ${request.failure()?.errorText}`));
    tab.on('pageerror', (error) => failedRequests.push(`page error: ${error.message}`));
    const bulk = recordBulkRequests(tab);
    const streamOpen = eventStreamOpened(tab);
    await tab.goto(appUrl);
    await tab.locator('body[data-ready="true"]').waitFor({ timeout: 10_000 });
    const shown = async (id = 'flag') => JSON.parse((await tab.locator(`#${id}`).textContent()) ?? 'null') as Shown;

    // What the server itself answers for this flag and user, through the same protocol (single-flag
    // evaluation takes a server key: the application's server asks, not the page).
    const direct = async (flag = FLAG): Promise<Shown> => {
      const response = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${flag}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ context: { targetingKey: 'user-1' } }),
      });
      const { value, reason, variant } = (await response.json()) as Shown;
      return { value, reason, variant };
    };
    expect(await tab.getAttribute('body', 'data-error')).toBeNull();
    expect(await shown()).toEqual({ ...(await direct()), value: false }); // e.g. off, DISABLED
    // The server has a value for the hidden flag (on, 100%), but the client key never gets it.
    expect(await direct(HIDDEN)).toMatchObject({ value: true });
    expect(await shown('hidden')).toEqual({ value: true, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(failedRequests).toEqual([]);

    await streamOpen;
    const latency = await changeToDom(tab, '#flag', '"value":true', () => setStage(call, FLAG, '100%'));
    console.log(`[openfeature-web] stage change → DOM over the OFREP event stream: ${latency} ms (provider poll every ${POLL_MS / 60_000} min)`);
    expect(latency).toBeLessThan(STAGE_TO_DOM_MS);
    expect(await shown()).toEqual({ ...(await direct()), value: true });
    // The re-fetch was the notification's (it names the announced version); no poll ran.
    expect(bulk).toHaveLength(2);
    expect(bulk[0]).not.toContain('flagConfigEtag');
    expect(bulk[1]).toMatch(/\?flagConfigEtag=%22\d+%22$/);
    expect(await shown('hidden')).toMatchObject({ value: true, errorCode: 'FLAG_NOT_FOUND' });
    expect(failedRequests).toEqual([]);
    await tab.close();
  });
});
