import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './server-process.js';

/** Debian's chromium, driven by playwright-core (browser downloads are not available here). */
export const CHROMIUM = '/usr/bin/chromium';
export const DASHBOARD_DIST = join(ROOT, 'dashboard/dist/index.html');
const missing = [
  existsSync(CHROMIUM) ? '' : `${CHROMIUM} is missing (apt-get install -y chromium)`,
  existsSync(DASHBOARD_DIST) ? '' : 'dashboard/dist is missing (pnpm build, or pnpm --filter @switchyard/dashboard build)',
].filter(Boolean);
/**
 * Browser tests need Chromium and the built dashboard; without them they skip, saying why in the
 * run's output — except under CI=true, where a missing browser is a broken setup and fails every
 * browser test file.
 */
export const browserReady = missing.length === 0;
if (!browserReady) {
  if (process.env.CI === 'true') throw new Error(`browser tests cannot run under CI: ${missing.join('; ')}`);
  console.warn(`[browser tests skipped] ${missing.join('; ')}`);
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
