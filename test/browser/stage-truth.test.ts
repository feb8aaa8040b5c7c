import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The stage badge tells the truth, in a real browser against the real server process. The issue:
 * dogfood plus a rule `plan in [pro]` serving the release variation read "Dogfood" while the
 * preview showed a pro user who is no employee getting `true`. And a kill forgot where the flag was:
 * now the kill panel offers "Restore to 100%", confirmed in production, and the flag is back.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const ENV = 'production';
const PRO_RULE = { id: 'pro', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } };

interface FlagJson {
  version: number;
  environments: Record<string, { stage: string; stageSummary?: string; rules: unknown[] }>;
}

describe.skipIf(!ready)('stage badges in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;

  const header = (p: Page) => p.locator('.flag-page > header .badge[data-stage]');

  async function stage(key: string, to: string): Promise<void> {
    const flag = (await call<FlagJson>('GET', `/api/flags/${key}`)).body;
    const res = await call('POST', `/api/flags/${key}/environments/${ENV}/stage`, { stage: to, version: flag.version });
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it('calls dogfood plus a pro rule "Custom: dogfood + 1 rule", in the list and on the flag page', async () => {
    expect((await call('POST', '/api/flags', { key: 'pro-checkout', name: 'Pro checkout' })).status).toBe(201);
    await stage('pro-checkout', 'dogfood');
    const flag = (await call<FlagJson>('GET', '/api/flags/pro-checkout')).body;
    const patched = await call('PATCH', `/api/flags/pro-checkout/environments/${ENV}`, { version: flag.version, rules: [...flag.environments[ENV]!.rules, PRO_RULE] });
    expect(patched.status).toBe(200);

    await signIn(page, server.url, server.adminToken);
    const row = page.locator(`tr[data-flag="pro-checkout"] td[data-env="${ENV}"] .badge[data-stage]`);
    await row.waitFor();
    expect(await row.getAttribute('data-stage')).toBe('custom');
    expect(await row.textContent()).toMatch(/Custom: dogfood \+ 1 rule$/);

    await page.screenshot({ path: join(ARTIFACTS, 'stage-custom-list.png') });
    await page.getByRole('link', { name: 'Pro checkout' }).click();
    await header(page).waitFor();
    expect(await header(page).getAttribute('data-stage')).toBe('custom');
    expect(await header(page).textContent()).toContain('Custom: dogfood + 1 rule');
    expect(await page.locator('.stepper-wrap').textContent()).toContain('Current stage: Custom: dogfood + 1 rule');
    await page.screenshot({ path: join(ARTIFACTS, 'stage-custom.png') });

    // What the badge now agrees with: a pro user who is not a dogfood user gets the flag.
    await page.getByRole('tab', { name: 'Preview' }).click();
    await page.getByLabel('User ID', { exact: true }).fill('customer-1');
    await page.getByLabel(/Other attributes/).fill('plan=pro');
    await page.locator('[data-testid="preview-value"]', { hasText: 'true' }).waitFor({ timeout: 5000 });
  });

  it('offers "Restore to 100%" after a kill, confirmed in production, and is back at 100%', async () => {
    expect((await call('POST', '/api/flags', { key: 'search-v2', name: 'Search v2' })).status).toBe(201);
    await stage('search-v2', '100%');
    await page.goto(`${server.url}/flags/search-v2`);
    await page.locator('.flag-page > header .badge[data-stage="100%"]').waitFor();

    await page.getByRole('button', { name: 'Kill switch' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Kill now' }).click();
    await page.locator('.flag-page > header .badge[data-stage="kill"]').waitFor();
    expect(await header(page).textContent()).toContain('Killed (was 100%)');

    await page.screenshot({ path: join(ARTIFACTS, 'stage-killed-restore.png') });
    await page.getByRole('button', { name: 'Restore to 100%' }).click();
    // Production is critical: the restore asks first, like every other production change.
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('back to 100%');
    await dialog.getByRole('button', { name: 'Restore to 100%' }).click();
    await page.locator('.flag-page > header .badge[data-stage="100%"]').waitFor();
    expect(await page.getByRole('button', { name: 'Restore to 100%' }).count()).toBe(0);

    const after = (await call<FlagJson>('GET', '/api/flags/search-v2')).body;
    expect(after.environments[ENV]).toMatchObject({ stage: '100%', stageSummary: '100%' });
    const audit = (await call<{ items: { action: string; resourceKey: string; environment: string; message: string | null }[] }>('GET', '/api/audit?resourceType=flag&limit=1')).body;
    expect(audit.items[0]).toMatchObject({ action: 'flag.stage_changed', resourceKey: 'search-v2', environment: ENV, message: 'restored to 100% after a kill' });
  });
});
