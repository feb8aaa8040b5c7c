import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './server-process.js';

/** Debian's chromium, driven by playwright-core (browser downloads are not available here). */
export const CHROMIUM = '/usr/bin/chromium';
export const DASHBOARD_DIST = join(ROOT, 'dashboard/dist/index.html');
/** Browser tests need the built dashboard and Chromium; without them they skip with a message. */
export const browserReady = existsSync(DASHBOARD_DIST) && existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/** Sign in to the dashboard at `baseUrl` with an API token; resolves on the flags page. */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(baseUrl + '/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /^Flags/ }).waitFor();
}
