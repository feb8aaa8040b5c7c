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
 * The standard route for the browser: OpenFeature's web SDK with the community OFREP web provider
 * (`@openfeature/ofrep-web-provider`), unmodified, against the real server from another origin.
 * The flag's value and reason come through, and a stage change arrives with the provider's poll.
 */
const FLAG = 'of-web-banner';

/** The page's script: what an application does with OpenFeature, rendering the details it gets. */
const ENTRY = `
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const query = new URLSearchParams(location.search);
const show = (details) => {
  document.getElementById('flag').textContent = JSON.stringify({ value: details.value, reason: details.reason, variant: details.variant, errorCode: details.errorCode });
};
const provider = new OFREPWebProvider({
  baseUrl: query.get('server'),
  headers: [['Authorization', 'Bearer ' + query.get('key')]],
  // No OFREP event streams on the server yet: the provider polls (200 ms so the test is quick).
  pollInterval: 200,
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
    await createFlag(call, FLAG);
    const bundle = await build({ stdin: { contents: ENTRY, resolveDir: join(ROOT, 'test'), loader: 'js' }, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false });
    const script = bundle.outputFiles[0]!.text;
    app = createServer((request, response) => {
      if (request.url === '/app.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><p id="flag"></p><script type="module" src="/app.js"></script>');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/?${new URLSearchParams({ server: server.url, key: sdkKey })}`;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (app ? app.close(resolve) : resolve(undefined)));
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('serves the value and reason the server evaluates, and follows a stage change with its poll', async () => {
    const tab = await browser.newPage();
    const failedRequests: string[] = [];
    tab.on('requestfailed', (request) => failedRequests.push(`${request.url()} ${request.failure()?.errorText}`));
    tab.on('pageerror', (error) => failedRequests.push(`page error: ${error.message}`));
    await tab.goto(appUrl);
    await tab.locator('body[data-ready="true"]').waitFor({ timeout: 10_000 });
    const shown = async () => JSON.parse((await tab.locator('#flag').textContent()) ?? 'null') as Shown;

    // What the server itself answers for this flag and user, through the same protocol.
    const direct = async (): Promise<Shown> => {
      const response = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${FLAG}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ context: { targetingKey: 'user-1' } }),
      });
      const { value, reason, variant } = (await response.json()) as Shown;
      return { value, reason, variant };
    };
    expect(await tab.getAttribute('body', 'data-error')).toBeNull();
    expect(await shown()).toEqual({ ...(await direct()), value: false }); // e.g. off, DISABLED
    expect(failedRequests).toEqual([]);

    await setStage(call, FLAG, '100%');
    await tab.locator('#flag', { hasText: '"value":true' }).waitFor({ timeout: 5000 });
    expect(await shown()).toEqual({ ...(await direct()), value: true });
    expect(failedRequests).toEqual([]);
    await tab.close();
  });
});
