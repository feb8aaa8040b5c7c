import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contrastRatio } from '../support/axe.js';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The canary console's "wrong today" items, in a real browser against the real server: the plan
 * form's inputs are normal inputs; the step minimum the guard would override is refused next to the
 * field; starting and aborting in production ask first; a manual stage move during a running canary
 * says it pauses it; "No exposures reported yet" only where exposures are collected; and the stepper
 * is disabled, saying why, while the server cannot be reached.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const ENV_STORAGE = 'switchyard.environment';

interface PlanJson {
  plan: { status: string; spec: { steps: { percentage: number; minExposures: number }[] } } | null;
  stage: string;
}

describe.skipIf(!ready)('canary console in a browser: plain, confirmed, honest', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof api>;
  let sdkKey: string;

  const planOf = async (key: string, env = 'production') => (await call<PlanJson>('GET', `/api/flags/${key}/environments/${env}/release-plan`)).body;
  const canary = () => page.locator('section.canary');
  const dialog = () => page.getByRole('dialog');
  const inEnvironment = async (env: string, key: string) => {
    await page.evaluate(([storage, value]) => localStorage.setItem(storage!, value!), [ENV_STORAGE, env]);
    await page.goto(`${server.url}/flags/${key}`);
    await canary().waitFor();
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    for (const key of ['form-flag', 'edit-flag', 'chart-flag', 'prod-canary', 'staging-canary', 'quiet-flag']) expect((await call('POST', '/api/flags', { key, name: key })).status).toBe(201);
    sdkKey = (await call<{ key: string }>('POST', '/api/sdk-keys', { name: 'canary-console', environment: 'production' })).body.key;
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

  it('draws the plan form with normal inputs and refuses fewer step exposures than the guard needs', async () => {
    await inEnvironment('production', 'form-flag');
    await canary().getByRole('button', { name: 'Create plan' }).click();
    const form = page.locator('form.plan-form');
    for (const label of ['Steps (%)', 'Min exposures per step', 'Error event']) {
      const style = await form.getByLabel(label).evaluate((input) => {
        const css = getComputedStyle(input);
        return { height: input.getBoundingClientRect().height, weight: css.fontWeight };
      });
      expect(style.height, label).toBeLessThan(60);
      expect(style.weight, label).toBe('400');
    }
    await page.screenshot({ path: join(ARTIFACTS, 'canary-plan-form.png') });

    const exposures = form.getByLabel('Min exposures per step');
    expect(await exposures.getAttribute('min')).toBe('200');
    expect(await form.locator('#plan-exposures-hint').textContent()).toMatch(/at least 200 exposures per variation before a decision/i);
    await exposures.fill('150');
    await form.getByRole('button', { name: 'Save plan' }).click();
    const error = form.getByRole('alert');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/At least 200/);
    expect(await exposures.getAttribute('aria-invalid')).toBe('true');
    expect((await planOf('form-flag')).plan).toBeNull(); // nothing was sent

    // The server's own rule: fewer than 200 is "not enough data", so 200 itself is accepted.
    await exposures.fill('200');
    expect(await form.getByRole('alert').count()).toBe(0);
    await form.getByRole('button', { name: 'Save plan' }).click();
    await canary().getByRole('button', { name: 'Start' }).waitFor();
    const saved = (await planOf('form-flag')).plan!;
    expect(saved.spec.steps.map((s) => s.minExposures)).toEqual([200, 200, 200, 0]);
  });

  it('opens "Edit plan" with the saved plan, and saving an edit keeps what the form does not show', async () => {
    const MINUTE = 60_000;
    const spec = {
      strategy: 'guarded',
      steps: [
        { percentage: 5, minDurationMs: 15 * MINUTE, minExposures: 800 },
        { percentage: 25, minDurationMs: 15 * MINUTE, minExposures: 800 },
        { percentage: 100, minDurationMs: 15 * MINUTE, minExposures: 0 },
      ],
      guard: { errorEvent: 'checkout_error', alpha: 0.01, minRelativeIncrease: 0.07, minExposures: 500, latency: { event: 'latency_ms', maxRelativeIncrease: 0.3, minSamples: 400 } },
    };
    const put = await call('PUT', '/api/flags/edit-flag/environments/production/release-plan', spec);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    await inEnvironment('production', 'edit-flag');
    await canary().getByRole('button', { name: 'Edit plan' }).click();
    const form = page.locator('form.plan-form');
    const valueOf = (label: string) => form.getByLabel(label).inputValue();
    expect(await valueOf('Strategy')).toBe('guarded');
    expect(await valueOf('Steps (%)')).toBe('5, 25, 100');
    expect(await valueOf('Min exposures per step')).toBe('800');
    expect(await valueOf('Min minutes per step')).toBe('15');
    expect(await valueOf('Error event')).toBe('checkout_error');
    expect(await valueOf('False rollback risk (α)')).toBe('0.01');
    expect(await valueOf('Tolerated increase (δ, %)')).toBe('7');
    // The guard's own minimum (500, not the usual 200) is the floor for a step's.
    expect(await form.locator('#plan-exposures-hint').textContent()).toMatch(/at least 500 exposures per variation/i);

    // Change δ only: the steps and the guard's other settings stay as saved.
    await form.getByLabel('Tolerated increase (δ, %)').fill('12');
    await form.getByRole('button', { name: 'Save plan' }).click();
    await form.waitFor({ state: 'detached' });
    const saved = (await call<{ plan: { spec: typeof spec } }>('GET', '/api/flags/edit-flag/environments/production/release-plan')).body.plan.spec;
    expect(saved.steps).toEqual(spec.steps);
    expect(saved.guard).toMatchObject({ ...spec.guard, minRelativeIncrease: 0.12 });
  });

  it('draws the metrics charts in the colour scheme\'s colours, dark mode included', async () => {
    expect((await call('PUT', '/api/flags/chart-flag/environments/production/release-plan', { strategy: 'guarded' })).status).toBe(200);
    expect((await call('POST', '/api/flags/chart-flag/environments/production/release-plan/start', {})).status).toBe(200);
    const res = await fetch(`${server.url}/api/sdk/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ exposures: [{ flag: 'chart-flag', variation: 'on', count: 40 }, { flag: 'chart-flag', variation: 'off', count: 900 }] }),
    });
    expect(res.status, await res.text()).toBe(202);
    await inEnvironment('production', 'chart-flag');
    const stats = canary().locator('details.canary-stats');
    await stats.locator('summary', { hasText: 'Statistics' }).click();
    const frame = stats.locator('svg rect').first();
    await frame.waitFor();
    const colours = () =>
      stats.evaluate((el) => {
        const css = (node: Element | null) => (node ? getComputedStyle(node) : undefined);
        const lines = Array.from(el.querySelectorAll('svg polyline'), (l) => css(l)!.stroke);
        const swatches = Array.from(el.querySelectorAll('.swatch'), (s) => css(s)!.backgroundColor);
        return { frame: css(el.querySelector('svg rect'))!.fill, lines, swatches };
      });
    const light = await colours();
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      await expect.poll(async () => (await colours()).frame).not.toBe(light.frame);
      const dark = await colours();
      expect(contrastRatio(dark.frame, '#000000'), `dark chart background ${dark.frame}`).toBeLessThan(2);
      expect(dark.lines.length).toBeGreaterThanOrEqual(2);
      for (const [i, line] of dark.lines.entries()) {
        expect(line, `line ${i}`).not.toBe(light.lines[i]);
        // Lines are graphics: 3:1 against the chart they are drawn on (WCAG 1.4.11).
        expect(contrastRatio(line, dark.frame), `line ${i} ${line} on ${dark.frame}`).toBeGreaterThanOrEqual(3);
      }
      // The legend's swatches are the lines' colours.
      expect(dark.swatches).toEqual(dark.lines.slice(0, dark.swatches.length));
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }
    for (const [i, line] of light.lines.entries()) expect(contrastRatio(line, light.frame), `light line ${i}`).toBeGreaterThanOrEqual(3);
  });

  it('asks before starting and aborting a canary in production, and says what it waits for', async () => {
    expect((await call('PUT', '/api/flags/prod-canary/environments/production/release-plan', { strategy: 'guarded' })).status).toBe(200);
    await inEnvironment('production', 'prod-canary');
    // A flag that never collects exposures does not claim to wait for them.
    expect(await page.getByText('No exposures reported yet').count()).toBe(0);

    await canary().getByRole('button', { name: 'Start' }).click();
    expect(await dialog().getByRole('heading').textContent()).toBe('Start the canary of prod-canary in Production?');
    expect(await dialog().textContent()).toContain('Production is a critical environment.');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    expect((await planOf('prod-canary')).plan!.status).toBe('ready');

    await canary().getByRole('button', { name: 'Start' }).click();
    await dialog().getByRole('button', { name: 'Start canary' }).click();
    await canary().locator('.badge', { hasText: 'Running' }).waitFor();
    const status = canary().getByTestId('canary-status');
    expect(await status.textContent()).toMatch(/Step 1 of 4: 1% until \d\d:\d\d/);
    // A running guarded canary collects exposures: now it says it has none yet, in words.
    await canary().locator('.canary-detail', { hasText: 'No exposures reported yet' }).waitFor();
    // The statistics are behind a toggle.
    const stats = canary().locator('details.canary-stats');
    expect(await stats.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    await stats.locator('summary', { hasText: 'Statistics' }).click();
    expect(await stats.textContent()).toContain('no decision before 200 exposures per variation');
    await page.screenshot({ path: join(ARTIFACTS, 'canary-running.png') });

    await canary().getByRole('button', { name: 'Abort & roll back' }).click();
    expect(await dialog().textContent()).toContain('rolls back to Dogfood');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    expect((await planOf('prod-canary')).plan!.status).toBe('running');
    await canary().getByRole('button', { name: 'Abort & roll back' }).click();
    await dialog().getByRole('button', { name: 'Abort & roll back' }).click();
    await canary().locator('.badge', { hasText: 'Aborted' }).waitFor();
    // What is true now: internal users keep the new variation, not "100% off".
    await status.filter({ hasText: 'Aborted and rolled back to Dogfood: internal users still get it (on); everyone else gets off' }).waitFor();
    expect((await planOf('prod-canary')).stage).toBe('dogfood');
  });

  it('says that a manual stage move pauses the running canary, even where stage moves are not confirmed', async () => {
    expect((await call('PUT', '/api/flags/staging-canary/environments/staging/release-plan', { strategy: 'guarded' })).status).toBe(200);
    expect((await call('POST', '/api/flags/staging-canary/environments/staging/release-plan/start')).status).toBe(200);
    await inEnvironment('staging', 'staging-canary');
    await canary().locator('.badge', { hasText: 'Running' }).waitFor();
    await page.locator('.stepper button[data-stage="50%"]').click();
    expect(await dialog().textContent()).toContain('This pauses the running canary on Staging');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    // The kill switch is always confirmed; it says so too.
    await page.getByRole('button', { name: 'Kill switch' }).click();
    expect(await dialog().textContent()).toContain('This also pauses the running canary on Staging');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    expect((await planOf('staging-canary', 'staging')).stage).toBe('1%');

    // Without a canary, staging moves at once, as before.
    await inEnvironment('staging', 'quiet-flag');
    await page.locator('.stepper button[data-stage="dogfood"]').click();
    await page.locator('.stepper button[data-stage="dogfood"][aria-current="step"]').waitFor();
    expect(await dialog().isVisible()).toBe(false);
  });

  it('disables the stepper, saying why, while the server cannot be reached, and enables it when it is back', async () => {
    await inEnvironment('staging', 'quiet-flag');
    const button = page.locator('.stepper button[data-stage="10%"]');
    expect(await button.isEnabled()).toBe(true);
    await page.route('**/api/**', (route) => route.abort());
    try {
      await button.click(); // the write fails: now the dashboard knows the server is gone
      await page.locator('.stepper button[data-stage="10%"]:disabled').waitFor();
      expect(await page.locator('.stepper .guard').first().getAttribute('title')).toMatch(/cannot be reached/);
      expect(await page.locator('.stepper button:enabled').count()).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, 'stepper-unreachable.png') });
    } finally {
      await page.unroute('**/api/**');
    }
    await page.locator('.stepper button[data-stage="10%"]:enabled').waitFor({ timeout: 10_000 });
  });
});
