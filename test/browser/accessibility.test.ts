import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contrastRatio, expectNoAxeViolations, formatViolations, axeViolations } from '../support/axe.js';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * Accessibility of every dashboard page, in Chromium against the real server: axe-core's WCAG 2.1
 * A/AA rules find nothing in light and in dark mode (the system setting, emulated), each page has
 * its own title, focus lands on the page's heading after navigation, goes back to the opener when a
 * dialog closes and stays on the stepper after a stage change, and the focus ring has 3:1 contrast
 * against every surface it can sit on.
 */
const SCHEMES = ['light', 'dark'] as const;
const FLAG = { key: 'checkout-v2', name: 'Checkout v2' };

interface FlagJson {
  version: number;
}

/** A page of the dashboard: where it is, what shows it is ready, its title. */
interface Visit {
  name: string;
  path: string;
  ready(page: Page): Locator;
  title: string;
  /** Something to do once ready (open a dialog, expand a row) before axe runs. */
  then?(page: Page): Promise<void>;
}

describe.skipIf(!ready)('accessibility of the dashboard', () => {
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let call: ReturnType<typeof api>;
  let viewerToken: string;
  let revertId: number;

  /**
   * Show what the page holds but hides (tab panels other than the chosen one, closed <details>) so
   * one axe run checks all of it: the panels stay mounted, only `hidden`.
   */
  const revealAll = (p: Page) =>
    p.evaluate(() => {
      document.querySelectorAll<HTMLElement>('main [role="tabpanel"][hidden]').forEach((panel) => (panel.hidden = false));
      document.querySelectorAll('main details:not([open])').forEach((d) => d.setAttribute('open', ''));
    });
  const heading = (name: string | RegExp) => (p: Page) => p.locator('main h1').filter({ hasText: name });
  const PAGES: Visit[] = [
    { name: 'flags list', path: '/', ready: (p) => p.locator(`tr[data-flag="${FLAG.key}"]`), title: 'Flags · Switchyard' },
    {
      name: 'flag page, every tab',
      path: `/flags/${FLAG.key}`,
      ready: (p) => p.locator('.flag-page .stepper'),
      title: `${FLAG.name} · Flags · Switchyard`,
      then: async (p) => {
        await p.locator('.flag-page li.audit-entry').first().waitFor({ state: 'attached' });
        await revealAll(p);
      },
    },
    { name: 'new flag', path: '/flags/new', ready: heading('New flag'), title: 'New flag · Switchyard' },
    {
      name: 'audit log with the revert dialog open',
      path: '/audit',
      ready: (p) => p.locator('li.audit-entry').first(),
      title: 'Audit log · Switchyard',
      then: async (p) => {
        await revealAll(p);
        await p.getByRole('button', { name: `Revert #${revertId}` }).click();
        await p.getByRole('dialog').getByTestId('revert-preview').waitFor();
      },
    },
    { name: 'keys & tokens', path: '/tokens', ready: (p) => p.getByRole('table', { name: 'API tokens' }), title: 'Keys & tokens · Switchyard' },
    { name: 'page not found', path: '/nowhere', ready: heading('Page not found'), title: 'Page not found · Switchyard' },
  ];
  /**
   * Pages added alongside this check (segments, compare): the same sweep in a test of their own. A
   * title here is a pattern: the router names the section, and the page may add what it shows.
   */
  const NEW_PAGES: (Visit & { titlePattern: RegExp })[] = [
    { name: 'segments', path: '/segments', ready: (p) => p.getByRole('link', { name: 'Beta testers' }), title: 'Segments · Switchyard', titlePattern: /^Segments · Switchyard$/ },
    { name: 'segment page', path: '/segments/beta-testers', ready: heading('Beta testers'), title: 'Segments · Switchyard', titlePattern: /^(Beta testers · )?Segments · Switchyard$/ },
    {
      name: 'compare',
      path: `/compare?flag=${FLAG.key}&a=staging&b=production`,
      ready: (p) => p.locator('.compare-row'),
      title: 'Compare · Switchyard',
      titlePattern: /^Compare\b.* · Switchyard$/,
      then: revealAll,
    },
  ];

  async function visit(p: Page, target: Visit): Promise<void> {
    await p.goto(server.url + target.path);
    const shown = target.ready(p);
    await shown.first().waitFor({ timeout: 10_000 }).catch(async () => {
      const h1 = await p.locator('main h1').first().textContent().catch(() => null);
      throw new Error(`${target.name} (${target.path}) did not render: the page's heading is ${JSON.stringify(h1)}`);
    });
    await target.then?.(p);
  }

  /** Every page in both colour schemes; all violations together, page by page. */
  async function auditPages(p: Page, pages: Visit[], who: string): Promise<string[]> {
    const failures: string[] = [];
    for (const scheme of SCHEMES) {
      await p.emulateMedia({ colorScheme: scheme });
      for (const target of pages) {
        await visit(p, target);
        const violations = await axeViolations(p);
        if (violations.length > 0) failures.push(`── ${target.name} (${target.path}), ${scheme} mode, ${who}:\n${formatViolations(violations)}`);
      }
    }
    await p.emulateMedia({ colorScheme: 'light' });
    return failures;
  }

  const flagVersion = async (key: string) => (await call<FlagJson>('GET', `/api/flags/${key}`)).body.version;
  async function stage(key: string, environment: string, to: string, message?: string): Promise<void> {
    const res = await call('POST', `/api/flags/${key}/environments/${environment}/stage`, { stage: to, version: await flagVersion(key), ...(message ? { message } : {}) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }

  beforeAll(async () => {
    server = await startServerProcess();
    call = api(server.url, server.adminToken);
    // Flags across stages, a segment, audit entries with comments, tokens and an SDK key.
    for (const f of [FLAG, { key: 'dark-launch', name: 'Dark launch' }, { key: 'search-beta', name: 'Search beta', tags: ['search'] }, { key: 'old-banner', name: 'Old banner' }]) {
      expect((await call('POST', '/api/flags', { ...f, description: `${f.name}, for the accessibility check.` })).status).toBe(201);
    }
    await stage(FLAG.key, 'production', '10%', 'ramp after a clean day');
    await stage(FLAG.key, 'staging', '100%');
    await stage('dark-launch', 'production', 'dogfood');
    await stage('search-beta', 'production', '100%');
    const killed = await call('POST', '/api/flags/old-banner/environments/production/kill', { message: 'broken on mobile' });
    expect(killed.status, JSON.stringify(killed.body)).toBe(200);
    expect((await call('POST', '/api/segments', { key: 'beta-testers', name: 'Beta testers', included: ['u1', 'u2'] })).status).toBe(201);
    expect((await call('POST', '/api/tokens', { name: 'release-bot', role: 'editor' })).status).toBe(201);
    viewerToken = (await call<{ token: string }>('POST', '/api/tokens', { name: 'viewer-pm', role: 'viewer' })).body.token;
    expect((await call('POST', '/api/sdk-keys', { name: 'web', environment: 'production', kind: 'client' })).status).toBe(201);
    const audit = await call<{ items: { id: number; action: string; resourceKey: string }[] }>('GET', `/api/audit?resourceType=flag&resourceKey=${FLAG.key}`);
    revertId = audit.body.items.find((e) => e.action === 'flag.stage_changed')!.id;

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
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

  it('loads axe-core under the dashboard CSP, which blocks an inline <script> (addScriptTag)', async () => {
    await page.goto(server.url + '/');
    await page.locator('main h1').waitFor();
    const blocked = await page
      .addScriptTag({ content: 'window.__inlineRan = true;' })
      .then(() => page.evaluate(() => (window as unknown as { __inlineRan?: boolean }).__inlineRan === true))
      .catch(() => false);
    expect(blocked).toBe(false);
    // What the other tests rely on: axe loads and runs anyway, and finds a violation it is shown.
    await page.evaluate(() => document.querySelector('main')!.insertAdjacentHTML('beforeend', '<img src="data:," id="a11y-probe">'));
    const violations = await axeViolations(page);
    expect(violations.map((v) => v.id)).toContain('image-alt');
    expect(formatViolations(violations)).toMatch(/\[critical\] image-alt: .*\n {4}#a11y-probe/);
  });

  it('finds no WCAG 2.1 A/AA violation on any page, in light and dark mode', async () => {
    const failures = await auditPages(page, PAGES, 'admin');
    expect(failures, `\n${failures.join('\n\n')}`).toEqual([]);
  }, 120_000);

  it('finds none on the sign-in page and on what a viewer sees, in light and dark mode', async () => {
    const failures: string[] = [];
    const signInPage = await context.browser()!.newPage({ viewport: { width: 1280, height: 900 } });
    signInPage.setDefaultTimeout(10_000);
    try {
      for (const scheme of SCHEMES) {
        await signInPage.emulateMedia({ colorScheme: scheme });
        await signInPage.goto(server.url + '/');
        await signInPage.getByLabel('API token').waitFor();
        expect(await signInPage.title()).toBe('Sign in · Switchyard');
        const empty = await axeViolations(signInPage);
        if (empty.length > 0) failures.push(`── sign-in, ${scheme} mode:\n${formatViolations(empty)}`);
        // A refused token: the error message, its field marked invalid.
        await signInPage.getByLabel('API token').fill('not-a-token');
        await signInPage.getByRole('button', { name: 'Sign in' }).click();
        await signInPage.getByRole('alert').waitFor();
        const refused = await axeViolations(signInPage);
        if (refused.length > 0) failures.push(`── sign-in with a refused token, ${scheme} mode:\n${formatViolations(refused)}`);
      }
      await signIn(signInPage, server.url, viewerToken);
      // Signing in replaces the form: focus goes to the page shown, not back to the top of the document.
      await expect.poll(() => signInPage.evaluate(() => (document.activeElement?.tagName === 'H1' ? document.activeElement.textContent : document.activeElement?.tagName))).toMatch(/^Flags/);
      expect(await signInPage.title()).toBe('Flags · Switchyard');
      failures.push(...(await auditPages(signInPage, PAGES.slice(0, 2), 'viewer')));
    } finally {
      await signInPage.close();
    }
    expect(failures, `\n${failures.join('\n\n')}`).toEqual([]);
  }, 60_000);

  it('finds none on the segments and compare pages, in light and dark mode', async () => {
    const failures = await auditPages(page, NEW_PAGES, 'admin');
    expect(failures, `\n${failures.join('\n\n')}`).toEqual([]);
    for (const target of NEW_PAGES) {
      await visit(page, target);
      expect(await page.title(), target.path).toMatch(target.titlePattern);
    }
  }, 60_000);

  it('gives every page a title of its own', async () => {
    const titles: string[] = [];
    for (const target of PAGES) {
      await visit(page, target);
      await expect.poll(() => page.title(), { message: target.path }).toBe(target.title);
      titles.push(await page.title());
    }
    expect(new Set(titles).size).toBe(titles.length);
  });

  it('moves focus to the new page\'s heading after navigation, without a scroll jump', async () => {
    await page.goto(server.url + '/');
    await page.locator(`tr[data-flag="${FLAG.key}"]`).waitFor();
    const focusedHeading = () => page.evaluate(() => (document.activeElement?.tagName === 'H1' ? document.activeElement.textContent : `not a heading: ${document.activeElement?.outerHTML.slice(0, 80)}`));

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await expect.poll(focusedHeading).toBe('Audit log');
    expect(await page.evaluate(() => window.scrollY)).toBe(0);

    // A page that loads its content first: focus waits for its heading.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Flags' }).click();
    await expect.poll(focusedHeading).toMatch(/^Flags/);
    await page.getByRole('link', { name: FLAG.name }).click();
    await expect.poll(focusedHeading).toBe(FLAG.name);
    expect(await page.evaluate(() => window.scrollY)).toBe(0);

    // Back and forward (popstate) too.
    await page.goBack();
    await expect.poll(focusedHeading).toMatch(/^Flags/);

    // The focused heading is where a keyboard user goes on from: Tab reaches the page's first control after it.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Keys & tokens' }).click();
    await expect.poll(focusedHeading).toBe('Keys & tokens');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.closest('main') !== null)).toBe(true);
  });

  it('returns focus to the button that opened a dialog when it closes (Cancel, Escape)', async () => {
    // The revert dialog on the audit log.
    await page.goto(server.url + '/audit');
    const revert = page.getByRole('button', { name: `Revert #${revertId}` });
    await revert.click();
    const dialog = page.getByRole('dialog');
    await dialog.getByTestId('revert-preview').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => revert.evaluate((el) => el === document.activeElement)).toBe(true);
    await revert.focus();
    await page.keyboard.press('Enter');
    await dialog.getByTestId('revert-preview').waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => revert.evaluate((el) => el === document.activeElement)).toBe(true);

    // The confirmation dialog (revoking a token).
    await page.goto(server.url + '/tokens');
    const row = page.getByRole('table', { name: 'API tokens' }).getByRole('row').filter({ hasText: 'release-bot' });
    const revoke = row.getByRole('button', { name: 'Revoke' });
    await revoke.click();
    const confirm = page.getByRole('dialog', { name: /^Revoke/ });
    await confirm.waitFor();
    // Focus starts inside the dialog, on the safe choice.
    expect(await confirm.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    await expect.poll(() => revoke.evaluate((el) => el === document.activeElement)).toBe(true);
    await revoke.click();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await expect.poll(() => revoke.evaluate((el) => el === document.activeElement)).toBe(true);

    // Confirmed: the button is gone, so focus goes to the row's "Revoked" mark, not to the top of the page.
    await revoke.click();
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    const focusedText = () => page.evaluate(() => `${document.activeElement?.closest('tr')?.textContent ?? document.activeElement?.tagName} | ${document.activeElement?.textContent}`);
    await expect.poll(focusedText).toMatch(/^release-bot.* \| ✕ Revoked$/);
  });

  it('returns focus to the form that made a secret when the secret is dismissed', async () => {
    await page.goto(server.url + '/tokens');
    await page.locator('#token-name').fill('a11y-bot');
    const create = page.getByRole('button', { name: 'Create API token' });
    await create.click();
    const secret = page.locator('.secret');
    await secret.waitFor();
    // The secret takes focus (it appears far from the button), and Done gives it back.
    expect(await secret.evaluate((el) => el === document.activeElement)).toBe(true);
    await secret.getByRole('button', { name: 'Done' }).click();
    await secret.waitFor({ state: 'detached' });
    expect(await create.evaluate((el) => el === document.activeElement)).toBe(true);
  });

  // The stepper's current stage and, during a write, every stage are aria-disabled, not `disabled`
  // (a disabled button drops focus to <body>), and the new stage's button takes focus after a move.
  it('keeps focus on the stepper after a stage change, with and without the critical-environment confirmation', async () => {
    const inStepper = () => page.evaluate(() => (document.activeElement?.closest('.stepper') ? (document.activeElement as HTMLElement).dataset.stage ?? document.activeElement.tagName : `outside: ${document.activeElement?.outerHTML.slice(0, 80)}`));
    await page.goto(`${server.url}/flags/${FLAG.key}`);
    await page.locator('#env-select').selectOption('development');
    await page.getByRole('heading', { name: /Release in Development/ }).waitFor();
    await page.locator('.step-button[data-stage="dogfood"]').click();
    await page.locator('.flag-page > header .badge[data-stage="dogfood"]').waitFor();
    await expect.poll(inStepper).toBe('dogfood');

    await page.locator('#env-select').selectOption('production');
    await page.getByRole('heading', { name: /Release in ⚠ Production/ }).waitFor();
    await page.locator('.step-button[data-stage="50%"]').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Move to 50%' }).click();
    await page.locator('.flag-page > header .badge[data-stage="50%"]').waitFor();
    await expect.poll(inStepper).toBe('50%');
  });

  it('draws a focus ring with at least 3:1 contrast on every surface, in light and dark mode', async () => {
    const results: string[] = [];
    for (const scheme of SCHEMES) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(server.url + '/tokens');
      await page.getByRole('table', { name: 'API tokens' }).waitFor();
      // Keyboard focus on a button: the ring :focus-visible draws.
      await page.getByRole('button', { name: 'Sign out' }).focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab');
      const ring = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const style = getComputedStyle(el);
        const root = getComputedStyle(document.documentElement);
        const surfaces = ['--bg', '--card', '--info-bg', '--warn-bg', '--ok-bg', '--danger-bg'].map((name) => {
          // Resolve each variable to the colour it computes to, whatever notation the stylesheet uses.
          const probe = document.createElement('span');
          probe.style.color = `var(${name})`;
          document.body.append(probe);
          const color = getComputedStyle(probe).color;
          probe.remove();
          return { name, color, raw: root.getPropertyValue(name).trim() };
        });
        return { text: el.textContent, style: style.outlineStyle, width: parseFloat(style.outlineWidth), color: style.outlineColor, surfaces, body: getComputedStyle(document.body).backgroundColor, rootBg: root.backgroundColor };
      });
      expect(ring.text, scheme).toBe('Sign out');
      expect(ring.style, scheme).toBe('solid');
      expect(ring.width, scheme).toBeGreaterThanOrEqual(2);
      for (const surface of ring.surfaces) {
        const ratio = contrastRatio(ring.color, surface.color);
        if (ratio < 3) results.push(`${scheme}: focus ring ${ring.color} on ${surface.name} (${surface.raw}) is ${ratio.toFixed(2)}:1`);
      }
      // Dark mode follows the system setting: the page itself is dark, with light text.
      const pageBg = ring.rootBg;
      if (scheme === 'dark') expect(contrastRatio(pageBg, '#000000'), `dark page background ${pageBg}`).toBeLessThan(2);
      else expect(contrastRatio(pageBg, '#ffffff'), `light page background ${pageBg}`).toBeLessThan(1.2);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(results).toEqual([]);
  });

  it('reports violations readably (rule id, impact, selector, help)', async () => {
    await page.goto(server.url + '/flags/new');
    await page.locator('main h1').waitFor();
    await page.evaluate(() => document.getElementById('new-name')!.removeAttribute('id'));
    await expect(expectNoAxeViolations(page, 'the new-flag page with a label pointing nowhere')).rejects.toThrow(/on the new-flag page with a label pointing nowhere:\n\n\[critical\] label: Form elements must have labels \(https:\/\/dequeuniversity\.com\/rules\/axe\/4\.\d+\/label/);
  });
});
