import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Promotion from the compare page, in Chromium against the real server process: staging at 10% with
 * a rule for pro users, production off. "Promote Staging → Production" shows the diff in a
 * confirmation (production is critical), writes one audited change, and production's SDK rule set
 * has staging's targeting at once. A viewer sees the button disabled, saying why. Where production's
 * approval policy requires review, the panel says before the click that it opens a change request,
 * opens one holding the promotion, and links to it; approved and applied, production has it.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const FLAG = 'new-checkout';
const PRO_RULE = { id: 'pro', description: 'Pro plans', clauses: [{ attribute: 'plan', operator: 'in', values: ['pro'] }], serve: { variation: 'on' } };

interface FlagJson {
  version: number;
  environments: Record<string, { on: boolean; stage: string; rules: { id: string }[]; defaultServe: unknown }>;
}
interface RuleSetJson {
  version: number;
  flags: Record<string, { on: boolean; rules: { id: string }[]; defaultServe: unknown }>;
}

describe.skipIf(!ready)('promoting from the compare page in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;
  let sdk: ReturnType<typeof api>;

  const flag = async () => (await call<FlagJson>('GET', `/api/flags/${FLAG}`)).body;
  const compareUrl = () => `${server.url}/compare?flag=${FLAG}&a=staging&b=production`;
  const promoteButton = (p: Page) => p.locator('.promote-panel').getByRole('button', { name: 'Promote Staging → Production' });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    expect((await call('POST', '/api/flags', { key: FLAG, name: 'New checkout' })).status).toBe(201);
    const staged = await call('POST', `/api/flags/${FLAG}/environments/staging/stage`, { stage: '10%', version: (await flag()).version });
    expect(staged.status).toBe(200);
    const current = await flag();
    const patched = await call('PATCH', `/api/flags/${FLAG}/environments/staging`, { version: current.version, rules: [...current.environments.staging!.rules, PRO_RULE] });
    expect(patched.status).toBe(200);
    const key = await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'production app', environment: 'production' });
    expect(key.status).toBe(201);
    sdk = api(server.url, key.body.key);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it('a viewer sees Promote disabled, with the reason', async () => {
    const token = await call<{ token: string }>('POST', '/api/tokens', { name: 'reader', role: 'viewer' });
    expect(token.status).toBe(201);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const viewer = await context.newPage();
      await signIn(viewer, server.url, token.body.token);
      await viewer.goto(compareUrl());
      await viewer.getByRole('heading', { name: 'Promote' }).waitFor();
      const button = promoteButton(viewer);
      expect(await button.isDisabled()).toBe(true);
      expect(await viewer.locator('.promote-panel .guard').getAttribute('title')).toMatch(/viewer role/);
      expect(await viewer.getByLabel('Comment for the audit log (optional)').isDisabled()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('compare → promote (confirmed, with the diff) → production matches staging, for SDKs too', async () => {
    const before = await sdk<RuleSetJson>('GET', '/api/sdk/rules');
    expect(before.body.flags[FLAG]).toMatchObject({ on: false });

    await signIn(page, server.url, server.adminToken);
    await page.goto(compareUrl());
    await page.getByRole('heading', { name: 'Compare environments' }).waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'difference' }).textContent()).toMatch(/differences between Staging and Production\.$/);
    await page.locator('.promote-summary').waitFor();
    expect(await page.locator('.promote-summary').textContent()).toBe('Would change in Production: off → 10% + 1 rule, 2 rules added.');

    await page.getByLabel('Comment for the audit log (optional)').fill('QA signed off');
    await promoteButton(page).click();
    const dialog = page.getByRole('dialog', { name: 'Promote Staging → Production?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Production is a critical environment.');
    expect(await dialog.getByRole('list', { name: 'What changes' }).getByRole('listitem').allTextContents()).toEqual([
      'On / off: off → on',
      'Default rule: off → 10% on / 90% off',
      '+ rule dogfood: if in segment internal serve on',
      '+ rule pro: if plan in ["pro"] serve on',
    ]);
    expect(await dialog.textContent()).toContain('Comment: “QA signed off”.');
    await page.screenshot({ path: join(ARTIFACTS, 'promote-confirm.png') });
    await dialog.getByRole('button', { name: 'Promote Staging → Production' }).click();

    await page.getByRole('status').filter({ hasText: 'Promoted:' }).waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'Promoted:' }).textContent()).toBe("Promoted: New checkout in Production now has Staging's targeting.");
    // The comparison follows: nothing differs any more, and the button says why it is disabled.
    await page.getByRole('status').filter({ hasText: 'configured the same' }).waitFor();
    await page.locator('#promote-reason', { hasText: 'nothing to promote' }).waitFor();
    expect(await promoteButton(page).isDisabled()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'promote-done.png') });

    const promoted = await flag();
    expect(promoted.environments.production).toMatchObject({ on: true, stage: 'custom', rules: promoted.environments.staging!.rules, defaultServe: promoted.environments.staging!.defaultServe });
    const after = await sdk<RuleSetJson>('GET', '/api/sdk/rules');
    expect(after.body.version).toBeGreaterThan(before.body.version);
    expect(after.body.flags[FLAG]).toMatchObject({ on: true, defaultServe: promoted.environments.staging!.defaultServe });
    expect(after.body.flags[FLAG]!.rules.map((r) => r.id)).toEqual(['dogfood', 'pro']);

    const audit = await call<{ items: { action: string; environment: string; source: string; message: string; summary: string }[] }>('GET', `/api/flags/${FLAG}/audit`);
    expect(audit.body.items[0]).toMatchObject({ action: 'flag.promoted', environment: 'production', source: 'dashboard', message: 'QA signed off' });
    expect(audit.body.items[0]!.summary).toBe('promoted Staging\'s targeting to Production: off → 10%, added rule "Pro plans"');
  });

  it('where production requires approval: says so before the click, opens a change request, links to it', async () => {
    const KEY = 'new-search';
    expect((await call('POST', '/api/flags', { key: KEY, name: 'New search' })).status).toBe(201);
    const created = (await call<FlagJson>('GET', `/api/flags/${KEY}`)).body;
    expect((await call('POST', `/api/flags/${KEY}/environments/staging/stage`, { stage: '50%', version: created.version })).status).toBe(200);
    expect((await call('PUT', '/api/environments/production/approval-policy', { required: true })).status).toBe(200);
    const editor = await call<{ token: string }>('POST', '/api/tokens', { name: 'releaser', role: 'editor' });
    expect(editor.status).toBe(201);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const p = await context.newPage();
      p.setDefaultTimeout(10_000);
      await signIn(p, server.url, editor.body.token);
      await p.goto(`${server.url}/compare?flag=${KEY}&a=staging&b=production`);
      await p.locator('.promote-summary').waitFor();
      const notice = p.locator('.promote-panel .governed-notice');
      await notice.waitFor();
      expect(await notice.textContent()).toContain("Production requires 1 approval: this opens a change request instead of changing Production's targeting.");

      await p.getByLabel('Comment for the audit log (optional)').fill('Ship new search');
      await p.locator('.promote-panel').getByRole('button', { name: 'Request: Promote Staging → Production' }).click();
      const dialog = p.getByRole('dialog', { name: 'Open a change request: Promote Staging → Production?' });
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain('nothing changes in Production until it has 1 approval and is applied');
      expect(await dialog.getByRole('list', { name: 'What changes' }).getByRole('listitem').allTextContents()).toContain('On / off: off → on');
      await dialog.getByRole('button', { name: 'Open change request' }).click();

      const link = p.locator('.promote-panel .action-message').getByRole('link', { name: /^Change request #\d+$/ });
      await link.waitFor();
      const id = Number((await link.textContent())!.replace('Change request #', ''));
      expect(await p.locator('.promote-panel .action-message').textContent()).toBe(`Change request #${id} opened. Nothing changes in Production until it has 1 approval and is applied.`);
      await p.screenshot({ path: join(ARTIFACTS, 'promote-request.png') });
      expect((await call<FlagJson>('GET', `/api/flags/${KEY}`)).body.environments.production!.on).toBe(false);

      await link.click();
      await p.waitForURL(`${server.url}/change-requests/${id}`);
      await p.locator('#request-title', { hasText: 'Ship new search' }).waitFor();
      // The request's change says it is a promotion, and from where.
      await p.locator('.request-change h3', { hasText: `Promote ${KEY} from staging` }).waitFor();

      // Approved by someone else (the admin) and applied by its author: production has staging's targeting.
      expect((await call('POST', `/api/change-requests/${id}/approve`, {})).status).toBe(200);
      const applied = await api(server.url, editor.body.token)('POST', `/api/change-requests/${id}/apply`, {});
      expect(applied.status).toBe(200);
      const after = (await call<FlagJson>('GET', `/api/flags/${KEY}`)).body;
      expect(after.environments.production).toMatchObject({ on: true, defaultServe: after.environments.staging!.defaultServe });
    } finally {
      await context.close();
    }
  });
});
