import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * An incident kill of a Git-managed flag, in the browser: the kill panel says who killed it and that
 * Git changes are held; a viewer cannot resume; an editor resumes (confirmed in production) and the
 * flag is back at the file's stage.
 */

const FILE = `formatVersion: 1
environments:
  production: { name: Production, critical: true }
flags:
  git-checkout:
    description: Managed in Git
    environments:
      production: { stage: 10% }
`;

const headerStage = (page: Page, stage: string) => page.locator(`.flag-page > header .badge[data-stage="${stage}"]`).waitFor();

describe.skipIf(!ready)('dashboard: an incident hold on a Git-managed flag', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let repo: string;
  const call = () => api(server.url, server.adminToken);

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), 'switchyard-incident-browser-'));
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

  it('shows the hold after a kill, disabled for viewers, and resumes to the file stage', async () => {
    await page.goto(`${server.url}/flags/git-checkout`);
    await headerStage(page, '10%');
    expect(await page.locator('.incident-hold').count()).toBe(0);

    await page.getByRole('button', { name: 'Kill switch' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Kill now' }).click();
    await headerStage(page, 'kill');
    const hold = page.locator('.incident-hold');
    await hold.waitFor();
    expect(await hold.textContent()).toMatch(/^Killed during an incident by admin at .+ — Git changes to this flag are held until resumed\./);

    // A viewer sees the hold, but cannot resume; the tooltip says why.
    const viewerToken = (await call()<{ token: string }>('POST', '/api/tokens', { name: 'viewer-pm', role: 'viewer' })).body.token;
    const context = await browser.newContext();
    const viewer = await context.newPage();
    await signIn(viewer, server.url, viewerToken);
    await viewer.goto(`${server.url}/flags/git-checkout`);
    await viewer.locator('.incident-hold').waitFor();
    expect(await viewer.getByRole('button', { name: 'Resume from Git' }).isDisabled()).toBe(true);
    expect(await viewer.locator('.incident-hold .guard').getAttribute('title')).toMatch(/viewer role/);
    await context.close();

    await page.getByRole('button', { name: 'Resume from Git' }).click();
    // Production is critical: asked first, like every other production change.
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('flags.yaml');
    await dialog.getByRole('button', { name: 'Resume from Git' }).click();
    await headerStage(page, '10%');
    await page.locator('.banner-success', { hasText: "back at the Git file's configuration" }).waitFor();
    expect(await page.locator('.incident-hold').count()).toBe(0);

    const after = (await call()<{ environments: Record<string, { stage: string; incident: unknown }> }>('GET', '/api/flags/git-checkout')).body;
    expect(after.environments.production).toMatchObject({ stage: '10%', incident: null });
  });
});
