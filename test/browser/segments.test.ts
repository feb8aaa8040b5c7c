import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The segments page in Chromium against the real server: create a segment (members, an email
 * domain, a comment for the audit log), edit it, meet a 409 when someone else changed it meanwhile
 * and reload, see which flag uses it (linking to the flag), be refused deleting it with the server's
 * message naming that flag, then delete it once the rule is gone; a viewer sees it all read-only.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const SEGMENT = 'beta-testers';
const FLAG = 'checkout-v2';

interface SegmentJson {
  key: string;
  name: string;
  version: number;
  included: string[];
  rules: { id: string; clauses: { attribute: string; operator: string; values: unknown[] }[] }[];
}

describe.skipIf(!ready)('the segments page in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;

  const segment = async () => (await call<SegmentJson>('GET', `/api/segments/${SEGMENT}`)).body;
  const editForm = (p: Page) => p.getByRole('form', { name: 'Who is in it' });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
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

  it('creates a segment from the page: members, an email domain and a comment for the audit log', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Segments' }).click();
    await page.getByRole('heading', { name: 'Segments', level: 1 }).waitFor();
    expect(await page.locator('main').textContent()).toContain('a change to a segment reaches every flag and environment that uses it');
    await page.getByRole('button', { name: 'New segment' }).click();
    await page.getByLabel('Key', { exact: true }).fill(SEGMENT);
    await page.getByLabel('Name', { exact: true }).fill('Beta testers');
    await page.getByLabel('Members (user IDs)').fill('ada, grace\nlinus');
    await page.getByLabel('Email domains').fill('Beta.Example');
    await page.getByLabel('Comment for the audit log (optional)').fill('beta programme starts');
    await page.getByRole('button', { name: 'Create segment' }).click();

    expect(await page.getByRole('status').filter({ hasText: 'created' }).textContent()).toContain(`Segment "Beta testers" (${SEGMENT}) created.`);
    const row = page.locator(`tr[data-segment="${SEGMENT}"]`);
    expect(await row.textContent()).toContain('3 members · 1 rule');

    const stored = await segment();
    expect(stored).toMatchObject({ name: 'Beta testers', version: 1, included: ['ada', 'grace', 'linus'] });
    expect(stored.rules).toEqual([{ id: 'email-domains', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@beta.example'] }] }]);
    const audit = (await call<{ items: { action: string; resourceKey: string; source: string; message: string | null }[] }>('GET', '/api/audit?resourceType=segment&limit=1')).body.items[0];
    expect(audit).toMatchObject({ action: 'segment.created', resourceKey: SEGMENT, source: 'dashboard', message: 'beta programme starts' });
  });

  it('edits it pinned to its version: a change made meanwhile is a 409 with a reload, never an overwrite', async () => {
    await page.locator(`tr[data-segment="${SEGMENT}"]`).getByRole('link', { name: 'Beta testers' }).click();
    await page.getByRole('heading', { name: 'Beta testers', level: 1 }).waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'Segments are global' }).textContent()).toContain('every environment');

    const form = editForm(page);
    await form.getByLabel('Members (user IDs)').fill('ada, grace, linus, margaret');
    await form.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved "Beta testers" (version 2)' }).waitFor();
    expect((await segment()).included).toEqual(['ada', 'grace', 'linus', 'margaret']);

    // Someone else renames it while this page has an unsaved edit.
    await form.getByLabel('Name', { exact: true }).fill('Beta crew');
    const other = await call('PATCH', `/api/segments/${SEGMENT}`, { version: 2, name: 'Beta testers (EU)' });
    expect(other.status).toBe(200);
    await form.getByRole('button', { name: 'Save segment' }).click();
    const conflict = page.getByRole('alert').filter({ hasText: 'was changed by' });
    expect(await conflict.textContent()).toContain('This segment was changed by admin');
    expect(await conflict.textContent()).toContain('Your change was not saved.');
    await page.screenshot({ path: join(ARTIFACTS, 'segment-conflict.png') });
    expect((await segment()).name).toBe('Beta testers (EU)');

    await conflict.getByRole('button', { name: 'Reload latest' }).click();
    await page.getByRole('heading', { name: 'Beta testers (EU)', level: 1 }).waitFor();
    // The heading may show the new name already (the live event reloads what is stored); the form
    // drops the unsaved edit when the reload it asked for answers.
    await expect.poll(() => form.getByLabel('Name', { exact: true }).inputValue()).toBe('Beta testers (EU)');
    expect(await page.getByRole('alert').filter({ hasText: 'was changed by' }).count()).toBe(0);
  });

  it('lists the flag using it (linking to the flag); delete is refused naming that flag, then works once the rule is gone', async () => {
    expect((await call('POST', '/api/flags', { key: FLAG, name: 'Checkout v2' })).status).toBe(201);
    const rule = { id: 'beta-first', description: 'Beta testers first', clauses: [{ operator: 'in_segment', values: [SEGMENT] }], serve: { variation: 'on' } };
    expect((await call('PATCH', `/api/flags/${FLAG}/environments/staging`, { version: 1, rules: [rule] })).status).toBe(200);

    await page.goto(`${server.url}/segments/${SEGMENT}`);
    const usage = page.locator(`table.segment-usage tr[data-flag="${FLAG}"]`);
    await usage.waitFor();
    expect(await usage.getAttribute('data-environment')).toBe('staging');
    expect(await usage.textContent()).toMatch(/Checkout v2.*checkout-v2.*Staging.*#1 beta-first — Beta testers first/);
    await page.screenshot({ path: join(ARTIFACTS, 'segment-usage.png') });

    await usage.getByRole('link', { name: 'Checkout v2' }).click();
    await page.waitForURL(`${server.url}/flags/${FLAG}`);
    await page.getByRole('heading', { name: 'Checkout v2', level: 1 }).waitFor();
    await page.goBack();
    await usage.waitFor();

    await page.getByRole('button', { name: 'Delete segment' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete segment' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'Not deleted' });
    expect(await refused.textContent()).toContain(`segment "${SEGMENT}" is used by flag(s): ${FLAG}; remove those rules first`);
    expect((await call('GET', `/api/segments/${SEGMENT}`)).status).toBe(200);

    // The rule goes elsewhere: the list follows live, and the delete goes through.
    expect((await call('PATCH', `/api/flags/${FLAG}/environments/staging`, { version: 2, rules: [] })).status).toBe(200);
    await page.getByText('No flag uses this segment.').waitFor();
    await page.getByLabel('Comment for the audit log (optional)').last().fill('programme over');
    await page.getByRole('button', { name: 'Delete segment' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete segment' }).click();
    await page.waitForURL(`${server.url}/segments`);
    expect(await page.getByRole('status').filter({ hasText: 'deleted' }).textContent()).toContain(`Segment "Beta testers (EU)" (${SEGMENT}) deleted.`);
    expect(await page.locator(`tr[data-segment="${SEGMENT}"]`).count()).toBe(0);
    expect((await call('GET', `/api/segments/${SEGMENT}`)).status).toBe(404);
    const audit = (await call<{ items: { action: string; message: string | null }[] }>('GET', '/api/audit?resourceType=segment&limit=1')).body.items[0];
    expect(audit).toMatchObject({ action: 'segment.deleted', message: 'programme over' });
  });

  it('shows a viewer every segment read-only, saying why', async () => {
    expect((await call('POST', '/api/segments', { key: 'staff', name: 'Staff', included: ['u1'] })).status).toBe(201);
    const viewerToken = (await call<{ token: string }>('POST', '/api/tokens', { name: 'viewer-pm', role: 'viewer' })).body.token;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const viewer = await context.newPage();
    viewer.setDefaultTimeout(10_000);
    try {
      await signIn(viewer, server.url, viewerToken);
      await viewer.goto(`${server.url}/segments`);
      const create = viewer.getByRole('button', { name: 'New segment' });
      await viewer.locator('tr[data-segment="staff"]').waitFor();
      expect(await create.isDisabled()).toBe(true);
      expect(await viewer.locator('.guard', { has: create }).getAttribute('title')).toMatch(/viewer role/);

      await viewer.locator('tr[data-segment="staff"]').getByRole('link', { name: 'Staff' }).click();
      const form = editForm(viewer);
      await form.waitFor();
      expect(await form.getByLabel('Members (user IDs)').isDisabled()).toBe(true);
      expect(await form.getByLabel('Members (user IDs)').inputValue()).toBe('u1');
      expect(await form.getByRole('button', { name: 'Save segment' }).isDisabled()).toBe(true);
      const del = viewer.getByRole('button', { name: 'Delete segment' });
      expect(await del.isDisabled()).toBe(true);
      expect(await viewer.locator('.guard', { has: del }).getAttribute('title')).toMatch(/viewer role/);
      expect(await viewer.getByText('No flag uses this segment.').count()).toBe(1);
    } finally {
      await context.close();
    }
  });
});
