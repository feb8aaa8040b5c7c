import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The flag page fits a screen (issue 13): at 1280×800 the summary and the release controls show
 * without scrolling, the rest sits behind tabs whose choice is in the URL; a save's outcome shows
 * where the save happened, even at the bottom of a long page; rules saved on an off flag say they
 * serve nobody; and a change someone else makes arrives as a toast, while your own do not.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const VIEWPORT = { width: 1280, height: 800 };
const ENV = 'production';

interface FlagJson {
  version: number;
  environments: Record<string, { stage: string; rules: unknown[] }>;
}

describe.skipIf(!ready)('the flag page in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;
  /** Another token, "ci-bot": its changes are someone else's. */
  let bot: ReturnType<typeof api>;

  const headerStage = (stage: string) => page.locator(`.flag-page > header .badge[data-stage="${stage}"]`).waitFor({ timeout: 5000 });
  const toasts = () => page.getByRole('region', { name: 'Changes by others' }).getByRole('status');

  async function stage(as: ReturnType<typeof api>, key: string, to: string, env = ENV): Promise<void> {
    const flag = (await call<FlagJson>('GET', `/api/flags/${key}`)).body;
    const res = await as('POST', `/api/flags/${key}/environments/${env}/stage`, { stage: to, version: flag.version });
    expect(res.status).toBe(200);
  }

  /** The element's box lies entirely inside the 1280×800 window, as it is scrolled now. */
  async function inViewport(locator: Locator): Promise<boolean> {
    const box = await locator.boundingBox();
    if (!box) return false;
    return box.y >= 0 && box.x >= 0 && box.y + box.height <= VIEWPORT.height && box.x + box.width <= VIEWPORT.width;
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    const token = (await call<{ token: string }>('POST', '/api/tokens', { name: 'ci-bot', role: 'editor' })).body.token;
    bot = api(server.url, token);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: VIEWPORT });
    await signIn(page, server.url, server.adminToken);
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it('shows the summary and release controls without scrolling, the rest in tabs kept in the URL', async () => {
    expect((await call('POST', '/api/flags', { key: 'checkout-v2', name: 'Checkout v2', description: 'A new checkout.\nLine two.\nLine three.\nLine four.' })).status).toBe(201);
    await stage(call, 'checkout-v2', '10%');
    await page.goto(`${server.url}/flags/checkout-v2`);
    await headerStage('10%');
    await page.screenshot({ path: join(ARTIFACTS, 'flag-page-1280x800.png') });

    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    expect(await inViewport(page.getByRole('heading', { level: 1, name: 'Checkout v2' }))).toBe(true);
    expect(await inViewport(page.getByRole('list', { name: 'Release stages' }))).toBe(true);
    expect(await inViewport(page.getByRole('button', { name: 'Kill switch' }))).toBe(true);
    expect(await page.getByTestId('flag-state').textContent()).toBe('On');

    // Everything else is one tab away, and only the chosen panel shows.
    const tablist = page.getByRole('tablist', { name: 'Settings of Checkout v2' });
    expect(await tablist.getByRole('tab').allTextContents()).toEqual(['Targeting', 'Preview', 'Dogfood users', 'Variations', 'Details', 'Client keys', 'History', 'Code references', 'Evaluations']);
    expect(await tablist.getByRole('tab', { name: 'Targeting' }).getAttribute('aria-selected')).toBe('true');
    await page.getByRole('tabpanel', { name: 'Targeting' }).getByRole('heading', { name: 'Targeting in Production' }).waitFor();
    expect(await page.getByRole('heading', { name: 'History' }).count()).toBe(0);

    // Arrow keys move along the tabs and open them; the choice lands in the URL hash.
    await tablist.getByRole('tab', { name: 'Targeting' }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Preview');
    await page.getByRole('tabpanel', { name: 'Preview' }).getByLabel('User ID', { exact: true }).waitFor();
    await page.keyboard.press('End');
    await page.getByRole('tabpanel', { name: 'Evaluations' }).waitFor();
    expect(new URL(page.url()).hash).toBe('#evaluations');
    await page.keyboard.press('ArrowRight');
    expect(new URL(page.url()).hash).toBe('#targeting');
    await page.keyboard.press('ArrowLeft');
    expect(new URL(page.url()).hash).toBe('#evaluations');
    await page.keyboard.press('ArrowLeft');
    await page.getByRole('tabpanel', { name: 'Code references' }).getByRole('heading', { name: 'Code references' }).waitFor();
    expect(new URL(page.url()).hash).toBe('#code');

    // A link opens the tab it names.
    await page.goto(`${server.url}/flags/checkout-v2#details`);
    await page.getByRole('tabpanel', { name: 'Details' }).getByLabel('Owner').waitFor();
    expect(await tablist.getByRole('tab', { name: 'Details' }).getAttribute('aria-selected')).toBe('true');
    expect(await tablist.getByRole('tab', { name: 'Details' }).getAttribute('tabindex')).toBe('0');
    expect(await tablist.getByRole('tab', { name: 'Targeting' }).getAttribute('tabindex')).toBe('-1');

    // Compare environments: the first other environment against the one on screen.
    const environments = (await call<{ items: { key: string; sortOrder: number }[] }>('GET', '/api/environments')).body.items.sort((a, b) => a.sortOrder - b.sortOrder || a.key.localeCompare(b.key));
    const other = environments.find((e) => e.key !== ENV)!.key;
    expect(await page.getByRole('link', { name: 'Compare environments' }).getAttribute('href')).toBe(`/compare?flag=checkout-v2&a=${other}&b=${ENV}`);
  });

  it('after a kill shows Killed and offers the stage it was at, in view, and restores it', async () => {
    await page.goto(`${server.url}/flags/checkout-v2`);
    await headerStage('10%');
    await page.getByRole('button', { name: 'Kill switch' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Kill now' }).click();
    await headerStage('kill');
    expect(await page.getByTestId('flag-state').textContent()).toBe('Killed');
    const restore = page.getByRole('button', { name: 'Restore to 10%' });
    expect(await inViewport(restore)).toBe(true);
    await restore.click();
    await page.getByRole('dialog').getByRole('button', { name: 'Restore to 10%' }).click();
    await headerStage('10%');
    expect(await page.getByRole('status').filter({ hasText: 'Checkout v2 is back at 10% in Production.' }).isVisible()).toBe(true);
  });

  it('toasts a change by someone else — with the stage move — and not your own', async () => {
    await page.goto(`${server.url}/flags/checkout-v2`);
    await headerStage('10%');

    await stage(bot, 'checkout-v2', '50%');
    const moved = toasts().filter({ hasText: 'ci-bot moved this to 50% in Production.' });
    await moved.waitFor({ timeout: 5000 });
    await headerStage('50%');
    expect(await moved.getAttribute('aria-live')).toBe('polite');
    await page.screenshot({ path: join(ARTIFACTS, 'flag-page-toast.png') });
    // Bottom-right, clear of the release controls.
    const box = (await moved.boundingBox())!;
    expect(box.x + box.width).toBeGreaterThan(VIEWPORT.width - 40);
    expect(box.y + box.height).toBeGreaterThan(VIEWPORT.height - 120);
    for (const control of [page.getByRole('list', { name: 'Release stages' }), page.getByRole('button', { name: 'Kill switch' })]) {
      const c = (await control.boundingBox())!;
      const overlaps = c.x < box.x + box.width && box.x < c.x + c.width && c.y < box.y + box.height && box.y < c.y + c.height;
      expect(overlaps).toBe(false);
    }
    await page.getByRole('button', { name: 'Dismiss: ci-bot moved this to 50% in Production.' }).click();
    await moved.waitFor({ state: 'detached' });

    // No stage moved: it just says who changed the flag.
    const flag = (await call<FlagJson>('GET', '/api/flags/checkout-v2')).body;
    expect((await bot('PATCH', '/api/flags/checkout-v2', { tags: ['checkout'], version: flag.version })).status).toBe(200);
    const changed = toasts().filter({ hasText: 'ci-bot changed this flag.' });
    await changed.waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: 'Dismiss: ci-bot changed this flag.' }).click();
    await changed.waitFor({ state: 'detached' });

    // Your own change, here or through the API with your token, is not news.
    await page.locator('.step-button[data-stage="100%"]').click();
    await page.getByRole('dialog').getByRole('button', { name: /^Move to/ }).click();
    await headerStage('100%');
    await stage(call, 'checkout-v2', '10%');
    await headerStage('10%');
    // …and the next change by someone else is the only toast.
    await stage(bot, 'checkout-v2', 'dogfood');
    await toasts().filter({ hasText: 'ci-bot moved this to Dogfood in Production.' }).waitFor({ timeout: 5000 });
    expect(await toasts().count()).toBe(1);
  });

  it('hides a toast by itself after about 8 seconds', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const other = await context.newPage();
    await other.clock.install();
    await signIn(other, server.url, server.adminToken);
    await other.goto(`${server.url}/flags/checkout-v2`);
    await other.locator('.flag-page > header .badge[data-stage="dogfood"]').waitFor();
    await stage(bot, 'checkout-v2', '10%');
    const toast = other.getByRole('region', { name: 'Changes by others' }).getByRole('status').filter({ hasText: 'ci-bot moved this to 10% in Production.' });
    await toast.waitFor({ timeout: 5000 });
    await other.clock.runFor(5000);
    expect(await toast.isVisible()).toBe(true);
    await other.clock.runFor(3500);
    await toast.waitFor({ state: 'detached', timeout: 2000 });
    await context.close();
  });

  it('says where a targeting save landed, beside the form at the bottom of a long page, and that an off flag serves nobody', async () => {
    expect((await call('POST', '/api/flags', { key: 'quiet-launch', name: 'Quiet launch' })).status).toBe(201);
    const flag = (await call<FlagJson>('GET', '/api/flags/quiet-launch')).body;
    // Enough rules to make the page a few thousand pixels long.
    const rules = Array.from({ length: 14 }, (_, i) => ({ id: `rule-${i + 1}`, clauses: [{ attribute: 'email', operator: 'ends_with', values: [`@team${i}.example`] }], serve: { variation: 'on' } }));
    expect((await call('PATCH', '/api/flags/quiet-launch/environments/staging', { version: flag.version, rules })).status).toBe(200);

    await page.goto(`${server.url}/flags/quiet-launch#targeting`);
    await page.locator('#env-select').selectOption('staging');
    await page.getByRole('heading', { name: 'Targeting in Staging' }).waitFor();
    expect(await page.getByTestId('flag-state').textContent()).toBe('Off');
    expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeGreaterThan(3000);

    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.locator('#tg-r14-c0-values').fill('@example.com');
    const save = page.getByRole('button', { name: 'Save targeting' });
    await save.scrollIntoViewIfNeeded();
    await save.click();
    const message = page.getByRole('status').filter({ hasText: 'Targeting saved in Staging.' });
    await message.waitFor();
    expect(await message.textContent()).toBe('Targeting saved in Staging. The flag is off in Staging, so these rules serve nobody until it is turned on.');
    expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(1500);
    expect(await inViewport(message)).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'flag-page-targeting-saved.png') });
    expect((await call<FlagJson>('GET', '/api/flags/quiet-launch')).body.environments.staging!.rules).toHaveLength(15);
  });
});
