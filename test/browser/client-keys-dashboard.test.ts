import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signUserKey } from '@switchyard/sdk/node';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Client keys in the dashboard, in a real browser against the real server process: the per-flag
 * "visible to client keys" switch (proved through OFREP bulk evaluation with a client key), a
 * client key created in the UI and used, secure mode turned on / rotated / off in the UI (proved
 * with unsigned and signed requests), and the switch disabled for a viewer and a Git-managed flag.
 */
const FLAG = 'web-banner';
const SWITCH = 'Visible to client keys (browsers, mobile apps)';

interface Bulk {
  status: number;
  flags: { key: string; value: unknown }[];
}

describe.skipIf(!ready)('client keys in the dashboard', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;
  let clientKey: string;

  async function bulk(context: Record<string, unknown>, key = clientKey): Promise<Bulk> {
    const res = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context }),
    });
    // 401/403 carry no body (OFREP); the reason is in WWW-Authenticate.
    const text = await res.text();
    const body = (text ? JSON.parse(text) : {}) as { flags?: Bulk['flags'] };
    return { status: res.status, flags: body.flags ?? [] };
  }
  const visibleKeys = async (context: Record<string, unknown> = { targetingKey: 'user-1' }) => (await bulk(context)).flags.map((f) => f.key);

  const secureModeRow = () => page.locator('tr[data-environment="production"]');
  /** The secret the page shows once, after a confirmed secure-mode action in production. */
  async function secureModeAction(button: RegExp, confirmLabel: string): Promise<void> {
    await secureModeRow().getByRole('button', { name: button }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: confirmLabel, exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
  }
  const shownSecret = async () => (await page.getByTestId('new-secret').textContent())!.trim();

  beforeAll(async () => {
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    const created = await call<{ version: number; clientVisible: boolean }>('POST', '/api/flags', { key: FLAG, name: 'Web banner' });
    expect(created.status).toBe(201);
    expect(created.body.clientVisible).toBe(false);
    expect((await call('POST', `/api/flags/${FLAG}/environments/production/stage`, { stage: '100%', version: created.body.version })).status).toBe(200);
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

  it('creates a client key in the UI; the key it shows evaluates, listed with its kind', async () => {
    await page.getByRole('link', { name: 'Keys & tokens' }).click();
    await page.getByRole('heading', { name: 'Keys & tokens' }).waitFor();
    const form = page.getByRole('form', { name: 'New SDK key' });
    await form.getByLabel('Name').fill('web-app');
    await form.getByLabel('Environment').selectOption('production');
    await form.getByRole('radio', { name: 'Client key (public, for browsers)' }).check();
    await form.getByRole('button', { name: 'Create SDK key' }).click();
    clientKey = await shownSecret();
    expect(clientKey).toMatch(/^sy_client_/);
    expect(await page.locator('.secret').textContent()).toMatch(/Client key "web-app" for production created.*public/);
    const row = page.getByRole('table', { name: 'SDK keys' }).getByRole('row').filter({ hasText: 'web-app' });
    expect(await row.getByRole('cell').nth(2).textContent()).toBe('Client (public)');

    // The shown key evaluates (the flag is not client-visible yet: no flags, but a 200) and may
    // do nothing else.
    expect(await bulk({ targetingKey: 'user-1' })).toEqual({ status: 200, flags: [] });
    const single = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${FLAG}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clientKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'user-1' } }),
    });
    expect(single.status).toBe(403);

    // Server keys are listed as such.
    await page.getByRole('button', { name: 'Done' }).click();
    await form.getByLabel('Name').fill('backend');
    await form.getByRole('radio', { name: 'Server key (secret)' }).check();
    await form.getByRole('button', { name: 'Create SDK key' }).click();
    expect(await shownSecret()).toMatch(/^sy_sdk_/);
    const serverRow = page.getByRole('table', { name: 'SDK keys' }).getByRole('row').filter({ hasText: 'backend' });
    expect(await serverRow.getByRole('cell').nth(2).textContent()).toBe('Server (secret)');
    await page.getByRole('button', { name: 'Done' }).click();
  });

  it('the flag page switch makes the flag appear in, and disappear from, client-key evaluation', async () => {
    await page.goto(`${server.url}/flags/${FLAG}#client-keys`);
    const toggle = page.getByRole('switch', { name: SWITCH });
    await toggle.waitFor();
    expect(await toggle.isChecked()).toBe(false);
    expect(await toggle.isDisabled()).toBe(false);
    expect(await toggle.getAttribute('aria-describedby')).toBeTruthy();
    expect(await page.locator(`#${(await toggle.getAttribute('aria-describedby'))!}`).textContent()).toMatch(/evaluated value.*never its rules/);

    await toggle.click();
    await page.getByRole('status').filter({ hasText: 'is visible to client keys' }).waitFor();
    expect(await toggle.isChecked()).toBe(true);
    await expect.poll(() => visibleKeys(), { timeout: 5000 }).toEqual([FLAG]);
    expect((await bulk({ targetingKey: 'user-1' })).flags[0]!.value).toBe(true);
    expect((await call<{ clientVisible: boolean }>('GET', `/api/flags/${FLAG}`)).body.clientVisible).toBe(true);

    // The flag list marks it.
    await page.getByRole('link', { name: 'Flags', exact: true }).click();
    await page.locator(`tr[data-flag="${FLAG}"] .badge-client`).waitFor();

    await page.goto(`${server.url}/flags/${FLAG}#client-keys`);
    await toggle.waitFor();
    expect(await toggle.isChecked()).toBe(true);
    await toggle.click();
    await page.getByRole('status').filter({ hasText: 'is hidden from client keys' }).waitFor();
    expect(await toggle.isChecked()).toBe(false);
    await expect.poll(() => visibleKeys(), { timeout: 5000 }).toEqual([]);

    await page.getByRole('link', { name: 'Flags', exact: true }).click();
    await page.locator(`tr[data-flag="${FLAG}"]`).waitFor();
    expect(await page.locator(`tr[data-flag="${FLAG}"] .badge-client`).count()).toBe(0);

    // And back on, for the secure-mode checks below.
    await page.goto(`${server.url}/flags/${FLAG}#client-keys`);
    await toggle.waitFor();
    await toggle.click();
    await page.getByRole('status').filter({ hasText: 'is visible to client keys' }).waitFor();
    await expect.poll(() => visibleKeys(), { timeout: 5000 }).toEqual([FLAG]);
  });

  it('turns secure mode on in the UI: unsigned user keys get 403, signed ones are served; rotate and off too', async () => {
    await page.getByRole('link', { name: 'Keys & tokens' }).click();
    const state = secureModeRow().getByTestId('secure-mode-state');
    expect(await state.textContent()).toBe('Off');
    expect((await bulk({ targetingKey: 'user-1' })).status).toBe(200);

    // Cancelling changes nothing.
    await secureModeRow().getByRole('button', { name: 'Turn on secure mode in Production' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    expect((await call<{ items: { key: string; clientSecureMode: boolean }[] }>('GET', '/api/environments')).body.items.find((e) => e.key === 'production')!.clientSecureMode).toBe(false);

    await secureModeAction(/^Turn on secure mode in Production$/, 'Turn on');
    const secret = await shownSecret();
    expect(secret.length).toBeGreaterThan(20);
    const shown = (await page.locator('.secret').textContent())!;
    expect(shown).toMatch(/Secure-mode secret for Production created\. Copy it now/);
    expect(shown).toMatch(/Rotating this secret breaks every existing signature/);
    expect(await page.locator('.secret').getByRole('button', { name: 'Copy' }).count()).toBe(1);
    await state.filter({ hasText: 'On' }).waitFor();

    expect((await bulk({ targetingKey: 'user-1' })).status).toBe(403);
    expect((await bulk({ targetingKey: 'user-1', switchyardSignature: signUserKey(secret, 'someone-else') })).status).toBe(403);
    const signed = await bulk({ targetingKey: 'user-1', switchyardSignature: signUserKey(secret, 'user-1') });
    expect(signed).toEqual({ status: 200, flags: [expect.objectContaining({ key: FLAG, value: true })] });

    // Rotating (confirmed): the old secret's signatures stop working, the new one's work.
    await page.getByRole('button', { name: 'Done' }).click();
    await secureModeAction(/^Rotate secret in Production$/, 'Rotate secret');
    const rotated = await shownSecret();
    expect(rotated).not.toBe(secret);
    expect((await bulk({ targetingKey: 'user-1', switchyardSignature: signUserKey(secret, 'user-1') })).status).toBe(403);
    expect((await bulk({ targetingKey: 'user-1', switchyardSignature: signUserKey(rotated, 'user-1') })).status).toBe(200);

    // Off (confirmed): unsigned user keys are served again.
    await page.getByRole('button', { name: 'Done' }).click();
    await secureModeAction(/^Turn off secure mode in Production$/, 'Turn off');
    await state.filter({ hasText: 'Off' }).waitFor();
    expect((await bulk({ targetingKey: 'user-1' })).status).toBe(200);
    expect(await page.getByTestId('new-secret').count()).toBe(0);
  });

  it('shows the switch disabled to a viewer, saying why', async () => {
    const viewerToken = (await call<{ token: string }>('POST', '/api/tokens', { name: 'viewer-pm', role: 'viewer' })).body.token;
    const context = await browser.newContext();
    const viewer = await context.newPage();
    viewer.setDefaultTimeout(10_000);
    await signIn(viewer, server.url, viewerToken);
    await viewer.locator(`tr[data-flag="${FLAG}"] .badge-client`).waitFor();
    await viewer.goto(`${server.url}/flags/${FLAG}#client-keys`);
    const toggle = viewer.getByRole('switch', { name: SWITCH });
    await toggle.waitFor();
    expect(await toggle.isChecked()).toBe(true);
    expect(await toggle.isDisabled()).toBe(true);
    expect(await viewer.locator('.guard', { has: toggle }).getAttribute('title')).toMatch(/viewer role/);
    await context.close();
  });
});

describe.skipIf(!ready)('client-key switch on a Git-managed flag', () => {
  let server: ServerProcess;
  let browser: Browser;
  let repo: string;

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), 'switchyard-sync-'));
    writeFileSync(join(repo, 'flags.yaml'), 'formatVersion: 1\nenvironments:\n  production: { name: Production, critical: true }\nflags:\n  git-banner:\n    clientVisible: true\n    environments:\n      production: { stage: 100% }\n');
    server = await startServerProcess({ args: ['--sync', join(repo, 'flags.yaml')] });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
    rmSync(repo, { recursive: true, force: true });
  });

  it('is disabled, showing the file’s value and saying the file manages it', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    await signIn(page, server.url, server.adminToken);
    await page.goto(`${server.url}/flags/git-banner#client-keys`);
    const toggle = page.getByRole('switch', { name: SWITCH });
    await toggle.waitFor();
    expect(await toggle.isChecked()).toBe(true);
    expect(await toggle.isDisabled()).toBe(true);
    expect(await page.locator('.guard', { has: toggle }).getAttribute('title')).toMatch(/Managed by Git/);
    await page.close();
  });
});
