import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Lifecycle and code references in the dashboard, in Chromium against the real server (started with
 * `--lifecycle-launched-days 0 --lifecycle-new-days 0`, so a flag at 100% everywhere is launched at
 * once): the list's lifecycle badges and filter (kept in the URL), and the flag page's "Code
 * references" tab — where the flag is used, and when its last reference disappeared.
 */
const ENVIRONMENTS = ['development', 'staging', 'production'];

describe.skipIf(!ready)('lifecycle and code references in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;

  const stage = async (key: string, environment: string, to: string) => {
    const { version } = (await call<{ version: number }>('GET', `/api/flags/${key}`)).body;
    expect((await call('POST', `/api/flags/${key}/environments/${environment}/stage`, { stage: to, version })).status).toBe(200);
  };
  const upload = async (references: { flag: string; path: string; line: number; snippet: string }[]) => {
    const res = await call('PUT', '/api/code-refs', { repository: 'github.com/acme/shop', branch: 'main', commit: '0123456789abcdef0123', references });
    expect(res.status).toBe(200);
  };
  const visibleKeys = () => page.$$eval('tr[data-flag]', (rows) => rows.map((r) => r.getAttribute('data-flag')));

  beforeAll(async () => {
    server = await startServerProcess({ args: ['--lifecycle-launched-days', '0', '--lifecycle-new-days', '0'] });
    call = api(server.url, server.adminToken);
    for (const [key, name] of [['new-checkout', 'New checkout'], ['search-v2', 'Search v2'], ['old-banner', 'Old banner']]) {
      expect((await call('POST', '/api/flags', { key, name })).status).toBe(201);
    }
    for (const env of ENVIRONMENTS) await stage('new-checkout', env, '100%');
    await upload([
      { flag: 'new-checkout', path: 'web/src/checkout.ts', line: 12, snippet: "if (client.isEnabled('new-checkout', user)) {" },
      { flag: 'old-banner', path: 'web/src/banner.tsx', line: 3, snippet: "useFlag('old-banner')" },
    ]);
    // The banner's reference is removed from the code.
    await upload([{ flag: 'new-checkout', path: 'web/src/checkout.ts', line: 12, snippet: "if (client.isEnabled('new-checkout', user)) {" }]);
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

  it('badges each row with its lifecycle and filters on it, in the URL', async () => {
    await page.goto(`${server.url}/flags`);
    await page.locator('tr[data-flag="new-checkout"]').waitFor();
    expect(await page.locator('tr[data-flag="new-checkout"] [data-lifecycle]').textContent()).toBe('Launched');
    // Active is the usual case: no badge.
    expect(await page.locator('tr[data-flag="search-v2"] [data-lifecycle]').count()).toBe(0);

    await page.getByLabel('Lifecycle', { exact: true }).selectOption('launched');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-flag]').length === 1);
    expect(await visibleKeys()).toEqual(['new-checkout']);
    expect(new URL(page.url()).searchParams.get('lifecycle')).toBe('launched');

    await page.reload();
    await page.locator('tr[data-flag="new-checkout"]').waitFor();
    expect(await page.getByLabel('Lifecycle', { exact: true }).inputValue()).toBe('launched');
    expect(await visibleKeys()).toEqual(['new-checkout']);

    await page.getByLabel('Lifecycle', { exact: true }).selectOption('stale');
    await page.getByText('No flag matches these filters.').waitFor();
  });

  it('shows where a flag is used on its page', async () => {
    await page.goto(`${server.url}/flags/new-checkout#code`);
    const section = page.locator('section.code-refs');
    await section.getByText('web/src/checkout.ts:12').waitFor();
    expect(await section.locator('h3').textContent()).toContain('github.com/acme/shop · main');
    expect(await section.locator('h3').textContent()).toContain('0123456789ab');
    expect(await section.locator('code.snippet').textContent()).toBe("if (client.isEnabled('new-checkout', user)) {");
    expect(await section.getByTestId('lifecycle').textContent()).toContain('Launched');
  });

  it('says when the last reference disappeared', async () => {
    await page.goto(`${server.url}/flags/old-banner#code`);
    const empty = page.getByTestId('no-code-refs');
    await empty.waitFor();
    expect(await empty.textContent()).toMatch(/No code references any more: the last one disappeared (just now|.* ago)\./);
  });
});
