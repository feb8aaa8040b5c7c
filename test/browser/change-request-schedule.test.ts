import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoAxeViolations } from '../support/axe.js';
import { browserReady as ready, createEditors, launchChromium } from '../support/browser.js';
import { ARTIFACTS, startWithFlag, stopAll, utcText, wallIn, whenLabel, zonedPage, type FlagJson, type ScheduleJson } from '../support/schedule-fixtures.js';
import type { Api } from '../support/sdk-e2e.js';
import { api, type ServerProcess } from '../support/server-process.js';

/**
 * Scheduling the apply of an approved change request from its page (issue 14), in Chromium (in
 * Berlin's time zone) against the real server process. Production needs one approval; alice opens a
 * request (API), bob approves it (API). Before it is approved "Schedule apply…" is shown disabled
 * with why; once approved alice schedules it: a past time is refused next to the field in the
 * server's words; an hour ahead it is pending (Berlin time and UTC, who), listed in the flag's
 * panel and on the upcoming changes page as "Apply change request #N"; she edits the time to a few seconds ahead, the
 * scheduler (it looks every 2 s) applies it, and the page shows the request applied by `scheduler`,
 * what the run did, and the flag moved. A schedule someone else made shows who, and is cancelled there.
 */
const FLAG = 'night-launch';
const ZONE = 'Europe/Berlin';
const WHEN_LABEL = whenLabel(ZONE);

describe.skipIf(!ready)('scheduling a change request’s apply in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: Api;
  const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
  let requestId = 0;

  const flag = async () => (await call<FlagJson>('GET', `/api/flags/${FLAG}`)).body;
  const section = () => page.locator('section.request-schedule');
  const openRequest = async (id: number) => {
    await page.goto(`${server.url}/change-requests/${id}`);
    await page.getByRole('heading', { level: 1, name: new RegExp(`^#${id} `) }).waitFor();
  };

  beforeAll(async () => {
    ({ server, call } = await startWithFlag(FLAG, 'Night launch'));
    Object.assign(tokens, await createEditors(call, ['alice', 'bob'] as const));
    expect((await call('PUT', '/api/environments/production/approval-policy', { required: true })).status).toBe(200);
    // alice opens the request (the API is what the stage stepper calls).
    const opened = await api(server.url, tokens.alice)<{ id: number; status: string }>('POST', '/api/change-requests', {
      title: 'Launch at night',
      environment: 'production',
      changes: [{ type: 'stage', flag: FLAG, stage: '50%', baseVersion: (await flag()).version }],
    });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    expect(opened.body.status).toBe('open');
    requestId = opened.body.id;
    browser = await launchChromium();
    ({ page } = await zonedPage(browser, server, ZONE, tokens.alice));
  });

  afterAll(() => stopAll(browser, server));

  it('offers the scheduled apply only once approved; refuses a past time in the server’s words; schedules it, listed on the upcoming page', async () => {
    await openRequest(requestId);
    const button = section().getByRole('button', { name: 'Schedule apply…' });
    await button.waitFor();
    expect(await button.isDisabled()).toBe(true);

    const approved = await api(server.url, tokens.bob)<{ status: string }>('POST', `/api/change-requests/${requestId}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');
    await openRequest(requestId);
    expect(await page.locator('.head-badges [data-status]').textContent()).toBe('Approved');
    await button.click();
    const form = section().getByRole('form', { name: `Schedule the apply of change request #${requestId}` });
    await form.waitFor();

    // A time in the past: refused by the server, next to the field, as it said it.
    await form.getByLabel(WHEN_LABEL).fill(wallIn(ZONE, Date.now() - 3_600_000));
    await form.getByRole('button', { name: 'Schedule apply' }).click();
    const atError = form.locator('#apply-schedule-new-at-error');
    await atError.waitFor();
    expect(await atError.textContent()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z is in the past \(the server's time is .+\); schedule a time in the future$/);
    expect(await form.getByLabel(WHEN_LABEL).getAttribute('aria-invalid')).toBe('true');

    // An hour ahead, Berlin time; the hint says which UTC time that is.
    const due = Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000;
    await form.getByLabel(WHEN_LABEL).fill(wallIn(ZONE, due));
    expect(await form.locator('#apply-schedule-new-when-hint').textContent()).toContain(`that is ${utcText(due)}`);
    await form.getByLabel('If the server was down at that time').selectOption('skip');
    await form.getByLabel('Comment for the audit log (optional)').fill('after the traffic peak');
    await form.getByRole('button', { name: 'Schedule apply' }).click();
    await section().getByRole('status').filter({ hasText: `Scheduled: Apply change request #${requestId} at` }).waitFor();

    const pending = (await call<{ items: ScheduleJson[] }>('GET', '/api/schedules?status=pending')).body.items;
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ at: new Date(due).toISOString(), action: { type: 'change_request', requestId }, createdBy: 'alice', status: 'pending' });
    const item = section().locator(`.request-schedule-pending[data-schedule="${pending[0]!.id}"]`);
    await item.waitFor();
    expect(await item.locator('time').getAttribute('datetime')).toBe(new Date(due).toISOString());
    expect(await item.locator('.schedule-local').textContent()).toMatch(/GMT\+1|GMT\+2/);
    expect(await item.locator('.schedule-utc').textContent()).toContain(utcText(due));
    expect(await item.locator('.schedule-who').textContent()).toBe('scheduled by alice · If over 5 min late: skip · “after the traffic peak”');
    // Once at a time: no second "Schedule apply…".
    expect(await section().getByRole('button', { name: 'Schedule apply…' }).count()).toBe(0);
    await expectNoAxeViolations(page, 'a change request with a scheduled apply', { include: 'section.request-schedule' });

    // The flag's panel in production lists it too, linking to the request.
    await page.goto(`${server.url}/flags/${FLAG}`);
    await page.locator('#env-select').selectOption('production');
    const panelItem = page.locator(`section.schedules ul[aria-label="Pending scheduled changes"] li[data-schedule="${pending[0]!.id}"]`);
    await panelItem.waitFor();
    expect(await panelItem.getByRole('link', { name: `Apply change request #${requestId}` }).getAttribute('href')).toBe(`/change-requests/${requestId}`);

    // The upcoming changes page lists it, linking back to the request.
    await page.goto(`${server.url}/schedules`);
    const row = page.locator(`tr[data-schedule="${pending[0]!.id}"]`);
    await row.waitFor();
    const link = row.getByRole('link', { name: `Apply change request #${requestId}` });
    expect(await link.getAttribute('href')).toBe(`/change-requests/${requestId}`);
    expect(await row.locator('.flag-link').textContent()).toBe(FLAG);
    await link.click();
    await page.getByRole('heading', { level: 1, name: new RegExp(`^#${requestId} `) }).waitFor();
  }, 60_000);

  it('edits the time to a few seconds ahead; the scheduler applies it and the page shows the request applied by the scheduler', async () => {
    await openRequest(requestId);
    const item = section().locator('.request-schedule-pending');
    await item.waitFor();
    await item.getByRole('button', { name: 'Edit time…' }).click();
    const form = section().getByRole('form', { name: `Edit the scheduled apply of change request #${requestId}` });
    await form.waitFor();
    const due = Math.ceil((Date.now() + 6000) / 1000) * 1000;
    await form.getByLabel(WHEN_LABEL).fill(wallIn(ZONE, due, true));
    await form.getByRole('button', { name: 'Save time' }).click();
    await section().getByRole('status').filter({ hasText: `Changed: Apply change request #${requestId} at` }).waitFor();
    const [edited] = (await call<{ items: ScheduleJson[] }>('GET', '/api/schedules?status=pending')).body.items;
    expect(edited).toMatchObject({ at: new Date(due).toISOString(), action: { type: 'change_request', requestId }, createdBy: 'alice', updatedBy: 'alice' });
    // Pending until it is due (unless this machine was slower than 6 s to get here).
    // (The list redraws after the form's confirmation: wait for it.)
    if (Date.now() < due - 2000) await expect.poll(() => section().locator(`.request-schedule-pending[data-schedule="${edited!.id}"] time`).getAttribute('datetime'), { timeout: 1000 }).toBe(new Date(due).toISOString());
    expect((await flag()).environments.production!.stage).toBe('off');

    // The scheduler runs it; the page follows without a reload.
    await page.locator('.head-badges [data-status="applied"]').waitFor({ timeout: 20_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(due);
    await page.locator('.banner', { hasText: 'Applied by scheduler at' }).waitFor();
    const ran = section().locator(`li[data-schedule="${edited!.id}"][data-status="executed"]`);
    await ran.waitFor();
    // What was said before it ran ("Changed: … at …") is gone; the list says what happened.
    expect(await section().locator('.schedule-message').count()).toBe(0);
    expect(await ran.locator('.schedule-outcome').textContent()).toMatch(new RegExp(`^Ran: applied change request #${requestId} "Launch at night": 1 change, flag "${FLAG}" now at version \\d+`));
    expect(await section().locator('.request-schedule-pending').count()).toBe(0);
    expect(await section().getByRole('button', { name: 'Schedule apply…' }).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'change-request-scheduled-apply.png') });

    const after = await flag();
    expect(after.environments.production!.stage).toBe('50%');
    const request = await call<{ status: string; resolvedBy: string }>('GET', `/api/change-requests/${requestId}`);
    expect(request.body).toMatchObject({ status: 'applied', resolvedBy: 'scheduler' });
    const [executed] = (await call<{ items: ScheduleJson[] }>('GET', '/api/schedules?status=executed')).body.items;
    expect(executed).toMatchObject({ id: edited!.id, status: 'executed' });
  }, 60_000);

  it('shows a schedule someone else made and cancels it; the request can then be scheduled again', async () => {
    const alice = api(server.url, tokens.alice);
    const bob = api(server.url, tokens.bob);
    const opened = await alice<{ id: number }>('POST', '/api/change-requests', { title: 'Everyone', environment: 'production', changes: [{ type: 'stage', flag: FLAG, stage: '100%', baseVersion: (await flag()).version }] });
    expect(opened.status).toBe(201);
    const id = opened.body.id;
    expect((await bob('POST', `/api/change-requests/${id}/approve`)).status).toBe(200);
    const due = Date.now() + 2 * 3_600_000;
    const scheduled = await bob<ScheduleJson>('POST', `/api/change-requests/${id}/schedule`, { at: new Date(due).toISOString() });
    expect(scheduled.status).toBe(201);
    // Only once at a time: the server's 409 is what the page would show.
    const twice = await bob<{ error: { message: string } }>('POST', `/api/change-requests/${id}/schedule`, { at: new Date(due).toISOString() });
    expect(twice.status).toBe(409);

    await openRequest(id);
    const item = section().locator(`.request-schedule-pending[data-schedule="${scheduled.body.id}"]`);
    await item.waitFor();
    expect(await item.locator('.schedule-who').textContent()).toBe('scheduled by bob · If over 5 min late: run anyway');
    expect(await section().getByRole('button', { name: 'Schedule apply…' }).count()).toBe(0);
    await item.getByRole('button', { name: 'Cancel schedule' }).click();
    await section().getByRole('status').filter({ hasText: `Cancelled: Apply change request #${id} at` }).waitFor();
    const cancelled = section().locator(`li[data-schedule="${scheduled.body.id}"][data-status="cancelled"]`);
    await cancelled.waitFor();
    expect(await cancelled.locator('.schedule-outcome').textContent()).toBe('Cancelled by alice');
    expect(await section().getByRole('button', { name: 'Schedule apply…' }).isEnabled()).toBe(true);
    expect((await call<ScheduleJson>('GET', `/api/schedules/${scheduled.body.id}`)).body).toMatchObject({ status: 'cancelled', updatedBy: 'alice' });
    expect(await page.locator('.head-badges [data-status]').textContent()).toBe('Approved');
  }, 60_000);
});
