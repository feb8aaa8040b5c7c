import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Prerequisites in the dashboard (issue 15): added in the targeting editor, refused with the
 * server's message next to the row, and explained by the preview ("prerequisite payments not met"),
 * which runs the SDK's evaluator over the environment's other flags.
 */
describe.skipIf(!ready)('prerequisites in the dashboard', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;

  async function stage(key: string, to: string): Promise<void> {
    const flag = (await call<{ version: number }>('GET', `/api/flags/${key}`)).body;
    expect((await call('POST', `/api/flags/${key}/environments/production/stage`, { stage: to, version: flag.version })).status).toBe(200);
  }

  beforeAll(async () => {
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    for (const key of ['payments', 'checkout']) expect((await call('POST', '/api/flags', { key })).status).toBe(201);
    await stage('checkout', '100%');
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, server.url, server.adminToken);
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  async function saveTargeting(): Promise<void> {
    await page.getByRole('button', { name: 'Save targeting' }).click();
    const dialog = page.getByRole('dialog');
    // Production is critical: the save asks first.
    if (await dialog.isVisible().catch(() => false)) await dialog.getByRole('button', { name: 'Save' }).click();
  }

  it('adds a prerequisite in the targeting editor, and the preview says when it is not met', async () => {
    await page.goto(`${server.url}/flags/checkout?env=production#targeting`);
    await page.getByRole('tab', { name: 'Targeting' }).click();
    await page.getByRole('button', { name: 'Add prerequisite' }).click();
    await page.locator('#tg-pre-0-flag').selectOption('payments');
    expect(await page.locator('#tg-pre-0-variation').inputValue()).toBe('on');
    await saveTargeting();
    await expect.poll(async () => (await call<{ environments: Record<string, { prerequisites?: unknown }> }>('GET', '/api/flags/checkout')).body.environments.production?.prerequisites, { timeout: 5000 }).toEqual([
      { flag: 'payments', variation: 'on' },
    ]);

    await page.getByRole('tab', { name: 'Preview' }).click();
    await page.getByLabel('User ID', { exact: true }).fill('user-1');
    await expect.poll(() => page.getByTestId('preview-reason').textContent(), { timeout: 5000 }).toBe('PREREQUISITE_FAILED');
    expect(await page.getByTestId('preview-prerequisite').textContent()).toBe('payments');
    expect(await page.getByTestId('preview-value').textContent()).toBe('false');

    // Once payments serves "on" to everyone, checkout's own targeting applies.
    await stage('payments', '100%');
    await page.reload();
    await page.getByRole('tab', { name: 'Preview' }).click();
    await page.getByLabel('User ID', { exact: true }).fill('user-1');
    await expect.poll(() => page.getByTestId('preview-reason').textContent(), { timeout: 5000 }).toBe('STATIC');
    expect(await page.getByTestId('preview-value').textContent()).toBe('true');
    expect(await page.getByTestId('preview-prerequisite').count()).toBe(0);
  });

  it("shows the server's refusal of a cycle next to the prerequisites", async () => {
    await page.goto(`${server.url}/flags/payments?env=production`);
    await page.getByRole('tab', { name: 'Targeting' }).click();
    await page.getByRole('button', { name: 'Add prerequisite' }).click();
    await page.locator('#tg-pre-0-flag').selectOption('checkout');
    await saveTargeting();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'prerequisite cycle in production: payments → checkout → payments' }).count(), { timeout: 5000 }).toBeGreaterThan(0);
  });
});
