import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The canary console and the blue/green card in a real browser against the real server: start a
 * plan, see the live split, pause, resume, abort; switch a blue/green flag and back.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
if (!ready) console.warn('[canary console browser test skipped] needs dashboard/dist and /usr/bin/chromium');

describe.skipIf(!ready)('canary console in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    await call('POST', '/api/flags', { key: 'new-search', name: 'New search' });
    const steps = [1, 10, 50, 100].map((percentage) => ({ percentage, minDurationMs: 3_600_000, minExposures: 1000 }));
    expect((await call('PUT', '/api/flags/new-search/environments/production/release-plan', { strategy: 'guarded', steps })).status).toBe(200);
    await call('POST', '/api/flags', { key: 'stack', name: 'Stack', type: 'string', variations: [{ key: 'blue', value: 'blue' }, { key: 'green', value: 'green' }] });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await signIn(page, server.url, server.adminToken);
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  const console_ = () => page.locator('section.canary');

  it('starts, pauses, resumes and aborts a plan, showing the live split and the decision log', async () => {
    await page.goto(`${server.url}/flags/new-search`);
    await console_().getByRole('button', { name: 'Start' }).click();
    await console_().getByText('99% off / 1% on').waitFor();
    await console_().locator('.badge', { hasText: 'Running' }).waitFor();
    expect(await console_().locator('.timeline li[aria-current="step"]').innerText()).toMatch(/^1%/);
    await page.screenshot({ path: join(ARTIFACTS, 'canary-console.png') });

    await console_().getByRole('button', { name: 'Pause' }).click();
    await console_().locator('.badge', { hasText: 'Paused' }).waitFor();
    await console_().getByRole('button', { name: 'Resume' }).click();
    await console_().locator('.badge', { hasText: 'Running' }).waitFor();
    await console_().getByRole('button', { name: 'Abort & roll back' }).click();
    await console_().locator('.badge', { hasText: 'Aborted' }).waitFor();
    await console_().getByText('100% off').waitFor();
    await console_().getByText(/Decision log/).click();
    for (const kind of ['started', 'paused', 'resumed', 'aborted']) await console_().locator('.decision-log li', { hasText: kind }).first().waitFor();
    const view = await call<{ stage: string }>('GET', '/api/flags/new-search/environments/production/release-plan');
    expect(view.body.stage).toBe('dogfood');
  });

  it('saves a guarded plan from the form, with its own error event, α and δ', async () => {
    await call('POST', '/api/flags', { key: 'form-plan', name: 'Form plan' });
    await page.goto(`${server.url}/flags/form-plan`);
    await console_().getByRole('button', { name: 'Create plan' }).click();
    const form = page.locator('form.plan-form');
    await form.getByLabel('Steps (%)').fill('5, 25, 100');
    await form.getByLabel('Error event').fill('checkout_error');
    await form.getByLabel('False rollback risk (α)').fill('0.01');
    await form.getByLabel('Tolerated increase (δ, %)').fill('20');
    await form.getByRole('button', { name: 'Save plan' }).click();
    await console_().getByRole('button', { name: 'Start' }).waitFor();
    const view = await call<{ plan: { spec: { steps: { percentage: number }[]; guard: { errorEvent: string; alpha: number; minRelativeIncrease: number } } } }>('GET', '/api/flags/form-plan/environments/production/release-plan');
    expect(view.body.plan.spec.steps.map((s) => s.percentage)).toEqual([5, 25, 100]);
    expect(view.body.plan.spec.guard).toMatchObject({ errorEvent: 'checkout_error', alpha: 0.01, minRelativeIncrease: 0.2 });
    // Out of range: the browser refuses to submit the form (the server would answer 400 too).
    await console_().getByRole('button', { name: 'Edit plan' }).click();
    await form.getByLabel('False rollback risk (α)').fill('0.9');
    await form.getByRole('button', { name: 'Save plan' }).click();
    expect(await form.getByLabel('False rollback risk (α)').evaluate((input) => (input as HTMLInputElement).validity.rangeOverflow)).toBe(true);
    const unchanged = await call<{ plan: { spec: { guard: { alpha: number } } } }>('GET', '/api/flags/form-plan/environments/production/release-plan');
    expect(unchanged.body.plan.spec.guard.alpha).toBe(0.01);
  });

  it('switches a blue/green flag in one click and shows which side is live', async () => {
    await page.goto(`${server.url}/flags/stack`);
    const card = page.locator('section.blue-green');
    await card.getByRole('button', { name: 'Switch to green' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Switch to green' }).click();
    await card.locator('.bg-live', { hasText: 'green' }).waitFor();
    await card.getByRole('button', { name: 'Switch to blue' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Switch to blue' }).click();
    await card.locator('.bg-live', { hasText: 'blue' }).waitFor();
    const flag = await call<{ environments: { production: { defaultServe: { variation: string } } } }>('GET', '/api/flags/stack');
    expect(flag.body.environments.production.defaultServe.variation).toBe('blue');
  });
});
