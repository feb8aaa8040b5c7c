import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { signIn } from './browser.js';
import type { Api } from './sdk-e2e.js';
import { ROOT, api, removeDataDir, startServerProcess, type ServerProcess } from './server-process.js';

/**
 * What the browser tests of scheduled changes share (test/browser/schedules.test.ts, the flag page;
 * change-request-schedule.test.ts, a change request's scheduled apply): the server with one flag,
 * a signed-in page whose clock reads a chosen time zone, and the times as the dashboard's form takes
 * them and as it writes them back.
 */

export const ARTIFACTS = join(ROOT, 'test/artifacts');

/** A schedule as the API returns it (the fields these tests read). */
export interface ScheduleJson {
  id: number;
  at: string;
  action: { type: string; stage?: string; requestId?: number };
  status: string;
  createdBy: string;
  updatedBy: string;
  version: number;
  outcome: string | null;
  resultVersion: number | null;
}

export interface FlagJson {
  version: number;
  environments: Record<string, { stage: string }>;
}

/** The label of the schedule form's time field, which names the viewer's zone. */
export const whenLabel = (zone: string) => `When (your time, ${zone})`;

/** What a wall clock in `zone` shows at `ms`, as `<input type="datetime-local">` takes it. */
export function wallIn(zone: string, ms: number, seconds = false): string {
  const format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const p = Object.fromEntries(format.formatToParts(ms).map((part) => [part.type, part.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}${seconds ? `:${p.second}` : ''}`;
}

/** `2026-12-08 09:00 UTC` / `2026-12-08 09:00:05 UTC`, as the dashboard writes UTC. */
export function utcText(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, iso.slice(17, 19) === '00' ? 16 : 19)} UTC`;
}

/** The real server process with flag `key` created, and an admin client for its API. */
export async function startWithFlag(key: string, name: string): Promise<{ server: ServerProcess; call: Api }> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = await startServerProcess();
  const call = api(server.url, server.adminToken);
  const created = await call('POST', '/api/flags', { key, name });
  if (created.status !== 201) {
    await stopAll(undefined, server);
    throw new Error(`creating flag ${key} failed: ${created.status} ${JSON.stringify(created.body)}`);
  }
  return { server, call };
}

/** A page in a browser context of its own whose clock reads `zone` (in en-US), signed in with `token`. */
export async function zonedPage(browser: Browser, server: ServerProcess, zone: string, token: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, timezoneId: zone, locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await signIn(page, server.url, token);
  return { context, page };
}

/** Closes the browser and stops the server, removing its data; either may not have started. */
export async function stopAll(browser: Browser | undefined, server: ServerProcess | undefined): Promise<void> {
  await browser?.close();
  if (server) {
    await server.stop();
    removeDataDir(server.dataDir);
  }
}
