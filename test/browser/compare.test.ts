import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Comparing a flag's targeting in two environments, in Chromium against the real server: staging
 * at 50% with a pro rule, production at 10%; the page marks what differs (stage, rollout, the rule
 * only staging has) and what does not (on, dogfood), and its URL — written by the pickers — brings
 * the same comparison back after a reload.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const FLAG = 'new-checkout';
const PRO_RULE = { id: 'pro', description: 'Pro plans', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } };

interface FlagJson {
  version: number;
  environments: Record<string, { rules: unknown[] }>;
}

describe.skipIf(!ready)('the compare page in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;

  const flag = async () => (await call<FlagJson>('GET', `/api/flags/${FLAG}`)).body;
  const stage = async (environment: string, to: string) => {
    const res = await call('POST', `/api/flags/${FLAG}/environments/${environment}/stage`, { stage: to, version: (await flag()).version });
    expect(res.status).toBe(200);
  };
  const row = (id: string) => page.locator(`tr[data-row="${id}"]`);
  const path = () => {
    const url = new URL(page.url());
    return url.pathname + url.search;
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    expect((await call('POST', '/api/flags', { key: FLAG, name: 'New checkout' })).status).toBe(201);
    expect((await call('POST', '/api/flags', { key: 'search-v2', name: 'Search v2' })).status).toBe(201);
    await stage('staging', '50%');
    await stage('production', '10%');
    const current = await flag();
    const patched = await call('PATCH', `/api/flags/${FLAG}/environments/staging`, { version: current.version, rules: [...current.environments.staging!.rules, PRO_RULE] });
    expect(patched.status).toBe(200);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
    await signIn(page, server.url, server.adminToken);
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it('shows staging and production side by side, marking what differs', async () => {
    await page.goto(`${server.url}/compare?flag=${FLAG}&a=staging&b=production`);
    await page.getByRole('heading', { name: 'Compare environments' }).waitFor();
    // Stage, rollout and the pro rule differ.
    expect(await page.getByRole('status').filter({ hasText: 'difference' }).textContent()).toBe('3 differences between Staging and Production.');
    expect(await page.locator('.compare-table thead').textContent()).toBe('SettingStagingProduction');

    expect(await row('rollout').getAttribute('data-differs')).toBe('true');
    expect(await row('rollout').locator('td').allTextContents()).toEqual(['50% on / 50% off', '10% on / 90% off']);
    expect(await row('rollout').locator('th').textContent()).toContain('differs');
    expect(await row('stage').getAttribute('data-differs')).toBe('true');
    expect(await row('stage').locator('td').first().textContent()).toContain('Custom: 50% + 1 rule');
    expect(await row('stage').locator('td').last().textContent()).toContain('10%');
    expect(await row('rule:pro:0').getAttribute('data-differs')).toBe('true');
    expect(await row('rule:pro:0').locator('th').textContent()).toContain('Rule pro (only in staging)');
    expect(await row('rule:pro:0').locator('td').first().textContent()).toContain('#2 pro — Pro plans');
    expect(await row('rule:pro:0').locator('td').last().textContent()).toBe('no such rule');
    // The same in both: on, and the dogfood rule first.
    expect(await row('on').getAttribute('data-differs')).toBe('false');
    expect(await row('on').locator('th').textContent()).not.toContain('differs');
    expect(await row('rule:dogfood:0').getAttribute('data-differs')).toBe('false');
    await page.screenshot({ path: join(ARTIFACTS, 'compare-environments.png'), fullPage: true });

    await page.getByLabel('Show only differences').check();
    expect(await page.locator('tr.compare-row').count()).toBe(3);
    await page.getByLabel('Show only differences').uncheck();

    await page.getByRole('link', { name: 'New checkout' }).click();
    await page.waitForURL(`${server.url}/flags/${FLAG}`);
  });

  it('keeps the pickers in the URL (in place), and a reload brings the same comparison back', async () => {
    await page.goto(`${server.url}/compare?flag=${FLAG}`);
    await row('rollout').waitFor();
    // What the URL left out is filled in with the defaults: staging against production.
    expect(path()).toBe(`/compare?flag=${FLAG}&a=staging&b=production`);
    const entries = await page.evaluate(() => history.length);

    await page.getByLabel('Environment A').selectOption('development');
    await page.getByRole('status').filter({ hasText: 'between Development and Production' }).waitFor();
    expect(path()).toBe(`/compare?flag=${FLAG}&a=development&b=production`);
    // Development is off: the on row differs now.
    expect(await row('on').getAttribute('data-differs')).toBe('true');
    expect(await row('on').locator('td').allTextContents()).toEqual(['off', 'on']);

    await page.getByRole('button', { name: 'Swap' }).click();
    await page.getByRole('status').filter({ hasText: 'between Production and Development' }).waitFor();
    expect(path()).toBe(`/compare?flag=${FLAG}&a=production&b=development`);

    await page.getByLabel('Flag', { exact: true }).selectOption('search-v2');
    await page.getByRole('status').filter({ hasText: 'configured the same' }).waitFor();
    expect(path()).toBe('/compare?flag=search-v2&a=production&b=development');
    // replaceState: choosing did not add history entries.
    expect(await page.evaluate(() => history.length)).toBe(entries);

    await page.getByLabel('Flag', { exact: true }).selectOption(FLAG);
    await page.getByRole('status').filter({ hasText: 'between Production and Development' }).waitFor();
    await page.reload();
    await page.getByRole('status').filter({ hasText: 'between Production and Development' }).waitFor();
    expect(path()).toBe(`/compare?flag=${FLAG}&a=production&b=development`);
    expect(await page.getByLabel('Flag', { exact: true }).inputValue()).toBe(FLAG);
    expect(await page.getByLabel('Environment A').inputValue()).toBe('production');
    expect(await page.getByLabel('Environment B').inputValue()).toBe('development');
    expect(await row('on').locator('td').allTextContents()).toEqual(['on', 'off']);
  });

  it('says so when the flag does not exist', async () => {
    await page.goto(`${server.url}/compare?flag=nope&a=staging&b=production`);
    expect(await page.getByRole('alert').filter({ hasText: 'There is no flag' }).textContent()).toBe('There is no flag "nope".');
  });
});
