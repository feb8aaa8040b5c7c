import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The flag list in a real browser against the real server process: every environment's stage side
 * by side, filters and sort kept in the URL (reload, shared links, back/forward), counts per stage,
 * a live change re-reading one row only, and no stale "Could not load flags" once the server is back.
 */
interface FlagJson {
  version: number;
}

const LIST = '/api/flag-summaries';

describe.skipIf(!ready)('flag list in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;

  async function stage(key: string, environment: string, to: string): Promise<void> {
    const flag = (await call<FlagJson>('GET', `/api/flags/${key}`)).body;
    const res = await call('POST', `/api/flags/${key}/environments/${environment}/stage`, { stage: to, version: flag.version });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }

  async function create(key: string, name: string, tags: string[], owner: string): Promise<void> {
    const res = await call('POST', '/api/flags', { key, name, tags, owner });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }

  const cell = (p: Page, key: string, environment: string) => p.locator(`tr[data-flag="${key}"] td[data-env="${environment}"]`);
  const badge = (p: Page, key: string, environment: string) => cell(p, key, environment).locator('.badge[data-stage]');
  const countText = (p: Page) => p.locator('.list-count').textContent();
  /** Wait until exactly these rows are drawn, in this order. */
  async function expectRows(p: Page, keys: string[]): Promise<void> {
    await p.waitForFunction((expected) => Array.from(document.querySelectorAll('tr[data-flag]')).map((r) => r.getAttribute('data-flag')).join(',') === expected, keys.join(','), { timeout: 5000 });
  }

  beforeAll(async () => {
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    // Created in this order, so "last change" is the reverse unless a later change says otherwise.
    await create('checkout-v2', 'New checkout', ['payments'], 'team-a');
    await create('search-ranking', 'Search ranking', ['search'], 'team-b');
    await create('dark-mode', 'Dark mode', ['ui', 'payments'], 'team-a');
    await create('old-banner', 'Old banner', [], 'team-b');
    await stage('checkout-v2', 'production', '10%');
    await stage('checkout-v2', 'staging', '100%');
    await stage('search-ranking', 'production', 'dogfood');
    await stage('dark-mode', 'production', '100%');
    await stage('old-banner', 'production', '100%');
    expect((await call('POST', '/api/flags/old-banner/environments/production/kill', {})).status).toBe(200);
    // A canary running in staging.
    expect((await call('PUT', '/api/flags/search-ranking/environments/staging/release-plan', { strategy: 'guarded' })).status).toBe(200);
    expect((await call('POST', '/api/flags/search-ranking/environments/staging/release-plan/start', {})).status).toBe(200);
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

  it('shows each flag in every environment side by side, in sort order, the critical one marked', async () => {
    await page.locator('tr[data-flag="checkout-v2"]').waitFor();
    const environments = (await call<{ items: { key: string; sortOrder: number; critical: boolean }[] }>('GET', '/api/environments')).body.items;
    const ordered = [...environments].sort((a, b) => a.sortOrder - b.sortOrder || a.key.localeCompare(b.key)).map((e) => e.key);
    expect(await page.locator('thead th[data-env]').evaluateAll((ths) => ths.map((th) => th.getAttribute('data-env')))).toEqual(ordered);
    for (const e of environments) expect(await page.locator(`thead th[data-env="${e.key}"]`).textContent()).toContain(e.critical ? '(critical)' : '');
    expect(await page.locator('thead th[data-env="production"]').textContent()).toContain('(critical)');

    expect(await badge(page, 'checkout-v2', 'production').getAttribute('data-stage')).toBe('10%');
    expect(await badge(page, 'checkout-v2', 'staging').getAttribute('data-stage')).toBe('100%');
    expect(await badge(page, 'checkout-v2', 'development').getAttribute('data-stage')).toBe('off');
    expect(await badge(page, 'old-banner', 'production').textContent()).toMatch(/Killed \(was 100%\)$/);
    expect(await cell(page, 'search-ranking', 'staging').locator('[data-plan]').textContent()).toMatch(/Canary$/);
    expect(await cell(page, 'search-ranking', 'production').locator('[data-plan]').count()).toBe(0);
    // The name is the link to the flag.
    expect(await page.locator('tr[data-flag="checkout-v2"]').getByRole('link', { name: 'New checkout' }).getAttribute('href')).toBe('/flags/checkout-v2');
  });

  it('counts flags per stage in the selected environment, and a chip filters on it', async () => {
    expect(await countText(page)).toMatch(/^Showing 4 of 4 flags/);
    const chips = page.getByRole('group', { name: 'Flags by stage in Production' });
    const chipNames = await chips.getByRole('button').evaluateAll((buttons) => buttons.map((b) => b.textContent));
    expect(chipNames).toEqual(['Off 0', 'Dogfood 1', 'Rollout 1', '100% 1', 'Killed 1', 'Custom 0']);

    await chips.getByRole('button', { name: 'Rollout 1' }).click();
    await expectRows(page, ['checkout-v2']);
    expect(await countText(page)).toMatch(/^Showing 1 of 4 flags/);
    expect(new URL(page.url()).searchParams.get('stage')).toBe('rollout');
    expect(await page.getByLabel('Stage in Production', { exact: true }).inputValue()).toBe('rollout');
    // Counts in another environment: staging has one flag at 100%, the rest off.
    await page.getByLabel('Environment', { exact: true }).selectOption('staging');
    await page.getByRole('group', { name: 'Flags by stage in Staging' }).waitFor();
    expect(await page.getByRole('group', { name: 'Flags by stage in Staging' }).getByRole('button').evaluateAll((b) => b.map((x) => x.textContent))).toEqual(['Off 2', 'Dogfood 0', 'Rollout 1', '100% 1', 'Killed 0', 'Custom 0']);
    expect(new URL(page.url()).searchParams.get('env')).toBe('staging');
    // The canary's first step put search-ranking on a partial rollout in staging.
    await expectRows(page, ['search-ranking']);
    await page.getByLabel('Environment', { exact: true }).selectOption('production');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expectRows(page, ['dark-mode', 'checkout-v2', 'old-banner', 'search-ranking']);
  });

  it('sorts by name, key, last change and stage in the selected environment', async () => {
    await page.getByLabel('Sort by', { exact: true }).selectOption('key');
    await expectRows(page, ['checkout-v2', 'dark-mode', 'old-banner', 'search-ranking']);
    await page.getByLabel('Sort by', { exact: true }).selectOption('stage');
    await expectRows(page, ['search-ranking', 'checkout-v2', 'dark-mode', 'old-banner']);
    await stage('dark-mode', 'staging', 'dogfood');
    await page.getByLabel('Sort by', { exact: true }).selectOption('updated');
    await expectRows(page, ['dark-mode', 'search-ranking', 'old-banner', 'checkout-v2']);
    await page.getByLabel('Sort by', { exact: true }).selectOption('name');
    await expectRows(page, ['dark-mode', 'checkout-v2', 'old-banner', 'search-ranking']);
  });

  it('filters by owner, from the owners in the data', async () => {
    const owners = await page.getByLabel('Owner', { exact: true }).locator('option').evaluateAll((options) => options.map((o) => o.textContent));
    expect(owners).toEqual(['Any owner', 'team-a', 'team-b']);
    await page.getByLabel('Owner', { exact: true }).selectOption('team-b');
    await expectRows(page, ['old-banner', 'search-ranking']);
    expect(await countText(page)).toMatch(/^Showing 2 of 4 flags/);
    await page.getByLabel('Owner', { exact: true }).selectOption('');
    await expectRows(page, ['dark-mode', 'checkout-v2', 'old-banner', 'search-ranking']);
  });

  it('keeps search, tag, owner, stage, sort and environment in the URL: reload, shared link, back and forward', async () => {
    await page.goto(`${server.url}/`);
    await page.locator('tr[data-flag]').first().waitFor();
    const historyBefore = await page.evaluate(() => history.length);
    await page.getByLabel('Search', { exact: true }).pressSequentially('check');
    // Typing replaces the history entry: no entry per keystroke.
    expect(await page.evaluate(() => history.length)).toBe(historyBefore);
    await page.getByLabel('Tag', { exact: true }).selectOption('payments');
    await page.getByLabel('Owner', { exact: true }).selectOption('team-a');
    await page.getByLabel('Sort by', { exact: true }).selectOption('updated');
    await page.getByLabel('Environment', { exact: true }).selectOption('staging');
    await page.getByLabel('Stage in Staging', { exact: true }).selectOption('full');
    await expectRows(page, ['checkout-v2']);
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).toEqual({ q: 'check', tag: 'payments', owner: 'team-a', stage: 'full', sort: 'updated', env: 'staging' });

    const same = async (p: Page) => {
      await expectRows(p, ['checkout-v2']);
      expect(await p.getByLabel('Search', { exact: true }).inputValue()).toBe('check');
      expect(await p.getByLabel('Tag', { exact: true }).inputValue()).toBe('payments');
      expect(await p.getByLabel('Owner', { exact: true }).inputValue()).toBe('team-a');
      expect(await p.getByLabel('Stage in Staging', { exact: true }).inputValue()).toBe('full');
      expect(await p.getByLabel('Sort by', { exact: true }).inputValue()).toBe('updated');
      expect(await p.getByLabel('Environment', { exact: true }).inputValue()).toBe('staging');
      expect(await p.getByRole('heading', { name: /^Flags/ }).textContent()).toBe('Flags in Staging');
    };
    await page.reload();
    await same(page);

    // A shared link opened directly by someone else, whose dashboard shows production.
    const other = await browser.newContext();
    const tab = await other.newPage();
    await signIn(tab, server.url, server.adminToken);
    expect(await tab.getByLabel('Environment', { exact: true }).inputValue()).toBe('production');
    await tab.goto(url.href);
    await same(tab);
    await other.close();

    // Back undoes the last choice from a menu; forward redoes it.
    await page.getByLabel('Owner', { exact: true }).selectOption('team-b');
    await expectRows(page, []);
    expect(await page.locator('.empty').textContent()).toBe('No flag matches these filters.');
    await page.goBack();
    await same(page);
    await page.goForward();
    await page.locator('.empty').waitFor();
    expect(new URL(page.url()).searchParams.get('owner')).toBe('team-b');

    // Leave the list unfiltered, in production, for the tests after this one.
    await page.goto(`${server.url}/?env=production`);
    await expectRows(page, ['dark-mode', 'checkout-v2', 'old-banner', 'search-ranking']);
  });

  it('redraws one row on a live change, reading that flag only, never the whole list', async () => {
    const listRequests: string[] = [];
    const rowRequests: string[] = [];
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path === LIST) listRequests.push(path);
      else if (path.startsWith(`${LIST}/`)) rowRequests.push(path);
    });
    await page.reload();
    await page.locator('tr[data-flag="dark-mode"]').waitFor();
    expect(listRequests).toHaveLength(1);
    // The other rows keep their DOM nodes.
    await page.locator('tr[data-flag="checkout-v2"]').evaluate((row) => ((row as HTMLElement & { marked?: boolean }).marked = true));

    await stage('dark-mode', 'production', '50%');
    await page.locator('tr[data-flag="dark-mode"] td[data-env="production"] .badge[data-stage="50%"]').waitFor({ timeout: 5000 });
    expect(rowRequests).toContain(`${LIST}/dark-mode`);
    expect(await countText(page)).toMatch(/^Showing 4 of 4 flags/);
    expect(await page.getByRole('group', { name: 'Flags by stage in Production' }).getByRole('button', { name: /^Rollout/ }).textContent()).toBe('Rollout 2');

    // A deleted flag leaves the list (its summary answers 404).
    const { version } = (await call<FlagJson>('GET', '/api/flags/old-banner')).body;
    expect((await call('DELETE', '/api/flags/old-banner', { version })).status).toBe(200);
    await page.locator('tr[data-flag="old-banner"]').waitFor({ state: 'detached', timeout: 5000 });
    expect(rowRequests).toContain(`${LIST}/old-banner`);
    expect(await countText(page)).toMatch(/^Showing 3 of 3 flags/);

    expect(listRequests).toHaveLength(1);
    expect(await page.locator('tr[data-flag="checkout-v2"]').evaluate((row) => (row as HTMLElement & { marked?: boolean }).marked)).toBe(true);
  });

  // Restarting the server takes seconds on a busy machine: this test gets more time than the others.
  it('clears "Could not load flags" once the server is back, without a reload', { timeout: 120_000 }, async () => {
    const loadError = page.getByRole('alert').filter({ hasText: 'Could not load flags' });
    await server.stop();
    // Open the list while the server is down: the load fails.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('link', { name: 'Flags', exact: true }).click();
    await loadError.waitFor({ timeout: 10_000 });

    // The same port and data directory: the page's session and its live-update stream come back.
    server = await startServerProcess({ port: server.port, dataDir: server.dataDir, timeoutMs: 90_000 });
    // The list retries with backoff (at most 5 s apart) until the server answers.
    await loadError.waitFor({ state: 'detached', timeout: 15_000 });
    await page.locator('tr[data-flag="dark-mode"]').waitFor();
    expect(await countText(page)).toMatch(/^Showing 3 of 3 flags/);
    await page.locator('.live-open').waitFor({ timeout: 10_000 });
  });
});
