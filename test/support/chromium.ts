import { existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Where the browser tests find Chromium (playwright-core drives a system browser: browser downloads
 * are not available here). Pure, so the lookup order is unit-tested without touching the machine.
 */

/** Set to a browser executable to use that one, e.g. `SWITCHYARD_CHROMIUM=/opt/chrome/chrome`. */
export const CHROMIUM_ENV = 'SWITCHYARD_CHROMIUM';
/** Names looked up in each `PATH` directory, in this order. */
export const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'] as const;
/** Debian's package puts it here; looked at even when `/usr/bin` is not on `PATH`. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

export type ChromiumLookup = { found: true; path: string; source: string } | { found: false; reason: string };

export interface ChromiumLookupInput {
  /** Usually `process.env`: reads SWITCHYARD_CHROMIUM and PATH. */
  env: Readonly<Record<string, string | undefined>>;
  exists: (path: string) => boolean;
  /** The `PATH` separator; `:` except on Windows. */
  pathDelimiter?: string;
}

/**
 * SWITCHYARD_CHROMIUM when set (and then nothing else: a wrong override is a mistake to report, not
 * to paper over with another browser), else the first of CHROMIUM_NAMES found on PATH, else
 * /usr/bin/chromium.
 */
export function findChromium({ env, exists, pathDelimiter = delimiter }: ChromiumLookupInput): ChromiumLookup {
  const override = env[CHROMIUM_ENV]?.trim();
  if (override) {
    if (exists(override)) return { found: true, path: override, source: CHROMIUM_ENV };
    return { found: false, reason: `${CHROMIUM_ENV}=${override} does not exist` };
  }
  // Empty PATH entries mean the working directory to a shell; a browser found that way would depend
  // on where the tests were started from, so only absolute directories count.
  const directories = (env.PATH ?? '').split(pathDelimiter).filter((dir) => dir !== '' && isAbsolute(dir));
  for (const name of CHROMIUM_NAMES) {
    for (const dir of directories) {
      const candidate = join(dir, name);
      if (exists(candidate)) return { found: true, path: candidate, source: 'PATH' };
    }
  }
  if (exists(DEBIAN_CHROMIUM)) return { found: true, path: DEBIAN_CHROMIUM, source: DEBIAN_CHROMIUM };
  return {
    found: false,
    reason: `no Chromium: none of ${CHROMIUM_NAMES.join(', ')} on PATH, no ${DEBIAN_CHROMIUM}, ${CHROMIUM_ENV} not set (apt-get install -y chromium, or set ${CHROMIUM_ENV})`,
  };
}

/** The dashboard the browser tests load: built by `pnpm build`. */
export function dashboardIndex(root: string): string {
  return join(root, 'dashboard/dist/index.html');
}

/** What keeps the browser tests from running on this machine; empty when they can run. */
export function browserTestProblems(root: string, env: Readonly<Record<string, string | undefined>> = process.env, exists: (path: string) => boolean = existsSync): string[] {
  const chromium = findChromium({ env, exists });
  return [
    chromium.found ? '' : chromium.reason,
    exists(dashboardIndex(root)) ? '' : 'dashboard/dist is missing (pnpm build, or pnpm --filter @switchyard/dashboard build)',
  ].filter(Boolean);
}
