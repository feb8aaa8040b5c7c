/**
 * The dashboard's flag list at 5,000 flags × 3 environments, in Chromium against the real server:
 *
 *   (a) load: from the `GET /api/flag-summaries` response's last byte to the list being interactive
 *       (the first rows painted, then the main thread free for input), over `--loads` page loads;
 *   (b) keystroke: from a key press in the search box to the updated rows painted (median of ~20);
 *   (c) live change: from a stage change through the API to that row showing it (the server's
 *       write, the live event, one `GET /api/flag-summaries/{key}` and one row redrawn).
 *
 * It asserts nothing: it prints the figures beside the targets (300 ms, 50 ms) and the machine's load
 * average. The flags are applied as flags-as-code documents, as in flag-list.ts; the flag changed
 * live is created through the API (Git-managed flags take no stage change there).
 *
 *   node --conditions=switchyard-source --import tsx test/bench/dashboard-list.ts [--flags 5000] [--loads 3]
 *
 * Needs Chromium and the built dashboard (`pnpm --filter @switchyard/dashboard build`).
 */
import type { Page } from 'playwright-core';
import { browserReady, changeToDom, launchChromium, signIn } from '../support/browser.js';
import { CLI_KIND, api, removeDataDir, startServerProcess } from '../support/server-process.js';
import { Cleanup } from './cleanup.js';
import { loadAverage, median, ms, option } from './measure.js';

const FLAGS = Number(option('flags', '5000'));
const LOADS = Number(option('loads', '3'));
const TARGET = { loadMs: 300, keystrokeMs: 50 };
/** Flags per applied document: a document may be at most 2 MiB. */
const CHUNK = 1000;
const STAGES = ['off', 'dogfood', '10%', '50%', '100%', 'kill', '0.5%'];
const TEAMS = ['payments', 'search', 'growth', 'platform', 'mobile', 'checkout', 'identity', 'ads'];
const WORDS = ['new', 'checkout', 'flow', 'redesign', 'pricing', 'banner', 'recommendations', 'cache', 'beta', 'search', 'ranking', 'onboarding', 'dark', 'mode', 'export'];
const LIVE_FLAG = 'bench-live-row';
const LIVE_STAGES = [
  { stage: 'dogfood', text: 'Dogfood' },
  { stage: '10%', text: '10%' },
  { stage: '50%', text: '50%' },
  { stage: '100%', text: '100%' },
];
/** Each key changes the search text; together they narrow, widen and clear the list. */
const KEYSTROKES = [...'checkout', ...Array<string>(8).fill('Backspace'), ...'ads@', 'Backspace', 'Backspace', 'Backspace', 'Backspace'];

const flagKey = (i: number) => `flag-${String(i).padStart(5, '0')}`;
const words = (i: number, n: number) => Array.from({ length: n }, (_, j) => WORDS[(i * 7 + j * 3) % WORDS.length]).join(' ');

/** A flags-as-code document with flags from..to-1 (JSON is YAML): stages spread over every environment. */
function flagsDocument(from: number, to: number): string {
  const flags: Record<string, unknown> = {};
  for (let i = from; i < to; i++) {
    const team = TEAMS[i % TEAMS.length]!;
    flags[flagKey(i)] = {
      name: `${words(i, 3)} ${i}`.replace(/^./, (c) => c.toUpperCase()),
      description: `Rolls out the ${words(i, 6)} work for the ${team} team.`,
      tags: [team, ...(i % 3 === 0 ? ['experiment'] : [])],
      owner: `${team}@example.com`,
      environments: { development: { stage: '100%' }, staging: { stage: STAGES[i % STAGES.length] }, production: { stage: STAGES[(i + 2) % STAGES.length] } },
    };
  }
  return JSON.stringify({ environments: { development: { name: 'Development' }, staging: { name: 'Staging' }, production: { name: 'Production', critical: true } }, flags });
}

interface LoadTiming {
  responseEnd: number;
  rows: number;
  painted: number;
  interactive: number;
  listBytes: number;
}

/**
 * Stamps, on the page's own clock, when the first flag row enters the DOM, when the frame holding
 * it has been painted (a task after its animation frame) and when the main thread next runs a task
 * (input would be handled then).
 */
function stampFirstRows(): void {
  const w = window as unknown as { __list: Partial<LoadTiming> };
  w.__list = {};
  const observer = new MutationObserver(() => {
    if (!document.querySelector('tr[data-flag]')) return;
    observer.disconnect();
    w.__list.rows = performance.now();
    requestAnimationFrame(() =>
      setTimeout(() => {
        w.__list.painted = performance.now();
        const channel = new MessageChannel();
        channel.port1.onmessage = () => (w.__list.interactive = performance.now());
        channel.port2.postMessage(null);
      }),
    );
  });
  observer.observe(document, { childList: true, subtree: true });
}

async function measureLoad(page: Page, url: string): Promise<LoadTiming> {
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __list: Partial<LoadTiming> }).__list.interactive !== undefined, undefined, { timeout: 60_000 });
  return page.evaluate(() => {
    const list = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname === '/api/flag-summaries') as PerformanceResourceTiming | undefined;
    if (!list) throw new Error('no /api/flag-summaries request on this page load');
    const t = (window as unknown as { __list: LoadTiming }).__list;
    return { ...t, responseEnd: list.responseEnd, listBytes: list.encodedBodySize };
  });
}

interface FrameCost {
  frames: number;
  scriptMs: number;
  styleLayoutMs: number;
}

/**
 * Where the slow frames' time went (long animation frames, over 50 ms, since `since`): script, or
 * style and layout. Chromium only; zeros when no frame was long.
 */
function longFrames(page: Page, since: number): Promise<FrameCost> {
  return page.evaluate((since) => {
    interface Loaf extends PerformanceEntry {
      styleAndLayoutStart: number;
      scripts: { duration: number }[];
    }
    const entries = (performance.getEntriesByType('long-animation-frame') as Loaf[]).filter((e) => e.startTime >= since);
    return {
      frames: entries.length,
      scriptMs: entries.reduce((sum, e) => sum + e.scripts.reduce((s, x) => s + x.duration, 0), 0),
      styleLayoutMs: entries.reduce((sum, e) => sum + (e.styleAndLayoutStart ? e.startTime + e.duration - e.styleAndLayoutStart : 0), 0),
    };
  }, since);
}

/** Milliseconds from each key press (the event's own time stamp) to a task after the next frame: the updated rows painted. */
async function measureKeystrokes(page: Page): Promise<{ times: number[]; counts: string[] }> {
  const search = page.getByLabel('Search', { exact: true });
  await search.focus();
  await page.evaluate(() => {
    const w = window as unknown as { __keys: number[] };
    w.__keys = [];
    document.getElementById('flag-search')!.addEventListener(
      'input',
      (event) => requestAnimationFrame(() => setTimeout(() => w.__keys.push(performance.now() - event.timeStamp))),
      { capture: true },
    );
  });
  const counts: string[] = [];
  for (const [i, key] of KEYSTROKES.entries()) {
    await page.keyboard.press(key);
    await page.waitForFunction((n) => (window as unknown as { __keys: number[] }).__keys.length >= n, i + 1);
    counts.push((await page.locator('.list-count').textContent())!.replace(/\s*Clear filters$/, ''));
  }
  return { times: await page.evaluate(() => (window as unknown as { __keys: number[] }).__keys), counts };
}

if (!browserReady) {
  console.error('dashboard-list needs Chromium and the built dashboard (see the message above)');
  process.exit(1);
}

const cleanup = new Cleanup();
try {
  const server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
  cleanup.add(() => removeDataDir(server.dataDir));
  cleanup.add(() => server.stop());
  const call = api(server.url, server.adminToken);

  const seedStarted = Date.now();
  for (let from = 0; from < FLAGS; from += CHUNK) {
    const to = Math.min(FLAGS, from + CHUNK);
    // One file per chunk: a file applied again without a flag it applied before would delete it.
    const applied = await call<{ applied: boolean }>('POST', '/api/gitops/apply', { document: flagsDocument(from, to), filename: `bench-${from}.json` });
    if (applied.status !== 200 || !applied.body.applied) throw new Error(`seeding flags ${from}..${to - 1}: HTTP ${applied.status} ${JSON.stringify(applied.body).slice(0, 300)}`);
  }
  const created = await call<{ version: number }>('POST', '/api/flags', { key: LIVE_FLAG, name: 'Bench live row', tags: ['bench'] });
  if (created.status !== 201) throw new Error(`creating ${LIVE_FLAG}: HTTP ${created.status}`);
  console.log(`Dashboard flag list, ${FLAGS + 1} flags × 3 environments (seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s), server ${CLI_KIND}, SQLite, Chromium headless`);
  console.log(`  load average before: ${loadAverage()} (a shared, busy machine makes every figure here larger)`);

  const browser = await launchChromium();
  cleanup.add(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, server.url, server.adminToken);
  let listRequests = 0;
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/flag-summaries') listRequests++;
  });
  await page.addInitScript(stampFirstRows);

  // (a) load
  const loads: LoadTiming[] = [];
  for (let i = 0; i < LOADS; i++) loads.push(await measureLoad(page, `${server.url}/?env=production`));
  const rowsDrawn = await page.locator('tr[data-flag]').count();
  const summary = (await page.locator('.list-count').textContent())!;
  console.log(`\n  (a) summaries response → list interactive (${summary.trim()}, ${rowsDrawn} rows drawn, ${(loads[0]!.listBytes / 1024).toFixed(0)} KB on the wire):`);
  for (const [i, t] of loads.entries()) {
    console.log(`      load ${i + 1}: rows in the DOM +${ms(t.rows - t.responseEnd)}, painted +${ms(t.painted - t.responseEnd)}, interactive +${ms(t.interactive - t.responseEnd)}`);
  }
  const loadMedian = median(loads.map((t) => t.interactive - t.responseEnd));
  console.log(`      median ${ms(loadMedian)} (target ${TARGET.loadMs} ms: ${loadMedian <= TARGET.loadMs ? 'within' : 'over'})`);

  const afterLoads = await page.evaluate(() => performance.now());
  const loadFrames = await longFrames(page, 0);
  console.log(`      last load's long frames: ${loadFrames.frames}, script ${ms(loadFrames.scriptMs)}, style and layout ${ms(loadFrames.styleLayoutMs)}`);

  // (b) keystrokes
  const keys = await measureKeystrokes(page);
  const keyFrames = await longFrames(page, afterLoads);
  const keyMedian = median(keys.times);
  console.log(`\n  (b) search keystroke → updated rows painted, ${keys.times.length} keystrokes ("checkout", cleared, "ads@", cleared):`);
  console.log(`      median ${ms(keyMedian)}, max ${ms(Math.max(...keys.times))} (target ${TARGET.keystrokeMs} ms: ${keyMedian <= TARGET.keystrokeMs ? 'within' : 'over'})`);
  console.log(`      long frames: ${keyFrames.frames} of ${keys.times.length}, script ${ms(keyFrames.scriptMs)}, style and layout ${ms(keyFrames.styleLayoutMs)} in all`);
  console.log(`      counts seen: ${[...new Set(keys.counts)].join(' → ')}`);

  // (c) live change to one row
  await page.getByLabel('Search', { exact: true }).fill('bench-live');
  await page.locator(`tr[data-flag="${LIVE_FLAG}"]`).waitFor();
  const listBefore = listRequests;
  const live: number[] = [];
  for (const { stage, text } of LIVE_STAGES) {
    const cell = `tr[data-flag="${LIVE_FLAG}"] td[data-env="production"]`;
    live.push(
      await changeToDom(page, cell, text, async () => {
        const flag = (await call<{ version: number }>('GET', `/api/flags/${LIVE_FLAG}`)).body;
        const res = await call('POST', `/api/flags/${LIVE_FLAG}/environments/production/stage`, { stage, version: flag.version });
        if (res.status !== 200) throw new Error(`stage ${stage}: HTTP ${res.status}`);
      }),
    );
  }
  console.log(`\n  (c) stage change through the API → that row updated, ${live.length} changes: ${live.map(ms).join(', ')}; median ${ms(median(live))}`);
  console.log(`      list requests meanwhile: ${listRequests - listBefore} (one per-flag summary request per change instead)`);
  console.log(`\n  load average after: ${loadAverage()}`);
} finally {
  await cleanup.run();
}
