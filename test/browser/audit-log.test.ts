import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The audit log a person reads, in Chromium against the real server: changes made in the
 * dashboard with a comment read as sentences with who and why; reverting the production change
 * from the audit page shows the preview first and leaves a later staging change alone; a later
 * change of the same fields is refused, plainly; filters live in the URL; no row nests one control
 * in another (axe's `nested-interactive`, checked by hand: axe-core is not a dependency).
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const FLAG = 'audit-flow';

interface Entry {
  id: number;
  actor: string;
  action: string;
  environment: string | null;
  message: string | null;
  summary: string;
}
interface FlagJson {
  version: number;
  environments: Record<string, { stage: string; rules: { id: string; description?: string }[] }>;
}

/** Every focusable or clickable element that sits inside another one: what `nested-interactive` forbids. */
async function nestedInteractive(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const INTERACTIVE = 'a[href], button, input, select, textarea, summary, [role="button"], [role="link"], [tabindex]:not([tabindex="-1"])';
    return Array.from(document.querySelectorAll(INTERACTIVE))
      .filter((el) => el.parentElement?.closest(INTERACTIVE))
      .map((el) => `${el.parentElement!.closest(INTERACTIVE)!.tagName.toLowerCase()} > ${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 40)}"`);
  });
}

describe.skipIf(!ready)('the audit log in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let admin: ReturnType<typeof api>;
  let bot: ReturnType<typeof api>;

  const flag = async () => (await admin<FlagJson>('GET', `/api/flags/${FLAG}`)).body;
  const entries = async (query = `resourceType=flag&resourceKey=${FLAG}`) => (await admin<{ items: Entry[] }>('GET', `/api/audit?${query}`)).body.items;
  const row = (id: number) => page.locator(`li.audit-entry[data-entry="${id}"]`);
  const stage = async (who: ReturnType<typeof api>, environment: string, to: string, message?: string) => {
    const res = await who('POST', `/api/flags/${FLAG}/environments/${environment}/stage`, { stage: to, version: (await flag()).version, ...(message ? { message } : {}) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (await entries('limit=1'))[0]!;
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    admin = api(server.url, server.adminToken);
    const created = await admin('POST', '/api/flags', { key: FLAG, name: 'Audit flow' });
    expect(created.status).toBe(201);
    const token = await admin<{ token: string }>('POST', '/api/tokens', { name: 'release-bot', role: 'editor' });
    bot = api(server.url, token.body.token);
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

  it('reverts a production change from the audit page after its preview; the later staging change stays', async () => {
    // Production (critical): a stage change with a comment, from the flag page.
    await page.goto(`${server.url}/flags/${FLAG}`);
    await page.locator('#env-select').selectOption('production');
    await page.locator('#stage-comment').fill('ramp after a clean day');
    await page.locator('.step-button[data-stage="10%"]').click();
    await page.getByRole('dialog').getByText('Comment: “ramp after a clean day”').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: /^Move to/ }).click();
    await page.locator('.flag-page > header .badge[data-stage="10%"]').waitFor();

    // Staging, afterwards: an unrelated field (a targeting rule), with its own comment.
    await page.locator('#env-select').selectOption('staging');
    await page.getByRole('heading', { name: 'Targeting in Staging' }).waitFor();
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.locator('#tg-r0-desc').fill('pro users');
    await page.locator('#tg-r0-c0-values').fill('@example.com');
    await page.locator('#tg-comment').fill('pro users first');
    await page.getByRole('button', { name: 'Save targeting' }).click();
    await page.getByText('Targeting saved in Staging.').waitFor();

    const [staging, production] = await entries('resourceType=flag&limit=2');
    expect(production).toMatchObject({ environment: 'production', message: 'ramp after a clean day', summary: 'off → 10% in Production' });
    expect(staging).toMatchObject({ environment: 'staging', message: 'pro users first', summary: 'added rule "pro users" in Staging' });

    await page.getByRole('link', { name: 'Audit log' }).click();
    await row(production!.id).getByText('off → 10% in Production').waitFor();
    expect(await row(production!.id).locator('.audit-comment').textContent()).toContain('“ramp after a clean day”');
    expect(await row(production!.id).locator('.audit-meta').textContent()).toMatch(/^by admin · .+ · via dashboard · #\d+$/);
    expect(await row(staging!.id).locator('.audit-summary').textContent()).toBe('added rule "pro users" in Staging');
    await page.screenshot({ path: join(ARTIFACTS, 'audit-log.png') });

    await row(production!.id).getByRole('button', { name: `Revert #${production!.id}` }).click();
    const dialog = page.getByRole('dialog', { name: `Revert change #${production!.id}?` });
    const preview = dialog.getByTestId('revert-preview');
    await preview.waitFor();
    expect(await preview.textContent()).toContain('Production: 10% → off');
    expect(await preview.textContent()).not.toMatch(/staging/i);
    await dialog.getByLabel('Comment for the audit log (optional)').fill('too early');
    await page.screenshot({ path: join(ARTIFACTS, 'audit-revert-preview.png') });
    await dialog.getByRole('button', { name: 'Revert', exact: true }).click();
    await page.getByRole('status').filter({ hasText: `Reverted #${production!.id}` }).waitFor();

    const after = await flag();
    expect(after.environments.production!.stage).toBe('off');
    expect(after.environments.staging!.rules.map((r) => r.description)).toEqual(['pro users']);
    const [revert] = await entries('limit=1');
    expect(revert).toMatchObject({ action: 'flag.reverted', environment: 'production', message: `revert of audit entry #${production!.id}: too early`, summary: `reverted #${production!.id}: 10% → off in Production` });
    await row(revert!.id).getByText(revert!.summary).waitFor();
    // Its comment without the "revert of audit entry #N" the sentence already says.
    expect(await row(revert!.id).locator('.audit-comment').textContent()).toBe('Comment: “too early”');
  });

  it('refuses, naming the later change, when it touched the same fields — in the preview and on apply', async () => {
    const early = await stage(bot, 'production', '50%', 'half');
    const later = await stage(admin, 'production', '100%');
    await page.goto(`${server.url}/audit`);
    await row(early.id).getByRole('button', { name: `Revert #${early.id}` }).click();
    const dialog = page.getByRole('dialog', { name: `Revert change #${early.id}?` });
    const refusal = dialog.locator('.revert-refusal');
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(new RegExp(`^This change cannot be reverted: cannot revert audit entry ${early.id}: .*entry #${later.id} \\(flag\\.stage_changed by admin`));
    expect(await dialog.locator('.revert-lines').last().textContent()).toMatch(new RegExp(`Change #${later.id} by admin .* changed Production .+ afterwards`));
    expect(await dialog.getByRole('button', { name: 'Revert', exact: true }).count()).toBe(0);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden' });

    // Preview the latest change, then someone changes the same fields before Revert is pressed.
    await row(later.id).getByRole('button', { name: `Revert #${later.id}` }).click();
    const second = page.getByRole('dialog', { name: `Revert change #${later.id}?` });
    await second.getByTestId('revert-preview').getByText('Production: 100% → 50%').waitFor();
    const meanwhile = await stage(bot, 'production', '10%');
    await second.getByRole('button', { name: 'Revert', exact: true }).click();
    await second.getByText(/^Not reverted: /).waitFor();
    expect(await second.locator('.revert-refusal').textContent()).toContain(`entry #${meanwhile.id}`);
    expect((await flag()).environments.production!.stage).toBe('10%');
    await page.screenshot({ path: join(ARTIFACTS, 'audit-revert-refused.png') });
    await second.getByRole('button', { name: 'Close' }).click();
  });

  it('filters by person and environment from the URL, and writes the filters back to it', async () => {
    await page.goto(`${server.url}/audit?person=release-bot&environment=production`);
    await page.locator('li.audit-entry').first().waitFor();
    expect(await page.getByLabel('Person').inputValue()).toBe('release-bot');
    expect(await page.locator('#audit-environment').inputValue()).toBe('production');
    const shown = await page.locator('li.audit-entry').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-entry'))));
    const expected = (await entries('actor=release-bot&environment=production')).map((e) => e.id);
    expect(expected.length).toBe(2);
    expect(shown).toEqual(expected);

    // The form changes the URL (so Back returns to the previous filters).
    await page.locator('#audit-environment').selectOption('staging');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No change matches these filters.').waitFor();
    expect(new URL(page.url()).search).toBe('?person=release-bot&environment=staging');
    await page.goBack();
    await page.locator(`li.audit-entry[data-entry="${expected[0]}"]`).waitFor();
    expect(await page.locator('#audit-environment').inputValue()).toBe('production');

    // A flag and a day range: today, in the browser's time zone.
    const today = await page.evaluate(() => {
      const d = new Date();
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    });
    await page.goto(`${server.url}/audit?flag=${FLAG}&since=${today}&until=${today}`);
    await page.locator('li.audit-entry').first().waitFor();
    const all = (await entries(`resourceType=flag&resourceKey=${FLAG}&limit=200`)).map((e) => e.id);
    expect(await page.locator('li.audit-entry').count()).toBe(all.length);
    await page.goto(`${server.url}/audit?flag=${FLAG}&until=2001-01-01`);
    await page.getByText('No change matches these filters.').waitFor();
    await page.goto(`${server.url}/audit?since=yesterday`);
    await page.getByText(/Could not load the audit log: .*since.*expected an ISO 8601 day or time/).waitFor();
  });

  it('nests no control inside another on the audit log and the flag history', async () => {
    await page.goto(`${server.url}/audit`);
    await page.locator('li.audit-entry').first().waitFor();
    await page.locator('.audit-fields > summary').first().click();
    expect(await page.locator('li.audit-entry .audit-flag').count()).toBeGreaterThan(0);
    expect(await nestedInteractive(page)).toEqual([]);
    await page.goto(`${server.url}/flags/${FLAG}#history`);
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await page.locator('#history-title ~ ol li.audit-entry').first().waitFor();
    expect(await nestedInteractive(page)).toEqual([]);
  });
});
