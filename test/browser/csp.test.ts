import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserReady as ready, launchChromium, signIn } from '../support/browser.js';
import { api, removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

/**
 * The Content-Security-Policy (no inline scripts or styles, no framing) must not break the pages
 * it protects: the dashboard and the API docs render in a real browser with no violation reported.
 */
/** Violations as the page reports them (the `securitypolicyviolation` event) and as the console does. */
async function watchViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction('__reportViolation', (text: string) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __reportViolation(text: string): void }).__reportViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) violations.push(`console: ${message.text()}`);
  });
  return violations;
}

describe.skipIf(!ready)('Content-Security-Policy in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServerProcess();
    browser = await launchChromium();
    const call = api(server.url, server.adminToken);
    const created = await call('POST', '/api/flags', { key: 'csp-check', name: 'CSP check' });
    expect(created.status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('the dashboard works under its policy: sign-in, flag list, flag page, live updates — no violation', async () => {
    const page = await browser.newPage();
    const violations = await watchViolations(page);
    const response = await page.goto(server.url + '/');
    const policy = response!.headers()['content-security-policy'] ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain('unsafe-inline');
    await signIn(page, server.url, server.adminToken);
    await page.getByRole('link', { name: 'CSP check' }).click();
    await page.locator('.flag-page').waitFor();
    // The live-update stream (/api/events) connects under the policy (connect-src 'self').
    await page.locator('.live-open').waitFor();
    // Styles from the stylesheet apply (a blocked stylesheet would leave the body unstyled).
    const font = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
    expect(font).not.toBe('');
    expect(violations).toEqual([]);
    await page.close();
  });

  it('the API docs (Swagger UI) render under the policy with no violation', async () => {
    const page = await browser.newPage();
    const violations = await watchViolations(page);
    const response = await page.goto(server.url + '/docs');
    expect(response!.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.getByText('Switchyard API').first().waitFor();
    await page.locator('.opblock-summary').first().click();
    await page.locator('.opblock-body').first().waitFor();
    expect(violations).toEqual([]);
    await page.close();
  });

  it('a page on another site cannot frame the dashboard', async () => {
    const page = await browser.newPage();
    const framed = new Promise<string>((resolve) => {
      page.on('console', (message) => {
        if (/frame-ancestors|refused to (display|frame)/i.test(message.text())) resolve(message.text());
      });
    });
    await page.setContent(`<iframe src="${server.url}/"></iframe>`);
    expect(await framed).toMatch(/frame-ancestors/);
    await page.close();
  });
});
