import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/** A server in Git sync mode, seen in the browser: managed flags are marked and read-only, except the kill switch. */

const FILE = `formatVersion: 1
environments:
  production: { name: Production, critical: true }
flags:
  git-checkout:
    description: Managed in Git
    environments:
      production: { stage: 10% }
`;

describe.skipIf(!ready)('dashboard with a Git-managed flag', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let repo: string;

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), 'switchyard-sync-'));
    writeFileSync(join(repo, 'flags.yaml'), FILE);
    server = await startServerProcess({ args: ['--sync', join(repo, 'flags.yaml')] });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, server.url, server.adminToken);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
    rmSync(repo, { recursive: true, force: true });
  });

  it('marks the flag as managed by Git and disables its editors, but not the kill switch', async () => {
    await page.locator('tr[data-flag="git-checkout"] .badge-git').waitFor();
    await page.goto(`${server.url}/flags/git-checkout`);
    await page.locator('.flag-page > header .badge-git').waitFor();
    await expect.poll(() => page.locator('.step-button[data-stage="50%"]').isDisabled()).toBe(true);
    const guard = page.locator('.guard', { has: page.locator('.step-button[data-stage="50%"]') });
    expect(await guard.getAttribute('title')).toMatch(/Managed by Git/);
    expect(await page.locator('.kill-button').isDisabled()).toBe(false);
  });
});
