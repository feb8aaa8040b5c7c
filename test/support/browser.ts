import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './server-process.js';

/** Debian's chromium, driven by playwright-core (browser downloads are not available here). */
export const CHROMIUM = '/usr/bin/chromium';
export const DASHBOARD_DIST = join(ROOT, 'dashboard/dist/index.html');
/**
 * Browser tests need the built dashboard and Chromium; without them they skip with a message —
 * except under CI=true, where a missing browser is a broken setup and fails every browser test file.
 */
export const browserReady = existsSync(DASHBOARD_DIST) && existsSync(CHROMIUM);
if (!browserReady && process.env.CI === 'true') {
  throw new Error(`browser tests cannot run under CI: ${existsSync(CHROMIUM) ? 'dashboard/dist is missing (pnpm build)' : `${CHROMIUM} is missing (apt-get install -y chromium)`}`);
}

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
