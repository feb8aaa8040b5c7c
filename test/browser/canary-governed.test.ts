import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, createEditors, launchChromium, Sessions } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The canary console where production requires approval, in Chromium against the real server
 * process: the Start button says "Request start" and, before the click, that it opens a change
 * request; clicking it opens one pinned to the plan's and the flag's versions and links to it (the
 * plan does not start); a second person approves and applies it from its page, and the plan runs —
 * in the API and on the author's flag page. Paused, the plan's Resume is "Request resume", the same way.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const VIEWPORT = { width: 1280, height: 1000 };
const ENV_STORAGE = 'switchyard.environment';
const FLAG = 'governed-canary';

interface PlanJson {
  plan: { status: string; version: number; currentStep: number } | null;
  stage: string;
}
interface RequestJson {
  id: number;
  title: string;
  status: string;
  author: string;
  approvals: { actor: string }[];
  changes: { type: string; flag?: string; action?: string; planVersion?: number; baseVersion: number }[];
}
interface AuditJson {
  items: { action: string; actor: string; environment: string | null; message: string | null }[];
}

describe.skipIf(!ready)('canary console where approvals are required, in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let call: ReturnType<typeof api>;
  const sessions = new Sessions(VIEWPORT);
  const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' };

  const planOf = async () => (await call<PlanJson>('GET', `/api/flags/${FLAG}/environments/production/release-plan`)).body;
  const flagVersion = async () => (await call<{ version: number }>('GET', `/api/flags/${FLAG}`)).body.version;
  const canary = (page: Page) => page.locator('section.canary');

  /** A page in its own browser context (its own session), signed in with `token`, on the flag page in production. */
  async function session(token: string): Promise<Page> {
    const page = await sessions.open(browser, server.url, token);
    await page.evaluate(([storage, value]) => localStorage.setItem(storage!, value!), [ENV_STORAGE, 'production']);
    return page;
  }
  async function onFlagPage(page: Page): Promise<void> {
    await page.goto(`${server.url}/flags/${FLAG}`);
    await canary(page).waitFor();
  }
  /** A second person approves and applies request `id` from its page. */
  async function approveAndApply(page: Page, id: number): Promise<void> {
    await page.goto(`${server.url}/change-requests/${id}`);
    await page.getByRole('heading', { level: 1, name: new RegExp(`^#${id} `) }).waitFor();
    const actions = page.getByRole('group', { name: 'Actions' });
    await actions.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('status').filter({ hasText: `Approved change request #${id}.` }).waitFor();
    await actions.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('status').filter({ hasText: `Applied change request #${id}` }).first().waitFor();
    expect(await page.locator('.head-badges [data-status]').textContent()).toBe('Applied');
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    expect((await call('POST', '/api/flags', { key: FLAG, name: 'Governed canary' })).status).toBe(201);
    Object.assign(tokens, await createEditors(call, ['alice', 'bob'] as const));
    const saved = await call('PUT', `/api/flags/${FLAG}/environments/production/release-plan`, { strategy: 'guarded' });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const policy = await call('PUT', '/api/environments/production/approval-policy', { required: true, approvals: 1 });
    expect(policy.status, JSON.stringify(policy.body)).toBe(200);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await sessions.close();
    await browser?.close();
    if (server) {
      await server.stop();
      removeDataDir(server.dataDir);
    }
  });

  it('Request start opens a linked change request; approved and applied by someone else, the plan runs', async () => {
    const alice = await session(tokens.alice);
    await onFlagPage(alice);
    // Said before the click: the button asks, and the notice it points to says what happens.
    const start = canary(alice).getByRole('button', { name: 'Request start' });
    await start.waitFor();
    expect(await canary(alice).getByRole('button', { name: 'Start', exact: true }).count()).toBe(0);
    expect(await start.getAttribute('aria-describedby')).toBe('canary-notice');
    const notice = canary(alice).locator('#canary-notice');
    expect(await notice.textContent()).toContain('Production requires 1 approval: this opens a change request instead of changing Governed canary: the plan starts when the request is approved and applied.');

    const planBefore = (await planOf()).plan!;
    const versionBefore = await flagVersion();
    await start.click();
    // No "Start the canary?" confirmation: a request changes nothing until it is reviewed.
    const opened = alice.locator('.action-message').filter({ hasText: 'Change request #1 opened' });
    await opened.waitFor();
    expect(await alice.getByRole('dialog').count()).toBe(0);
    expect(await opened.textContent()).toContain('start the release plan of Governed canary in Production. Nothing changes until it has 1 approval and is applied.');
    await alice.screenshot({ path: join(ARTIFACTS, 'canary-request-start.png') });

    // Nothing moved: the plan is ready, the flag off and at its version; the request holds the start, pinned.
    expect(await planOf()).toMatchObject({ plan: { status: 'ready', version: planBefore.version }, stage: 'off' });
    expect(await flagVersion()).toBe(versionBefore);
    const created = await call<RequestJson>('GET', '/api/change-requests/1');
    expect(created.body).toMatchObject({ status: 'open', author: 'alice', title: `Start the release plan of ${FLAG} in production` });
    expect(created.body.changes).toEqual([expect.objectContaining({ type: 'release', flag: FLAG, action: 'start', planVersion: planBefore.version, baseVersion: versionBefore })]);
    expect(await canary(alice).locator('.badge', { hasText: 'Ready' }).count()).toBe(1);
    // The flag page lists it as waiting for review, so nobody requests the same start twice.
    const pending = alice.getByRole('note', { name: 'Pending change requests' });
    await pending.getByRole('link', { name: `#1 Start the release plan of ${FLAG} in production` }).waitFor();
    expect(await pending.textContent()).toContain('(0 of 1 approval, by alice)');

    // The link leads to the request, which shows what it starts; the author cannot approve it.
    await opened.getByRole('link', { name: 'View change request #1' }).click();
    await alice.getByRole('heading', { level: 1, name: `#1 Start the release plan of ${FLAG} in production` }).waitFor();
    await alice.locator('.request-change').filter({ hasText: `Start the release plan of ${FLAG}` }).filter({ hasText: `release plan version ${planBefore.version} (guarded: 1% → 10% → 50% → 100%)` }).waitFor();
    expect(await alice.getByRole('group', { name: 'Actions' }).getByRole('button', { name: 'Approve' }).isDisabled()).toBe(true);

    const bob = await session(tokens.bob);
    await approveAndApply(bob, 1);

    // Through the API: the plan runs at its first step, started by the request's applier, audited as the request.
    expect(await planOf()).toMatchObject({ plan: { status: 'running', currentStep: 0 }, stage: '1%' });
    expect((await call<RequestJson>('GET', '/api/change-requests/1')).body).toMatchObject({ status: 'applied', approvals: [{ actor: 'bob' }] });
    const audit = await call<AuditJson>('GET', `/api/audit?limit=10`);
    expect(audit.body.items.find((e) => e.action === 'release.started')).toMatchObject({ actor: 'bob', environment: 'production', message: expect.stringContaining('change request #1') });

    // On the author's flag page: running at its first step, with Pause instead of Request start.
    await onFlagPage(alice);
    await canary(alice).locator('.badge', { hasText: 'Running' }).waitFor();
    expect(await canary(alice).getByTestId('canary-status').textContent()).toMatch(/Step 1 of 4: 1%/);
    await alice.locator('.flag-page > header .badge[data-stage="1%"]').waitFor();
    expect(await canary(alice).getByRole('button', { name: 'Request start' }).count()).toBe(0);
    await canary(alice).getByRole('button', { name: 'Pause' }).waitFor();
    expect(await alice.getByRole('note', { name: 'Pending change requests' }).count()).toBe(0);
    await alice.screenshot({ path: join(ARTIFACTS, 'canary-request-applied.png') });
  }, 90_000);

  it('paused, Resume is "Request resume" and goes through a change request the same way', async () => {
    // Pausing always works directly, like the kill switch.
    const paused = await call('POST', `/api/flags/${FLAG}/environments/production/release-plan/pause`, { reason: 'checking the error budget' });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    const alice = await session(tokens.alice);
    await onFlagPage(alice);
    await canary(alice).locator('.badge', { hasText: 'Paused' }).waitFor();
    expect(await canary(alice).getByRole('button', { name: 'Resume', exact: true }).count()).toBe(0);
    await canary(alice).getByRole('button', { name: 'Request resume' }).click();
    const opened = alice.locator('.action-message').filter({ hasText: 'Change request #2 opened' });
    await opened.waitFor();
    expect(await opened.textContent()).toContain('resume the release plan of Governed canary in Production');
    expect((await planOf()).plan!.status).toBe('paused');
    expect((await call<RequestJson>('GET', '/api/change-requests/2')).body.changes).toEqual([expect.objectContaining({ type: 'release', action: 'resume' })]);

    await approveAndApply(await session(tokens.bob), 2);
    expect((await planOf()).plan!.status).toBe('running');
    await onFlagPage(alice);
    await canary(alice).locator('.badge', { hasText: 'Running' }).waitFor();
  }, 90_000);
});
