import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { browserTestProblems, dashboardIndex, findChromium } from './chromium.js';
import type { Api } from './sdk-e2e.js';
import { ROOT } from './server-process.js';

/**
 * A system Chromium (SWITCHYARD_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH,
 * else Debian's /usr/bin/chromium; see chromium.ts), driven by playwright-core: browser downloads
 * are not available here. Undefined when there is none.
 */
const lookup = findChromium({ env: process.env, exists: existsSync });
export const CHROMIUM: string | undefined = lookup.found ? lookup.path : undefined;
export const DASHBOARD_DIST = dashboardIndex(ROOT);
const missing = browserTestProblems(ROOT);
/**
 * Browser tests need Chromium and the built dashboard; without them they skip, and the run's last
 * lines say how many did not run and why (test/support/skipped-browser-tests.ts) — except under
 * CI=true, where a missing browser is a broken setup and fails every browser test file.
 */
export const browserReady = missing.length === 0;
if (!browserReady) {
  if (process.env.CI === 'true') throw new Error(`browser tests cannot run under CI: ${missing.join('; ')}`);
  console.warn(`[browser tests skipped] ${missing.join('; ')}`);
}

export function launchChromium(): Promise<Browser> {
  if (!CHROMIUM) throw new Error(`no Chromium to launch: ${missing.join('; ')}`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/** Sign in to the dashboard at `baseUrl` with an API token; resolves on the flags page. */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(baseUrl + '/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /^Flags/ }).waitFor();
}

/** Editor tokens for two people (alice and bob, say), created through the API as the admin. */
export async function createEditors<N extends string>(call: Api, names: readonly N[]): Promise<Record<N, string>> {
  const tokens = {} as Record<N, string>;
  for (const name of names) {
    const created = await call<{ token: string }>('POST', '/api/tokens', { name, role: 'editor' });
    if (created.status !== 201) throw new Error(`creating the editor token of ${name} failed: ${created.status} ${JSON.stringify(created.body)}`);
    tokens[name] = created.body.token;
  }
  return tokens;
}

/**
 * Signed-in pages, each in its own browser context (its own session cookie), so two people can act
 * on one dashboard; `close` closes every context opened.
 */
export class Sessions {
  private readonly contexts: BrowserContext[] = [];

  constructor(private readonly viewport: { width: number; height: number }) {}

  async open(browser: Browser, baseUrl: string, token: string): Promise<Page> {
    const context = await browser.newContext({ viewport: this.viewport });
    this.contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await signIn(page, baseUrl, token);
    return page;
  }

  async close(): Promise<void> {
    for (const context of this.contexts.splice(0)) await context.close().catch(() => undefined);
  }
}

/**
 * A client key (`sy_client_…`) for `environment`: what a browser page embeds. It may call OFREP bulk
 * evaluation and its change notifications only, and gets only flags marked `clientVisible`.
 */
export async function createClientKey(call: Api, environment = 'production'): Promise<string> {
  const created = await call<{ key: string; kind: string }>('POST', '/api/sdk-keys', { name: `browser-${environment}-${Date.now()}`, environment, kind: 'client' });
  if (created.status !== 201 || created.body.kind !== 'client') throw new Error(`creating a client key failed: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.key;
}

/**
 * The OFREP bulk-evaluation requests `page` makes, as URLs in order. A re-fetch caused by a change
 * notification carries `?flagConfigEtag=…`; a poll or a first load does not.
 */
export function recordBulkRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/ofrep/v1/evaluate/flags') urls.push(request.url());
  });
  return urls;
}

/**
 * Resolves once `page` holds an OFREP notification stream: its response head arrived, so the server
 * has registered it and will notify it of the next change. Call before the navigation that opens it.
 */
export function eventStreamOpened(page: Page, timeout = 10_000): Promise<unknown> {
  return page.waitForResponse((response) => new URL(response.url()).pathname === '/ofrep/v1/events' && response.status() === 200, { timeout });
}

/**
 * Milliseconds from just before `change()` (a REST call from the test) until the page's DOM shows
 * `text` in `selector`. The page stamps the DOM mutation with its own clock (the same machine's), so
 * Playwright's polling adds nothing to the figure.
 */
export async function changeToDom(page: Page, selector: string, text: string, change: () => Promise<unknown>, timeout = 5000): Promise<number> {
  await page.evaluate(
    ([selector, text]) => {
      if (document.querySelector(selector!)?.textContent?.includes(text!)) throw new Error(`${selector} already shows ${text}`);
      delete document.body.dataset.changedAt;
      const observer = new MutationObserver(() => {
        if (!document.querySelector(selector!)?.textContent?.includes(text!)) return;
        document.body.dataset.changedAt = String(Date.now());
        observer.disconnect();
      });
      observer.observe(document.body, { childList: true, characterData: true, subtree: true });
    },
    [selector, text],
  );
  const started = Date.now();
  await change();
  await page.locator('body[data-changed-at]').waitFor({ timeout });
  return Number(await page.locator('body').getAttribute('data-changed-at')) - started;
}
