import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoAxeViolations } from '../support/axe.js';
import { browserReady as ready, launchChromium } from '../support/browser.js';
import { ARTIFACTS, startWithFlag, stopAll, utcText, wallIn, whenLabel, zonedPage, type FlagJson, type ScheduleJson } from '../support/schedule-fixtures.js';
import type { ServerProcess } from '../support/server-process.js';
import type { Api } from '../support/sdk-e2e.js';

/**
 * Scheduled changes in the dashboard, in Chromium against the real server process, with the browser
 * in New York's time zone: a stage move scheduled from the flag page (typed in New York time, stored
 * in UTC), seen in the flag's panel and on the upcoming changes page, edited, cancelled there; a
 * time in the past refused next to the field in the server's words; and one scheduled a few seconds
 * ahead that the server's scheduler (it looks every 2 s) runs, after which the panel and the flag's
 * stage follow and the API says it ran as the scheduler.
 */
const FLAG = 'spring-sale';
const ZONE = 'America/New_York';
const WHEN_LABEL = whenLabel(ZONE);

describe.skipIf(!ready)('scheduled changes in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: Api;
  let adminName: string;

  const schedules = async (query = '') => (await call<{ items: ScheduleJson[] }>('GET', `/api/schedules?flag=${FLAG}${query}`)).body.items;
  const flag = async () => (await call<FlagJson>('GET', `/api/flags/${FLAG}`)).body;
  const panel = (p: Page) => p.locator('section.schedules');

  /** Open the flag page with Staging chosen, its scheduled changes loaded. */
  async function openFlag(p: Page): Promise<void> {
    await p.goto(`${server.url}/flags/${FLAG}`);
    await p.locator('#env-select').selectOption('staging');
    await panel(p).getByRole('heading', { name: 'Scheduled changes in Staging' }).waitFor();
  }

  /** Fill the open schedule form. */
  async function fillForm(p: Page, action: string, when: string): Promise<void> {
    const form = panel(p).locator('form.schedule-form');
    await form.getByLabel('Action', { exact: true }).selectOption({ label: action });
    await form.getByLabel(WHEN_LABEL).fill(when);
  }

  beforeAll(async () => {
    ({ server, call } = await startWithFlag(FLAG, 'Spring sale'));
    adminName = (await call<{ name: string }>('GET', '/api/me')).body.name;
    browser = await launchChromium();
    ({ page } = await zonedPage(browser, server, ZONE, server.adminToken));
  });

  afterAll(() => stopAll(browser, server));

  it('schedules a move in New York time (stored in UTC), refuses a past time in the server’s words, edits it', async () => {
    await openFlag(page);
    expect(await panel(page).locator('.empty').textContent()).toBe('Nothing scheduled in Staging.');
    await panel(page).getByRole('button', { name: 'Schedule a change…' }).click();
    const form = panel(page).locator('form.schedule-form');
    await form.waitFor();

    // A time in the past: the server refuses it, and says why next to the field.
    const past = Date.now() - 3_600_000;
    await fillForm(page, 'Move to 50%', wallIn(ZONE, past));
    await form.getByRole('button', { name: 'Schedule' }).click();
    const atError = form.locator('#schedule-new-at-error');
    await atError.waitFor();
    expect(await atError.textContent()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z is in the past \(the server's time is .+\); schedule a time in the future$/);
    expect(await form.getByLabel(WHEN_LABEL).getAttribute('aria-invalid')).toBe('true');

    // Two hours ahead, to the minute, in New York: the hint says which UTC time that is.
    const due = Math.ceil((Date.now() + 2 * 3_600_000) / 60_000) * 60_000;
    await fillForm(page, 'Move to 50%', wallIn(ZONE, due));
    await form.getByLabel('Comment for the audit log (optional)').fill('spring launch');
    expect(await form.locator('#schedule-new-when-hint').textContent()).toMatch(new RegExp(`^UTC−0[45]:00 · that is ${utcText(due)}$`));
    await expectNoAxeViolations(page, 'the flag page with the schedule form open', { include: 'section.schedules' });
    await form.getByRole('button', { name: 'Schedule' }).click();
    await panel(page).getByRole('status').filter({ hasText: 'Scheduled: Move to 50% at' }).waitFor();

    const [created] = await schedules('&status=pending');
    expect(created).toMatchObject({ at: new Date(due).toISOString(), action: { type: 'stage', stage: '50%' }, status: 'pending', createdBy: adminName, message: 'spring launch' });
    const item = panel(page).locator(`li[data-schedule="${created!.id}"]`);
    expect(await item.locator('.schedule-action').textContent()).toBe('Move to 50%');
    // New York time with its zone's name first; UTC beside it and in the tooltip.
    expect(await item.locator('time').textContent()).toMatch(/, \d{1,2}:\d\d\s[AP]M E[SD]T$/);
    expect(await item.locator('time').getAttribute('datetime')).toBe(new Date(due).toISOString());
    expect(await item.locator('time').getAttribute('title')).toBe(`${utcText(due)} (your time zone: ${ZONE})`);
    expect(await item.locator('.schedule-utc').textContent()).toMatch(new RegExp(`^${utcText(due)} · in (2 hours|120 minutes|119 minutes)$`));
    expect(await item.textContent()).toContain(`scheduled by ${adminName} · If over 5 min late: run anyway · “spring launch”`);

    // Edit: another stage, a new time; only what changed is sent.
    await item.getByRole('button', { name: `Edit: Move to 50% (schedule ${created!.id})` }).click();
    const editForm = panel(page).getByRole('form', { name: `Edit scheduled change ${created!.id}` });
    expect(await editForm.getByLabel(WHEN_LABEL).inputValue()).toBe(wallIn(ZONE, due));
    const later = due + 30 * 60_000;
    await editForm.getByLabel('Action', { exact: true }).selectOption({ label: 'Move to 100%' });
    await editForm.getByLabel(WHEN_LABEL).fill(wallIn(ZONE, later));
    await editForm.getByRole('button', { name: 'Save changes' }).click();
    await panel(page).getByRole('status').filter({ hasText: 'Changed: Move to 100% at' }).waitFor();
    const [edited] = await schedules('&status=pending');
    expect(edited).toMatchObject({ id: created!.id, at: new Date(later).toISOString(), action: { stage: '100%' }, version: 2 });
    await expect.poll(() => panel(page).locator(`li[data-schedule="${created!.id}"] .schedule-action`).textContent(), { timeout: 5000 }).toBe('Move to 100%');
    await page.screenshot({ path: join(ARTIFACTS, 'schedules-panel.png') });
  });

  it('lists it under Upcoming changes, filters by environment, and cancels it there', async () => {
    const [pending] = await schedules('&status=pending');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upcoming changes' }).click();
    await page.getByRole('heading', { name: 'Upcoming changes' }).waitFor();
    expect(await page.title()).toBe('Upcoming changes · Switchyard');
    const row = page.locator(`tr[data-schedule="${pending!.id}"]`);
    await row.waitFor();
    expect(await row.getByRole('link', { name: FLAG }).getAttribute('href')).toBe(`/flags/${FLAG}`);
    expect(await row.locator('td').nth(2).textContent()).toBe('Staging');
    expect(await row.locator('td').nth(3).textContent()).toContain('Move to 100%');
    await expectNoAxeViolations(page, 'the upcoming changes page');
    await page.emulateMedia({ colorScheme: 'dark' });
    await expectNoAxeViolations(page, 'the upcoming changes page in dark mode');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.screenshot({ path: join(ARTIFACTS, 'schedules-upcoming.png') });

    // The flag link opens the flag in the schedule's environment, whichever was chosen before.
    await page.locator('#env-select').selectOption('production');
    await row.getByRole('link', { name: FLAG }).click();
    await panel(page).getByRole('heading', { name: 'Scheduled changes in Staging' }).waitFor();
    expect(await page.locator('#env-select').inputValue()).toBe('staging');
    await panel(page).locator(`li[data-schedule="${pending!.id}"]`).waitFor();
    await page.goBack();
    await row.waitFor();

    await page.getByLabel('Show environment').selectOption('production');
    await page.getByText('Nothing scheduled in Production.').waitFor();
    expect(page.url()).toMatch(/\/schedules\?environment=production$/);
    await page.getByLabel('Show environment').selectOption('staging');
    await row.waitFor();

    await row.getByRole('button', { name: `Cancel: Move to 100% of ${FLAG} in Staging (schedule ${pending!.id})` }).click();
    await page.getByRole('status').filter({ hasText: `Cancelled: Move to 100% of ${FLAG} in Staging` }).waitFor();
    await page.getByText('Nothing scheduled in Staging.').waitFor();
    const [cancelled] = await schedules('&status=cancelled');
    expect(cancelled).toMatchObject({ id: pending!.id, status: 'cancelled' });
    expect((await flag()).environments.staging!.stage).toBe('off');
  });

  it('runs one due in a few seconds: the panel and the flag’s stage follow, and the API says the scheduler did it', async () => {
    // The flag link on the upcoming page opens the flag in the schedule's environment; here, directly.
    await openFlag(page);
    expect(await page.getByTestId('flag-state').textContent()).toBe('Off');
    await panel(page).getByRole('button', { name: 'Schedule a change…' }).click();
    const due = Math.ceil((Date.now() + 6000) / 1000) * 1000;
    await fillForm(page, 'Move to Dogfood', wallIn(ZONE, due, true));
    await panel(page).locator('form.schedule-form').getByRole('button', { name: 'Schedule' }).click();
    await panel(page).getByRole('status').filter({ hasText: 'Scheduled: Move to Dogfood at' }).waitFor();
    const [created] = await schedules('&status=pending');
    expect(created).toMatchObject({ at: new Date(due).toISOString(), action: { stage: 'dogfood' } });
    // Pending until it is due (unless this machine was slower than 6 s to get here).
    if (Date.now() < due - 500) await panel(page).locator(`ul[aria-label="Pending scheduled changes"] li[data-schedule="${created!.id}"]`).waitFor();

    const ran = panel(page).locator(`ul[aria-label="Recent scheduled changes"] li[data-schedule="${created!.id}"][data-status="executed"]`);
    await ran.waitFor({ timeout: 20_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(due);
    await page.locator('.page-head [data-stage="dogfood"]').waitFor();
    expect(await page.getByTestId('flag-state').textContent()).toBe('On');
    expect(await panel(page).locator('ul[aria-label="Pending scheduled changes"]').count()).toBe(0);
    expect(await ran.locator('.badge').textContent()).toBe('Executed');
    const after = await flag();
    expect(await ran.locator('.schedule-outcome').textContent()).toBe(`move to dogfood: flag version ${after.version}`);
    await page.screenshot({ path: join(ARTIFACTS, 'schedules-executed.png') });
    await expectNoAxeViolations(page, 'the scheduled changes panel with an executed one', { include: 'section.schedules' });
    await page.emulateMedia({ colorScheme: 'dark' });
    await expectNoAxeViolations(page, 'the scheduled changes panel in dark mode', { include: 'section.schedules' });
    await page.emulateMedia({ colorScheme: 'light' });

    expect(after.environments.staging!.stage).toBe('dogfood');
    const [executed] = await schedules('&status=executed');
    expect(executed).toMatchObject({ id: created!.id, status: 'executed', resultVersion: after.version });
    const audit = await call<{ items: { actor: string; source: string; message: string; environment: string }[] }>('GET', `/api/flags/${FLAG}/audit`);
    const entry = audit.body.items.find((a) => a.actor === 'scheduler');
    expect(entry).toMatchObject({ source: 'scheduler', environment: 'staging', message: `scheduled by ${adminName} (schedule ${created!.id})` });
  });

  it('shows a run that failed with the server’s reason (the flag was changed by hand meanwhile)', async () => {
    const before = await flag();
    const due = Date.now() + 5000;
    const created = await call<ScheduleJson>('POST', `/api/flags/${FLAG}/environments/development/schedules`, { at: new Date(due).toISOString(), action: { type: 'stage', stage: '50%' } });
    expect(created.status).toBe(201);
    expect((await call('POST', `/api/flags/${FLAG}/environments/development/stage`, { stage: '10%', version: before.version })).status).toBe(200);
    await page.goto(`${server.url}/flags/${FLAG}`);
    await page.locator('#env-select').selectOption('development');
    await panel(page).getByRole('heading', { name: 'Scheduled changes in Development' }).waitFor();
    const failed = panel(page).locator(`ul[aria-label="Recent scheduled changes"] li[data-schedule="${created.body.id}"][data-status="failed"]`);
    await failed.waitFor({ timeout: 20_000 });
    const [stored] = await schedules('&environment=development&status=failed');
    expect(stored!.outcome).toMatch(/^failed: conflict: flag "spring-sale" changed in development since this was scheduled/);
    expect(await failed.locator('.badge').textContent()).toBe('Failed');
    expect(await failed.locator('.schedule-outcome').textContent()).toBe(stored!.outcome);
    await page.emulateMedia({ colorScheme: 'dark' });
    await expectNoAxeViolations(page, 'a failed scheduled change in dark mode', { include: 'section.schedules' });
    await page.emulateMedia({ colorScheme: 'light' });
    expect((await flag()).environments.development!.stage).toBe('10%');
  });

  it('shows an approval policy’s refusal in the server’s words; a kill can still be scheduled there', async () => {
    expect((await call('PUT', '/api/environments/production/approval-policy', { required: true })).status).toBe(200);
    const due = Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000;
    const refused = await call<{ error: { code: string; message: string } }>('POST', `/api/flags/${FLAG}/environments/production/schedules`, { at: new Date(due).toISOString(), action: { type: 'stage', stage: '50%' } });
    expect(refused.body.error.code).toBe('approval_required');
    await page.goto(`${server.url}/flags/${FLAG}`);
    await page.locator('#env-select').selectOption('production');
    await panel(page).getByRole('heading', { name: 'Scheduled changes in Production' }).waitFor();
    await panel(page).getByRole('button', { name: 'Schedule a change…' }).click();
    const form = panel(page).locator('form.schedule-form');
    await fillForm(page, 'Move to 50%', wallIn(ZONE, due));
    expect(await form.textContent()).toContain('Production is a critical environment: this reaches real users at that time.');
    await form.getByRole('button', { name: 'Schedule' }).click();
    const alert = form.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe(refused.body.error.message);

    await form.getByLabel('Action', { exact: true }).selectOption({ label: 'Kill (off for everyone)' });
    await form.getByRole('button', { name: 'Schedule' }).click();
    await panel(page).getByRole('status').filter({ hasText: 'Scheduled: Kill at' }).waitFor();
    const [kill] = await schedules('&environment=production&status=pending');
    expect(kill).toMatchObject({ action: { type: 'kill' }, at: new Date(due).toISOString() });
    expect((await call('DELETE', `/api/schedules/${kill!.id}`)).status).toBe(200);
  });

  it('a viewer sees the schedules, but nothing to schedule, edit or cancel with', async () => {
    const due = Date.now() + 3 * 3_600_000;
    const created = await call<ScheduleJson>('POST', `/api/flags/${FLAG}/environments/staging/schedules`, { at: new Date(due).toISOString(), action: { type: 'kill' } });
    expect(created.status).toBe(201);
    const token = await call<{ token: string }>('POST', '/api/tokens', { name: 'reader', role: 'viewer' });
    expect(token.status).toBe(201);
    const { context: viewerContext, page: viewer } = await zonedPage(browser, server, ZONE, token.body.token);
    try {
      await openFlag(viewer);
      const item = panel(viewer).locator(`li[data-schedule="${created.body.id}"]`);
      await item.waitFor();
      expect(await item.locator('.schedule-action').textContent()).toBe('Kill');
      expect(await item.getByRole('button').count()).toBe(0);
      expect(await panel(viewer).getByRole('button', { name: 'Schedule a change…' }).isDisabled()).toBe(true);
      expect(await panel(viewer).locator('.guard').getAttribute('title')).toMatch(/viewer role/);
      await viewer.goto(`${server.url}/schedules`);
      await viewer.locator(`tr[data-schedule="${created.body.id}"]`).waitFor();
      expect(await viewer.getByRole('button', { name: /^Cancel/ }).count()).toBe(0);
    } finally {
      await viewerContext.close();
    }
  });
});
