import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The canary console and the blue/green card in a real browser against the real server: start a
 * plan, see the live split, pause, resume, abort; the guard waiting for exposures and rolling back
 * on real uploads, in plain words; switch a blue/green flag and back.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
if (!ready) console.warn('[canary console browser test skipped] needs dashboard/dist and /usr/bin/chromium');

describe.skipIf(!ready)('canary console in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;
  let sdkKey: string;

  /** Counts as an SDK would upload them (`POST /api/sdk/metrics`). */
  async function upload(flag: string, on: { exposures: number; errors: number }, off: { exposures: number; errors: number }): Promise<void> {
    const res = await fetch(`${server.url}/api/sdk/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        exposures: [{ flag, variation: 'on', count: on.exposures }, { flag, variation: 'off', count: off.exposures }],
        events: [{ name: 'error', flag, variation: 'on', count: on.errors }, { name: 'error', flag, variation: 'off', count: off.errors }].filter((e) => e.count > 0),
      }),
    });
    expect(res.status, await res.text()).toBe(202);
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'canary-console', environment: 'production' })).body.key;
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
    // Production is critical: starting asks first.
    await page.getByRole('dialog').getByRole('button', { name: 'Start canary' }).click();
    await console_().getByText('99% off / 1% on').waitFor();
    await console_().locator('.badge', { hasText: 'Running' }).waitFor();
    expect(await console_().locator('.timeline li[aria-current="step"]').innerText()).toMatch(/^1%/);
    await page.screenshot({ path: join(ARTIFACTS, 'canary-console.png') });

    await console_().getByRole('button', { name: 'Pause' }).click();
    await console_().locator('.badge', { hasText: 'Paused' }).waitFor();
    await console_().getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Resume canary' }).click();
    await console_().locator('.badge', { hasText: 'Running' }).waitFor();
    await console_().getByRole('button', { name: 'Abort & roll back' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Abort & roll back' }).click();
    await console_().locator('.badge', { hasText: 'Aborted' }).waitFor();
    // Not "100% off": dogfood users keep the new variation after the rollback.
    await console_().getByTestId('canary-status').filter({ hasText: 'Aborted and rolled back to Dogfood: internal users still get it (on)' }).waitFor();
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

  it('says in words what the guard waits for, and why it rolled back', async () => {
    await call('POST', '/api/flags', { key: 'risky', name: 'Risky' });
    expect((await call('PUT', '/api/flags/risky/environments/production/release-plan', { strategy: 'guarded' })).status).toBe(200);
    expect((await call('POST', '/api/flags/risky/environments/production/release-plan/start', {})).status).toBe(200);
    await page.goto(`${server.url}/flags/risky`);
    const status = console_().getByTestId('canary-status');
    await status.filter({ hasText: /Step 1 of 4: 1% until \d\d:\d\d/ }).waitFor();

    // 60 of the 200 exposures the guard needs on the new variation: 140 to go.
    await upload('risky', { exposures: 60, errors: 0 }, { exposures: 6000, errors: 60 });
    await console_().locator('.canary-detail', { hasText: 'Waiting for 140 more exposures before it can decide' }).waitFor();

    // 8.6% errors on the new variation vs 1% elsewhere: the guard rolls back by itself.
    await upload('risky', { exposures: 1940, errors: 172 }, { exposures: 44_000, errors: 440 });
    await console_().locator('.badge', { hasText: 'Rolled back' }).waitFor({ timeout: 15_000 });
    await console_().locator('.canary-detail', { hasText: 'Rolled back: 8.6% errors on the new version vs 1%' }).waitFor();
    await status.filter({ hasText: 'Rolled back to Dogfood: internal users still get it (on); everyone else gets off' }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'canary-rolled-back.png') });
    expect((await call<{ stage: string }>('GET', '/api/flags/risky/environments/production/release-plan')).body.stage).toBe('dogfood');
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
