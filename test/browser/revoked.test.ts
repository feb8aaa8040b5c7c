import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * A dashboard whose credential goes away — the token revoked by an admin elsewhere — returns to the
 * sign-in page by itself (the live stream says `revoked`), instead of showing stale data as "Offline".
 */
describe.skipIf(!ready)('dashboard after its token is revoked', () => {
  let server: ServerProcess;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServerProcess();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('goes back to the sign-in page within seconds, and the old cookie no longer works', async () => {
    const call = api(server.url, server.adminToken);
    const created = await call<{ id: number; token: string }>('POST', '/api/tokens', { name: 'pm', role: 'editor' });
    expect(created.status).toBe(201);
    const page = await browser.newPage();
    await signIn(page, server.url, created.body.token);
    await page.locator('.live-open').waitFor();

    expect((await call('DELETE', `/api/tokens/${created.body.id}`)).status).toBe(200);

    await page.getByLabel('API token').waitFor({ timeout: 5000 });
    const me = await page.evaluate(async () => (await fetch('/api/me')).status);
    expect(me).toBe(401);
  });
});
