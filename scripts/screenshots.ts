/**
 * The README's dashboard screenshots, from a realistic instance:
 *
 *   pnpm --filter @switchyard/dashboard build
 *   node --conditions=switchyard-source --import tsx scripts/screenshots.ts [output directory]
 *
 * Starts the real server (SQLite in a temporary directory, a free port), seeds it through the REST
 * API as a team would have used it over the past week and a half — flags with owners and tags at
 * different stages in each environment, a segment, dogfood users, a kill during an incident, a
 * guarded canary under way, comments on changes, several people's tokens — then signs in with
 * Chromium at 1280×800 and saves PNGs (default: docs/screenshots/). Run it again after changing the
 * dashboard; the pictures come out the same except for times and secrets.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../server/src/app.js';
import { bootstrap } from '../server/src/services/bootstrap.js';
import { openDatabase } from '../server/src/store/open.js';
// The browser tests' Chromium (found the same way) and sign-in; playwright-core lives in test/.
import { launchChromium, signIn } from '../test/support/browser.js';
import { browserTestProblems } from '../test/support/chromium.js';

type Page = Parameters<typeof signIn>[0];

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = resolve(process.argv[2] ?? join(ROOT, 'docs/screenshots'));
const VIEWPORT = { width: 1280, height: 800 };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const say = (text: string) => process.stdout.write(`${text}\n`);

const problems = browserTestProblems(ROOT);
if (problems.length > 0) throw new Error(`screenshots cannot be taken: ${problems.join('; ')}`);

// Writes are stamped by this clock: during seeding it reads a moment in the past week, so the audit
// log and "last changed" read as the history of a team at work, not as one second of a script.
let pinnedTime: number | null = null;
const now = () => pinnedTime ?? Date.now();
const at = (daysAgo: number, hour: number, minute = 0) => {
  const day = new Date(Date.now() - daysAgo * DAY);
  day.setUTCHours(hour, minute, 0, 0);
  return day.getTime();
};

const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-screenshots-'));
const adminToken = `sy_api_${randomBytes(24).toString('hex')}`;
const db = await openDatabase({ dataDir });
const app = await buildApp({ db, now, tickMs: 500, logger: { level: 'warn' } });
await bootstrap(app.services.writes, app.services.environments, adminToken);
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

async function stop(): Promise<void> {
  await app.close();
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
}

interface Call {
  token?: string;
  message?: string;
}

async function api<T = unknown>(method: string, path: string, body?: unknown, { token = adminToken, message }: Call = {}): Promise<T> {
  const response = await fetch(baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(message ? { 'x-switchyard-message': encodeURIComponent(message) } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

// — The team: each change is made with the token of the person (or bot) who made it. —
async function token(name: string, role: 'viewer' | 'editor' | 'admin'): Promise<string> {
  return (await api<{ token: string }>('POST', '/api/tokens', { name, role })).token;
}

interface FlagBody {
  key: string;
  name: string;
  description: string;
  owner: string;
  tags: string[];
  type?: 'boolean' | 'string';
  variations?: { key: string; value: string | boolean }[];
  clientVisible?: boolean;
}

async function createFlag(flag: FlagBody, by: string): Promise<void> {
  await api('POST', '/api/flags', flag, { token: by });
}

async function version(key: string): Promise<number> {
  return (await api<{ version: number }>('GET', `/api/flags/${key}`)).version;
}

async function stage(key: string, environment: string, to: string, by: string, message?: string, variation?: string): Promise<void> {
  await api('POST', `/api/flags/${key}/environments/${environment}/stage`, { stage: to, version: await version(key), ...(message ? { message } : {}), ...(variation ? { variation } : {}) }, { token: by });
}

pinnedTime = at(11, 8, 30);
const maria = await token('maria.lopez', 'editor');
const sam = await token('sam.chen', 'editor');
const priya = await token('priya.patel', 'editor');
const ciBot = await token('ci-bot', 'editor');
await token('grafana-readonly', 'viewer');
await token('jonas.weber', 'admin');
await api('POST', '/api/sdk-keys', { name: 'storefront-api', environment: 'production' });
await api('POST', '/api/sdk-keys', { name: 'storefront-api', environment: 'staging' });
await api('POST', '/api/sdk-keys', { name: 'web-storefront', environment: 'production', kind: 'client' });
const { key: sdkKey } = await api<{ key: string }>('POST', '/api/sdk-keys', { name: 'search-service', environment: 'production' });

// — Who dogfoods, and a segment of customers who opted into betas. —
pinnedTime = at(11, 9, 10);
const internal = await api<{ version: number }>('GET', '/api/segments/internal');
await api(
  'PATCH',
  '/api/segments/internal',
  {
    version: internal.version,
    included: ['u-1042', 'u-2291', 'u-3310', 'u-4187'],
    rules: [{ id: 'staff-email', clauses: [{ attribute: 'email', operator: 'ends_with', values: ['@northwind.example'] }] }],
  },
  { token: priya, message: 'everyone with a company address dogfoods' },
);
pinnedTime = at(10, 14, 5);
await api(
  'POST',
  '/api/segments',
  {
    key: 'beta-customers',
    name: 'Beta customers',
    description: 'Accounts that opted into early access in their settings',
    included: ['acct-7781', 'acct-9034', 'acct-1200'],
    rules: [{ id: 'enterprise-plan', clauses: [{ attribute: 'plan', operator: 'in', values: ['enterprise'] }] }],
  },
  { token: sam, message: 'early-access programme, see PM-118' },
);

// — The flags, as they were created over the week. —
const FLAGS: (FlagBody & { by: string; created: number })[] = [
  { key: 'new-checkout', name: 'New checkout', description: 'One-page checkout with saved cards and Apple Pay', owner: 'payments', tags: ['checkout', 'web'], by: maria, created: at(10, 9, 0) },
  { key: 'dark-mode', name: 'Dark mode', description: 'Follows the system colour scheme; toggle in account settings', owner: 'design-system', tags: ['web', 'ui'], clientVisible: true, by: priya, created: at(10, 11, 20) },
  { key: 'search-v2', name: 'Search v2', description: 'Vector search with typo tolerance, served by search-service', owner: 'search', tags: ['search', 'api'], by: sam, created: at(9, 10, 0) },
  { key: 'instant-payouts', name: 'Instant payouts', description: 'Sellers receive payouts within minutes instead of next business day', owner: 'payments', tags: ['payments', 'api'], by: maria, created: at(9, 15, 40) },
  { key: 'onboarding-checklist', name: 'Onboarding checklist', description: 'Guided first-week checklist for new workspaces', owner: 'growth', tags: ['web', 'onboarding'], by: priya, created: at(8, 9, 15) },
  {
    key: 'pricing-layout',
    name: 'Pricing page layout',
    description: 'Which pricing table new visitors see',
    owner: 'growth',
    tags: ['web', 'experiment'],
    type: 'string',
    variations: [
      { key: 'classic', value: 'classic' },
      { key: 'annual-first', value: 'annual-first' },
    ],
    clientVisible: true,
    by: priya,
    created: at(7, 13, 0),
  },
  { key: 'rate-limit-v2', name: 'Rate limiter v2', description: 'Token-bucket limits per workspace instead of per IP', owner: 'platform', tags: ['api', 'infra'], by: sam, created: at(6, 8, 45) },
  { key: 'order-tracking-map', name: 'Live order tracking map', description: 'Courier position on a map in the order page', owner: 'fulfilment', tags: ['web', 'mobile'], clientVisible: true, by: maria, created: at(5, 10, 30) },
];
for (const { by, created, ...flag } of FLAGS) {
  pinnedTime = created;
  await createFlag(flag, by);
}

// — A week of releases. The last ones are what the audit log shows first. —
const history: [number, () => Promise<void>][] = [
  [at(10, 9, 30), () => stage('new-checkout', 'development', '100%', maria)],
  [at(10, 11, 45), () => stage('dark-mode', 'development', '100%', priya)],
  [at(9, 10, 20), () => stage('search-v2', 'development', '100%', sam)],
  [at(9, 16, 0), () => stage('new-checkout', 'staging', 'dogfood', maria, 'QA pass on staging first')],
  [at(8, 9, 40), () => stage('onboarding-checklist', 'development', '100%', priya)],
  [at(8, 10, 10), () => stage('dark-mode', 'staging', '100%', ciBot, 'deploy 2026.48.2')],
  [at(8, 14, 30), () => stage('instant-payouts', 'staging', '100%', maria, 'ledger reconciliation green')],
  [at(7, 9, 5), () => stage('new-checkout', 'staging', '100%', maria)],
  [at(7, 9, 20), () => stage('new-checkout', 'production', 'dogfood', maria, 'staff first')],
  [at(7, 13, 30), () => stage('pricing-layout', 'staging', 'dogfood', priya, 'design review', 'annual-first')],
  [at(6, 9, 0), () => stage('rate-limit-v2', 'staging', '100%', sam)],
  [at(6, 9, 30), () => stage('rate-limit-v2', 'production', 'dogfood', sam, 'our own workspaces first')],
  [at(6, 11, 0), () => stage('dark-mode', 'production', '10%', priya)],
  [at(5, 10, 0), () => stage('instant-payouts', 'production', '10%', maria, 'first sellers in NL and DE')],
  [at(5, 11, 10), () => stage('search-v2', 'staging', '50%', sam)],
  [at(4, 9, 0), () => stage('new-checkout', 'production', '10%', maria, 'dogfood clean for two days')],
  [at(4, 15, 20), () => stage('dark-mode', 'production', '50%', priya, 'no contrast bugs reported')],
  [at(3, 8, 10), () => stage('order-tracking-map', 'development', '100%', maria)],
  [at(3, 9, 45), () => stage('onboarding-checklist', 'staging', '100%', ciBot, 'deploy 2026.49.0')],
  [at(3, 10, 5), () => stage('onboarding-checklist', 'production', '10%', priya, 'A/B against the old welcome mail')],
  [at(2, 16, 30), () => stage('dark-mode', 'production', '100%', priya, 'ship it')],
  [
    at(2, 17, 5),
    async () => {
      await api(
        'PATCH',
        '/api/flags/onboarding-checklist/environments/production',
        { version: await version('onboarding-checklist'), rules: [{ id: 'beta-customers', clauses: [{ attribute: '', operator: 'in_segment', values: ['beta-customers'] }], serve: { variation: 'on' } }] },
        { token: priya, message: 'beta customers get it regardless of the rollout' },
      );
    },
  ],
  [at(1, 9, 0), () => stage('new-checkout', 'production', '50%', maria, 'ramp after a clean day')],
  [at(1, 11, 40), () => stage('instant-payouts', 'production', 'kill', sam, 'INC-2291: payouts posted twice for some sellers')],
  [at(0, 8, 15), () => stage('search-v2', 'staging', '100%', ciBot, 'deploy 2026.49.3')],
];
for (const [time, change] of history) {
  pinnedTime = Math.min(time, Date.now() - HOUR);
  await change();
}

// — A guarded canary of search-v2 in production, started now, with the first evidence in. —
pinnedTime = null;
await api(
  'PUT',
  '/api/flags/search-v2/environments/production/release-plan',
  {
    strategy: 'guarded',
    steps: [
      { percentage: 5, minDurationMs: 30 * 60_000, minExposures: 500 },
      { percentage: 25, minDurationMs: 60 * 60_000, minExposures: 2000 },
      { percentage: 100, minDurationMs: 0, minExposures: 0 },
    ],
    guard: { errorEvent: 'search_error', minExposures: 200 },
  },
  { token: sam },
);
await api('POST', '/api/flags/search-v2/environments/production/release-plan/start', undefined, { token: sam, message: 'latency budget met on staging' });
try {
  await api('POST', '/api/sdk/metrics', {
    exposures: [
      { flag: 'search-v2', variation: 'on', count: 142 },
      { flag: 'search-v2', variation: 'off', count: 2690 },
    ],
    events: [
      { name: 'search_error', flag: 'search-v2', variation: 'on', count: 2 },
      { name: 'search_error', flag: 'search-v2', variation: 'off', count: 41 },
    ],
  }, { token: sdkKey });
} catch (error) {
  say(`(no canary evidence in the screenshot: ${error instanceof Error ? error.message : String(error)})`);
}

// — The pictures. —
mkdirSync(OUT, { recursive: true });
const browser = await launchChromium();
const saved: string[] = [];
try {
  const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light', locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  await signIn(page, baseUrl, adminToken);

  async function shoot(file: string, path: string, ready: (page: Page) => Promise<unknown>): Promise<void> {
    await page.goto(baseUrl + path);
    await ready(page);
    // Fonts, the live-connection dot and transitions settle.
    await page.evaluate(() => document.fonts.ready);
    await page.waitForTimeout(400);
    const target = join(OUT, file);
    await page.screenshot({ path: target });
    saved.push(target);
  }

  // Newest change first: the canary under way leads the list.
  await shoot('dashboard-flags.png', '/flags?env=production&sort=updated', (p) => p.getByRole('link', { name: 'Search v2' }).first().waitFor());
  await shoot('dashboard-flag-page.png', '/flags/new-checkout', (p) => p.getByRole('heading', { name: 'New checkout' }).first().waitFor());
  await shoot('dashboard-canary.png', '/flags/search-v2', (p) => p.getByRole('heading', { name: 'Search v2' }).first().waitFor());
  await shoot('dashboard-audit-log.png', '/audit', (p) => p.getByText('ramp after a clean day').first().waitFor());
  await shoot('dashboard-tokens.png', '/tokens', (p) => p.getByText('grafana-readonly').first().waitFor());
} finally {
  await browser.close();
  await stop();
}
for (const file of saved) say(`saved ${relative(process.cwd(), file)}`);
