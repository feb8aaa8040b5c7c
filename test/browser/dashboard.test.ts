import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bucket } from '@switchyard/sdk';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn as signInAt } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The dashboard in a real browser against the real server process: a product manager's release
 * (sign in → create → dogfood → 10% → 100% → kill), checked after each step by SDK evaluations
 * over OFREP; viewer read-only; XSS inert; 409 conflict; live updates; screenshots.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const FLAG = 'checkout-v2';
const XSS = '<img src=x onerror="window.__xss=1"> New checkout <script>window.__xss=2</script>';
/** Users by bucket for the flag's salt (its key): inside a 10% rollout, and outside it. */
function usersFor(salt: string): { inside: string; outside: string } {
  let inside: string | undefined;
  let outside: string | undefined;
  for (let i = 0; !inside || !outside; i++) {
    const id = `user-${i}`;
    const b = bucket(salt, id);
    if (b < 10_000) inside ??= id;
    else if (b >= 50_000) outside ??= id;
  }
  return { inside, outside };
}

describe.skipIf(!ready)('dashboard in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let sdkKey: string;
  let call: ReturnType<typeof api>;
  const users = { dogfood: 'dogfooder-1', ...usersFor(FLAG) };

  async function sdkValues(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [name, id] of Object.entries(users)) {
      const res = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${FLAG}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ context: { targetingKey: id } }),
      });
      out[name] = ((await res.json()) as { value: unknown }).value;
    }
    return out;
  }

  const signIn = (p: Page, token: string) => signInAt(p, server.url, token);

  const headerStage = (p: Page, stage: string) => p.locator(`.flag-page > header .badge[data-stage="${stage}"]`).waitFor({ timeout: 5000 });

  async function moveTo(stage: string): Promise<void> {
    await page.locator(`.step-button[data-stage="${stage}"]`).click();
    // Production is critical: the stepper asks first.
    await page.getByRole('dialog').getByRole('button', { name: /^Move to/ }).click();
    await headerStage(page, stage);
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'browser-test', environment: 'production' })).body.key;
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

  it('takes a flag from off to dogfood, 10%, 100% and kill; SDKs agree after each step', async () => {
    await signIn(page, server.adminToken);
    await page.getByRole('button', { name: 'New flag' }).click();
    await page.getByLabel('Name').fill('Checkout v2');
    expect(await page.getByLabel(/^Key/).inputValue()).toBe(FLAG);
    await page.getByLabel('Description').fill(XSS);
    await page.getByRole('button', { name: 'Create flag' }).click();
    await headerStage(page, 'off');
    expect(await sdkValues()).toEqual({ dogfood: false, inside: false, outside: false });

    await page.getByRole('tab', { name: 'Dogfood users' }).click();
    await page.getByLabel('User IDs to add').fill(users.dogfood);
    await page.getByRole('button', { name: 'Add users' }).click();
    await page.getByRole('list', { name: 'Dogfood user IDs' }).getByText(users.dogfood).waitFor();

    await moveTo('dogfood');
    expect(await sdkValues()).toEqual({ dogfood: true, inside: false, outside: false });
    await moveTo('10%');
    expect(await sdkValues()).toEqual({ dogfood: true, inside: true, outside: false });
    await page.screenshot({ path: join(ARTIFACTS, 'flag-page.png'), fullPage: false });
    await moveTo('100%');
    expect(await sdkValues()).toEqual({ dogfood: true, inside: true, outside: true });

    await page.getByRole('button', { name: 'Kill switch' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Kill now' }).click();
    await headerStage(page, 'kill');
    expect(await sdkValues()).toEqual({ dogfood: false, inside: false, outside: false });

    // The preview runs the SDK's evaluate on the same configuration.
    await page.getByRole('tab', { name: 'Preview' }).click();
    await page.getByLabel('User ID', { exact: true }).fill(users.inside);
    expect(await page.getByTestId('preview-reason').textContent()).toBe('DISABLED');
  });

  it('renders the XSS description as text and runs nothing', async () => {
    await page.locator('.flag-page > p.desc').filter({ hasText: '<img src=x' }).waitFor();
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('.flag-page img').count()).toBe(0);
  });

  it('shows a change made elsewhere within a second, without reload', async () => {
    const marker = await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = Math.random()));
    const flag = (await call<{ version: number }>('GET', `/api/flags/${FLAG}`)).body;
    const res = await call('POST', `/api/flags/${FLAG}/environments/production/stage`, { stage: '50%', version: flag.version });
    expect(res.status).toBe(200);
    await page.locator('.flag-page > header .badge[data-stage="50%"]').waitFor({ timeout: 1500 });
    expect(await page.evaluate(() => (window as unknown as { __marker: number }).__marker)).toBe(marker);
  });

  it('shows "changed by X at T" on a stale save, and reloads', async () => {
    await page.getByRole('tab', { name: 'Details' }).click();
    await page.getByLabel('Owner').fill('payments-team');
    const flag = (await call<{ version: number }>('GET', `/api/flags/${FLAG}`)).body;
    const res = await call('PATCH', `/api/flags/${FLAG}`, { tags: ['checkout'], version: flag.version });
    expect(res.status).toBe(200);
    await page.getByRole('button', { name: 'Save details' }).click();
    const message = page.locator('.conflict-message');
    await message.waitFor();
    expect(await message.textContent()).toMatch(/changed by admin at/);
    await page.getByRole('button', { name: 'Reload latest' }).click();
    await message.waitFor({ state: 'detached' });
  });

  it('writes screenshots of the flag list', async () => {
    for (const [key, stage, description, tags] of [
      ['search-ranking', 'dogfood', 'New ranking model for search results', ['search']],
      ['dark-mode', '100%', 'Dark theme for the web app', ['ui']],
    ] as const) {
      const created = await call<{ version: number }>('POST', '/api/flags', { key, name: key.replace('-', ' '), description, tags });
      await call('POST', `/api/flags/${key}/environments/production/stage`, { stage, version: created.body.version });
    }
    await page.getByRole('link', { name: 'Flags', exact: true }).click();
    await page.locator(`tr[data-flag="${FLAG}"]`).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'flag-list.png') });
    const mobile = await browser.newPage({ viewport: { width: 375, height: 800 } });
    await signIn(mobile, server.adminToken);
    await mobile.goto(`${server.url}/flags/${FLAG}`);
    await headerStage(mobile, '50%');
    await mobile.screenshot({ path: join(ARTIFACTS, 'flag-page-375.png') });
    const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await mobile.close();
  });

  it('lets a viewer see everything and change nothing', async () => {
    const viewerToken = (await call<{ token: string }>('POST', '/api/tokens', { name: 'viewer-pm', role: 'viewer' })).body.token;
    const context = await browser.newContext();
    const viewer = await context.newPage();
    await signIn(viewer, viewerToken);
    expect(await viewer.getByRole('button', { name: 'New flag' }).isDisabled()).toBe(true);
    await viewer.goto(`${server.url}/flags/${FLAG}`);
    await headerStage(viewer, '50%');
    for (const stage of ['off', 'dogfood', '10%', '100%']) expect(await viewer.locator(`.step-button[data-stage="${stage}"]`).isDisabled()).toBe(true);
    expect(await viewer.getByRole('button', { name: 'Kill switch' }).isDisabled()).toBe(true);
    await viewer.getByRole('tab', { name: 'Dogfood users' }).click();
    expect(await viewer.getByRole('button', { name: 'Add users' }).isDisabled()).toBe(true);
    await viewer.getByRole('tab', { name: 'Details' }).click();
    expect(await viewer.getByLabel('Description').isDisabled()).toBe(true);
    expect(await viewer.locator('.guard').first().getAttribute('title')).toMatch(/viewer role/);
    // Even a hand-made request from the page is refused by the server.
    const status = await viewer.evaluate(async (key) => {
      const r = await fetch(`/api/flags/${key}/environments/production/kill`, { method: 'POST', headers: { 'x-switchyard-csrf': '1', 'content-type': 'application/json' }, body: '{}' });
      return r.status;
    }, FLAG);
    expect(status).toBe(403);
    await context.close();
  });

  it('refuses cookie writes without the CSRF header and serves deep links', async () => {
    const status = await page.evaluate(async (key) => {
      const r = await fetch(`/api/flags/${key}/environments/production/kill`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return r.status;
    }, FLAG);
    expect(status).toBe(403);
    const deep = await fetch(`${server.url}/flags/${FLAG}`);
    expect(deep.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${server.url}/api/nope`)).status).toBe(404);
  });
});
