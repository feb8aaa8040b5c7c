import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatViolations, axeViolations } from '../support/axe.js';
import { browserReady as ready, createEditors, launchChromium, Sessions } from '../support/browser.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Change requests in Chromium against the real server process (issue 14). An admin turns on
 * production's approval policy from the change-requests page; an editor's stage move in production
 * then says, before the click, that it opens a change request, and does (the flag stays put); a
 * second person approves and applies it, and the flag moves, audited as the request. When the flag
 * changes after a request was made, apply is refused with a conflict banner, Rebase moves the
 * request onto the current version (approvals start over) and it applies. The kill switch stays
 * direct; an admin bypass needs a reason; targeting, dogfood and segment-page edits propose too; a
 * policy set while a page is open shows the server's refusal as it is and the page follows it.
 */
const ARTIFACTS = join(ROOT, 'test/artifacts');
const VIEWPORT = { width: 1280, height: 900 };
const FLAG = 'new-checkout';

interface FlagJson {
  version: number;
  environments: Record<string, { stage: string; rules: unknown[] }>;
}
interface RequestJson {
  id: number;
  status: string;
  author: string;
  approvals: { actor: string }[];
  changes: { type: string; stage?: string; baseVersion: number }[];
}
interface AuditJson {
  items: { action: string; actor: string; environment: string | null; message: string | null; resourceType: string; resourceKey: string }[];
}

describe.skipIf(!ready)('change requests in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let call: ReturnType<typeof api>;
  const sessions = new Sessions(VIEWPORT);
  const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' };

  const flag = async () => (await call<FlagJson>('GET', `/api/flags/${FLAG}`)).body;
  const productionStage = async () => (await flag()).environments.production!.stage;

  /** A page in its own browser context (its own session cookie), signed in with `token`. */
  function session(token: string): Promise<Page> {
    return sessions.open(browser, server.url, token);
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    expect((await call('POST', '/api/flags', { key: FLAG, name: 'New checkout' })).status).toBe(201);
    Object.assign(tokens, await createEditors(call, ['alice', 'bob'] as const));
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

  it('an admin requires 1 approval in production from the change-requests page', async () => {
    const admin = await session(server.adminToken);
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Change requests' }).click();
    await admin.getByRole('heading', { level: 1, name: 'Change requests' }).waitFor();
    const production = admin.locator('.policy-item[data-environment="production"]');
    expect(await production.locator('.badge').textContent()).toBe('Direct');
    await admin.getByRole('button', { name: 'Edit the approval policy of Production' }).click();
    const form = admin.getByRole('form', { name: 'Approval policy of Production' });
    await form.getByLabel('Changes in Production need approval').check();
    // Bad input is named before anything is sent.
    await form.getByLabel(/Approvals needed/).fill('9');
    await form.getByRole('button', { name: 'Save policy' }).click();
    expect(await form.getByRole('alert').textContent()).toContain('Approvals must be a whole number from 1 to 5');
    await form.getByLabel(/Approvals needed/).fill('1');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await admin.getByRole('status').filter({ hasText: 'Saved the approval policy of Production' }).waitFor();
    await production.locator('.badge', { hasText: 'Approval required' }).waitFor();
    expect(await production.locator('.policy-text').textContent()).toBe('1 approval from editor or admin, not the author; no bypass. The kill switch always works directly.');

    const policy = await call<{ required: boolean; approvals: number; approverRoles: string[]; adminBypass: boolean }>('GET', '/api/environments/production/approval-policy');
    expect(policy.body).toMatchObject({ required: true, approvals: 1, approverRoles: ['editor', 'admin'], adminBypass: false });
    // A direct stage write is now refused: the dashboard must not make one.
    const direct = await call<{ error: { code: string } }>('POST', `/api/flags/${FLAG}/environments/production/stage`, { stage: '10%', version: (await flag()).version });
    expect(direct.status).toBe(409);
    expect(direct.body.error.code).toBe('approval_required');
  }, 60_000);

  it('an editor’s stage move opens a request (said before the click); someone else approves and applies it', async () => {
    const alice = await session(tokens.alice);
    await alice.goto(`${server.url}/flags/${FLAG}`);
    await alice.getByRole('heading', { name: 'Release in ⚠ Production' }).waitFor();
    const notice = alice.locator('[data-governed="stage"] .governed-notice');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('Production requires 1 approval: this opens a change request instead of changing the flag.');
    // The kill switch says it stays direct.
    expect(await alice.locator('.kill .hint').textContent()).toContain('No approval needed, even in Production');

    const versionBefore = (await flag()).version;
    await alice.locator('#stage-comment').fill('Ramp new checkout to 10%');
    await alice.getByRole('list', { name: 'Release stages' }).getByRole('button', { name: '10%' }).click();
    const opened = alice.locator('.action-message').filter({ hasText: 'Change request #1 opened' });
    await opened.waitFor();
    expect(await opened.textContent()).toContain('Nothing changes until it has 1 approval and is applied.');
    await alice.screenshot({ path: join(ARTIFACTS, 'change-request-opened.png') });

    // Not applied: the flag is where it was, and the request holds the move.
    expect(await productionStage()).toBe('off');
    expect((await flag()).version).toBe(versionBefore);
    const created = await call<RequestJson>('GET', '/api/change-requests/1');
    expect(created.body).toMatchObject({ status: 'open', author: 'alice', changes: [{ type: 'stage', stage: '10%', baseVersion: versionBefore }] });

    // The author cannot approve their own request; the page says why.
    await opened.getByRole('link', { name: 'View change request #1' }).click();
    await alice.getByRole('heading', { level: 1, name: '#1 Ramp new checkout to 10%' }).waitFor();
    const actions = alice.getByRole('group', { name: 'Actions' });
    expect(await actions.getByRole('button', { name: 'Approve' }).isDisabled()).toBe(true);
    expect(await actions.locator('.guard', { has: alice.getByRole('button', { name: 'Approve' }) }).getAttribute('title')).toBe('You wrote this request: someone else approves it.');
    expect(await actions.getByRole('button', { name: 'Apply' }).isDisabled()).toBe(true);
    expect(await actions.getByRole('button', { name: 'Withdraw' }).isVisible()).toBe(true);

    // Bob, another editor in another session, finds it in the list, reads the diff, comments, approves, applies.
    const bob = await session(tokens.bob);
    await bob.goto(`${server.url}/change-requests`);
    const row = bob.locator('tr[data-request="1"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('0 of 1 approval');
    await row.getByRole('link', { name: '#1 Ramp new checkout to 10%' }).click();
    await bob.getByRole('heading', { level: 1, name: '#1 Ramp new checkout to 10%' }).waitFor();
    expect(await bob.getByRole('list', { name: /What Move new-checkout to 10% changes/ }).getByRole('listitem').first().textContent()).toBe('stage off → 10%');
    const diff = bob.locator('.request-change table.diff');
    expect(await diff.locator('tr', { hasText: 'stage' }).locator('td.before').textContent()).toBe('"off"');
    expect(await diff.locator('tr', { hasText: 'stage' }).locator('td.after').textContent()).toBe('"10%"');

    await bob.getByLabel('Add a comment').fill('Dashboards look clean, go ahead.');
    await bob.getByRole('button', { name: 'Comment' }).click();
    await bob.locator('.request-comments').getByText('Dashboards look clean, go ahead.').waitFor();

    const bobActions = bob.getByRole('group', { name: 'Actions' });
    await bobActions.getByRole('button', { name: 'Approve' }).click();
    await bob.getByRole('status').filter({ hasText: 'Approved change request #1.' }).waitFor();
    expect(await bob.locator('.head-badges [data-status]').textContent()).toBe('Approved');
    expect(await bob.getByTestId('approval-progress').textContent()).toBe('1 of 1 approval');
    expect(await productionStage()).toBe('off');

    await bobActions.getByRole('button', { name: 'Apply' }).click();
    await bob.getByRole('status').filter({ hasText: 'Applied change request #1' }).first().waitFor();
    expect(await bob.locator('.head-badges [data-status]').textContent()).toBe('Applied');
    await bob.screenshot({ path: join(ARTIFACTS, 'change-request-applied.png') });

    expect(await productionStage()).toBe('10%');
    const applied = await call<RequestJson>('GET', '/api/change-requests/1');
    expect(applied.body).toMatchObject({ status: 'applied', approvals: [{ actor: 'bob' }] });
    const audit = await call<AuditJson>('GET', `/api/flags/${FLAG}/audit`);
    expect(audit.body.items[0]).toMatchObject({ action: 'flag.stage_changed', actor: 'bob', environment: 'production' });
    expect(audit.body.items[0]!.message).toContain('change request #1: Ramp new checkout to 10%');
    const requestAudit = await call<AuditJson>('GET', '/api/audit?resourceType=change_request&resourceKey=1');
    expect(requestAudit.body.items.map((e) => e.action)).toEqual(expect.arrayContaining(['change_request.applied', 'change_request.approved']));

    // The author's flag page follows: the flag is at 10% in production.
    await alice.goto(`${server.url}/flags/${FLAG}`);
    await alice.locator('.flag-page > header .badge[data-stage="10%"]').waitFor();
  }, 60_000);

  it('a request made before a change conflicts on apply; rebase, approve again, apply', async () => {
    const alice = await session(tokens.alice);
    await alice.goto(`${server.url}/flags/${FLAG}`);
    await alice.getByRole('list', { name: 'Release stages' }).getByRole('button', { name: '50%' }).click();
    await alice.locator('.action-message').filter({ hasText: 'Change request #2 opened' }).waitFor();
    const made = await call<RequestJson>('GET', '/api/change-requests/2');
    const base = made.body.changes[0]!.baseVersion;

    // Someone changes the flag meanwhile (staging has no policy: a direct write).
    expect((await call('POST', `/api/flags/${FLAG}/environments/staging/stage`, { stage: 'dogfood', version: (await flag()).version })).status).toBe(200);

    const bob = await session(tokens.bob);
    await bob.goto(`${server.url}/change-requests/2`);
    await bob.getByRole('heading', { level: 1, name: /^#2 / }).waitFor();
    // Said before the click: what moved, with Rebase at hand.
    await bob.locator('.request-stale').filter({ hasText: 'flag new-checkout changed since this request was made' }).waitFor();
    const actions = bob.getByRole('group', { name: 'Actions' });
    await actions.getByRole('button', { name: 'Approve' }).click();
    await bob.getByRole('status').filter({ hasText: 'Approved change request #2.' }).waitFor();

    await actions.getByRole('button', { name: 'Apply' }).click();
    const conflict = bob.locator('.request-conflict');
    await conflict.waitFor();
    expect(await conflict.getAttribute('role')).toBe('alert');
    expect(await conflict.textContent()).toContain('Conflict: not applied.');
    expect(await conflict.textContent()).toContain(`change request 2 cannot be applied: flag "new-checkout" (version ${base} → ${base + 1}, last changed by admin) changed since it was made`);
    await bob.screenshot({ path: join(ARTIFACTS, 'change-request-conflict.png') });
    expect(await productionStage()).toBe('10%');

    await conflict.getByRole('button', { name: 'Rebase onto the current state' }).click();
    await bob.getByRole('status').filter({ hasText: 'Rebased change request #2' }).waitFor();
    expect(await bob.getByTestId('approval-progress').textContent()).toBe('0 of 1 approval');
    expect(await bob.locator('.request-stale').count()).toBe(0);
    const rebased = await call<RequestJson>('GET', '/api/change-requests/2');
    expect(rebased.body).toMatchObject({ status: 'open', approvals: [], changes: [{ baseVersion: base + 1 }] });

    await actions.getByRole('button', { name: 'Approve' }).click();
    await bob.getByRole('status').filter({ hasText: 'Approved change request #2.' }).waitFor();
    await actions.getByRole('button', { name: 'Apply' }).click();
    await bob.getByRole('status').filter({ hasText: 'Applied change request #2' }).first().waitFor();
    expect(await productionStage()).toBe('50%');
    expect((await flag()).environments.staging!.stage).toBe('dogfood');
  }, 60_000);

  it('the kill switch in production stays direct', async () => {
    const alice = await session(tokens.alice);
    await alice.goto(`${server.url}/flags/${FLAG}`);
    await alice.getByRole('button', { name: 'Kill switch' }).click();
    await alice.getByRole('dialog').getByRole('button', { name: 'Kill now' }).click();
    await alice.locator('.action-message').filter({ hasText: 'was killed in Production' }).waitFor();
    expect(await productionStage()).toBe('kill');
    // Restoring is a stage move: it opens a request, and says so on the button.
    await alice.getByRole('button', { name: 'Request restore to 50%' }).click();
    await alice.locator('.action-message').filter({ hasText: 'Change request #3 opened' }).waitFor();
    expect(await productionStage()).toBe('kill');
    // The flag page lists what waits for review here.
    await alice.getByRole('note', { name: 'Pending change requests' }).getByRole('link', { name: /^#3 / }).waitFor();
  }, 60_000);

  it('an admin may bypass approvals where the policy allows it, only with a reason', async () => {
    const current = await call<{ version: number }>('GET', '/api/environments/production/approval-policy');
    const allowed = await call('PUT', '/api/environments/production/approval-policy', { required: true, approvals: 1, adminBypass: true, version: current.body.version });
    expect(allowed.status).toBe(200);
    const admin = await session(server.adminToken);
    await admin.goto(`${server.url}/flags/${FLAG}`);
    const governed = admin.locator('[data-governed="stage"]');
    await governed.getByLabel('Apply at once, bypassing approvals (admin)').check();
    const steps = admin.getByRole('list', { name: 'Release stages' });
    await steps.getByRole('button', { name: '100%' }).click();
    expect(await governed.getByRole('alert').textContent()).toContain('Give a reason for bypassing approvals');
    expect(await productionStage()).toBe('kill');

    await governed.getByLabel('Reason for bypassing approvals (required)').fill('Incident follow-up: approver unreachable');
    await steps.getByRole('button', { name: '100%' }).click();
    // Production is critical and a bypass changes it right away: confirmed first.
    await admin.getByRole('dialog').getByRole('button', { name: 'Move to 100%' }).click();
    await admin.locator('.action-message').filter({ hasText: 'Applied at once, approvals bypassed' }).waitFor();
    expect(await productionStage()).toBe('100%');
    const requests = await call<{ items: (RequestJson & { bypassed: boolean; reason: string })[] }>('GET', '/api/change-requests?status=applied');
    expect(requests.body.items[0]).toMatchObject({ status: 'applied', bypassed: true, reason: 'Incident follow-up: approver unreachable' });
    const audit = await call<AuditJson>('GET', `/api/flags/${FLAG}/audit`);
    expect(audit.body.items[0]!.message).toContain('approvals bypassed by admin: Incident follow-up: approver unreachable');
  }, 60_000);

  it('a targeting edit in production opens a request too, leaving the flag as it is', async () => {
    const alice = await session(tokens.alice);
    await alice.goto(`${server.url}/flags/${FLAG}#targeting`);
    const form = alice.locator('section', { has: alice.getByRole('heading', { name: 'Targeting in Production' }) });
    await form.locator('[data-governed="tg-policy"]').filter({ hasText: 'Production requires 1 approval: this opens a change request' }).waitFor();
    await form.getByRole('button', { name: 'Add individual target' }).click();
    await form.locator('#tg-t0-ids').fill('qa-1, qa-2');
    await form.getByRole('button', { name: 'Request approval' }).click();
    const opened = form.locator('.action-message').filter({ hasText: 'Change request #5 opened for the targeting in Production' });
    await opened.waitFor();
    expect((await flag()).environments.production).toMatchObject({ stage: '100%' });
    expect(((await flag()).environments.production as unknown as { targets: unknown[] }).targets).toEqual([]);
    const made = await call<RequestJson & { changes: { type: string; diff: { field: string }[] }[] }>('GET', '/api/change-requests/5');
    expect(made.body.changes[0]).toMatchObject({ type: 'targeting' });
    expect(made.body.changes[0]!.diff.map((d) => d.field)).toContain('targets');
    // The form shows the flag as it is again: the edit lives in the request.
    expect(await form.locator('#tg-t0-ids').count()).toBe(0);
  }, 60_000);

  it('a dogfood-segment edit opens a request while any environment has a policy (segments reach every environment)', async () => {
    const before = (await call<{ included: string[]; version: number }>('GET', '/api/segments/internal')).body;
    const alice = await session(tokens.alice);
    await alice.goto(`${server.url}/flags/${FLAG}#dogfood`);
    const card = alice.locator('section', { has: alice.getByRole('heading', { name: 'Dogfood users' }) });
    await card.locator('[data-governed="dogfood-policy"]').filter({ hasText: 'Production requires 1 approval: this opens a change request instead of changing the segment' }).waitFor();
    await card.locator('#dogfood-ids').fill('tester-9');
    await card.getByRole('button', { name: 'Add users' }).click();
    await card.locator('.action-message').filter({ hasText: 'Change request #6 opened' }).waitFor();
    const after = (await call<{ included: string[]; version: number }>('GET', '/api/segments/internal')).body;
    expect(after).toMatchObject({ version: before.version, included: before.included });
    const made = await call<{ changes: { type: string; segment: string; patch: { included: string[] } }[] }>('GET', '/api/change-requests/6');
    expect(made.body.changes[0]).toMatchObject({ type: 'segment', segment: 'internal', patch: { included: [...before.included, 'tester-9'] } });
  }, 60_000);

  it('the segment page proposes its edits too, saying so on the button', async () => {
    expect((await call('POST', '/api/segments', { key: 'beta', name: 'Beta testers', included: ['ada'] })).status).toBe(201);
    const alice = await session(tokens.alice);
    await alice.goto(`${server.url}/segments/beta`);
    const form = alice.getByRole('form', { name: 'Who is in it' });
    await form.locator('[data-governed="segment-policy"]').filter({ hasText: 'Production requires 1 approval' }).waitFor();
    await form.getByLabel('Members (user IDs)').fill('ada, grace');
    await form.getByRole('button', { name: 'Request approval' }).click();
    await alice.getByRole('status').filter({ hasText: 'Change request #7 opened' }).waitFor();
    expect((await call<{ included: string[] }>('GET', '/api/segments/beta')).body.included).toEqual(['ada']);
    expect((await call<{ changes: { segment: string; patch: { included: string[] } }[] }>('GET', '/api/change-requests/7')).body.changes[0]).toMatchObject({ segment: 'beta', patch: { included: ['ada', 'grace'] } });
  }, 60_000);

  it('a policy set while the page is open: the refusal is shown as the server says it, and the page follows the policy', async () => {
    const alice = await session(tokens.alice);
    await alice.goto(`${server.url}/flags/${FLAG}`);
    await alice.locator('#env-select').selectOption('staging');
    await alice.getByRole('heading', { name: 'Release in Staging' }).waitFor();
    expect(await alice.locator('[data-governed="stage"]').count()).toBe(0);
    const stagingBefore = (await flag()).environments.staging!.stage;
    expect((await call('PUT', '/api/environments/staging/approval-policy', { required: true, approvals: 2 })).status).toBe(200);

    await alice.getByRole('list', { name: 'Release stages' }).getByRole('button', { name: '10%' }).click();
    const refused = alice.locator('.action-message [role="alert"]');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/^moving flag "new-checkout" to 10% in staging needs 2 approvals: create a change request/);
    await alice.locator('[data-governed="stage"]').filter({ hasText: 'Staging requires 2 approvals: this opens a change request' }).waitFor();
    expect((await flag()).environments.staging!.stage).toBe(stagingBefore);
    expect((await call('PUT', '/api/environments/staging/approval-policy', { required: false })).status).toBe(200);
  }, 60_000);

  it('a flag page whose policies are slow to load offers no stage move until they are known; the click then proposes', async () => {
    const alice = await session(tokens.alice);
    let answerPolicies = (): void => {};
    const policiesHeld = new Promise<void>((resolve) => (answerPolicies = resolve));
    await alice.route('**/api/approval-policies', async (route) => {
      await policiesHeld;
      await route.continue();
    });
    await alice.goto(`${server.url}/flags/${FLAG}`);
    // The flag itself has loaded (its name is the page's title, set in the same render); the page
    // waits for the policies before offering writes.
    await expect.poll(() => alice.title()).toContain('New checkout');
    expect(await alice.getByRole('status').filter({ hasText: 'Loading the flag' }).count()).toBe(1);
    expect(await alice.getByRole('list', { name: 'Release stages' }).count()).toBe(0);

    answerPolicies();
    await alice.locator('[data-governed="stage"] .governed-notice').filter({ hasText: 'Production requires 1 approval' }).waitFor();
    const before = await flag();
    const target = before.environments.production!.stage === '10%' ? '50%' : '10%';
    await alice.getByRole('list', { name: 'Release stages' }).getByRole('button', { name: target }).click();
    await alice.locator('.action-message').filter({ hasText: /Change request #\d+ opened/ }).waitFor();
    expect((await flag()).version).toBe(before.version);
    await alice.unrouteAll();
  }, 60_000);

  it('a viewer reads requests and policies but gets no actions', async () => {
    const created = await call<{ token: string }>('POST', '/api/tokens', { name: 'reader', role: 'viewer' });
    const viewer = await session(created.body.token);
    await viewer.goto(`${server.url}/change-requests?status=all`);
    await viewer.locator('tr[data-request="1"]').waitFor();
    expect(await viewer.getByRole('button', { name: /Edit the approval policy/ }).count()).toBe(0);
    await viewer.goto(`${server.url}/change-requests/3`);
    await viewer.getByRole('heading', { level: 1, name: /^#3 / }).waitFor();
    expect(await viewer.getByRole('group', { name: 'Actions' }).getByRole('button').count()).toBe(0);
    expect(await viewer.getByLabel('Add a comment').count()).toBe(0);
  }, 60_000);

  it('the change-request pages and the governed flag page pass axe, in light and dark mode', async () => {
    const admin = await session(server.adminToken);
    const failures: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await admin.emulateMedia({ colorScheme: scheme });
      for (const [name, path, ready] of [
        ['list', '/change-requests?status=all', 'tr[data-request="1"]'],
        ['open request', '/change-requests/3', '.request-change'],
        ['applied request', '/change-requests/1', '.request-change'],
        ['flag page', `/flags/${FLAG}`, '[data-governed="stage"]'],
      ] as const) {
        await admin.goto(server.url + path);
        await admin.locator(ready).first().waitFor();
        if (name === 'list') await admin.getByRole('button', { name: 'Edit the approval policy of Production' }).click();
        const violations = await axeViolations(admin);
        if (violations.length > 0) failures.push(`── ${name} (${path}), ${scheme}:\n${formatViolations(violations)}`);
      }
    }
    expect(failures.join('\n')).toBe('');
  }, 120_000);
});
