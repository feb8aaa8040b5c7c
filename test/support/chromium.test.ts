import { describe, expect, it } from 'vitest';
import { browserTestProblems, findChromium } from './chromium.js';
import { BROWSER_SUPPORT_IMPORT, skippedBrowserTestsReport } from './skipped-browser-tests.js';

/** A file system holding exactly `files`. */
const only = (...files: string[]) => (path: string) => files.includes(path);

describe('findChromium', () => {
  const cases = [
    {
      name: 'chromium on PATH',
      env: { PATH: '/usr/local/bin:/snap/bin' },
      files: ['/snap/bin/chromium'],
      expected: { found: true, path: '/snap/bin/chromium', source: 'PATH' },
    },
    {
      name: "Ubuntu's chromium-browser on PATH",
      env: { PATH: '/usr/local/bin:/usr/bin' },
      files: ['/usr/bin/chromium-browser'],
      expected: { found: true, path: '/usr/bin/chromium-browser', source: 'PATH' },
    },
    {
      name: 'google-chrome on PATH',
      env: { PATH: '/opt/google/bin' },
      files: ['/opt/google/bin/google-chrome'],
      expected: { found: true, path: '/opt/google/bin/google-chrome', source: 'PATH' },
    },
    {
      name: 'a name earlier in the list wins over a directory earlier on PATH',
      env: { PATH: '/a:/b' },
      files: ['/a/google-chrome', '/b/chromium'],
      expected: { found: true, path: '/b/chromium', source: 'PATH' },
    },
    {
      name: 'for one name, the first PATH directory wins',
      env: { PATH: '/a:/b' },
      files: ['/a/chromium', '/b/chromium'],
      expected: { found: true, path: '/a/chromium', source: 'PATH' },
    },
    {
      name: "Debian's /usr/bin/chromium when PATH has none",
      env: { PATH: '/nowhere' },
      files: ['/usr/bin/chromium'],
      expected: { found: true, path: '/usr/bin/chromium', source: '/usr/bin/chromium' },
    },
    {
      name: '/usr/bin/chromium without any PATH at all',
      env: {},
      files: ['/usr/bin/chromium'],
      expected: { found: true, path: '/usr/bin/chromium', source: '/usr/bin/chromium' },
    },
    {
      name: 'relative and empty PATH entries are not searched',
      env: { PATH: ':bin:.' },
      files: ['chromium', 'bin/chromium', './chromium'],
      expected: { found: false },
    },
    {
      name: 'SWITCHYARD_CHROMIUM wins over PATH',
      env: { PATH: '/usr/bin', SWITCHYARD_CHROMIUM: '/opt/chrome/chrome' },
      files: ['/usr/bin/chromium', '/opt/chrome/chrome'],
      expected: { found: true, path: '/opt/chrome/chrome', source: 'SWITCHYARD_CHROMIUM' },
    },
    {
      name: 'a SWITCHYARD_CHROMIUM that does not exist is reported, not replaced by another browser',
      env: { PATH: '/usr/bin', SWITCHYARD_CHROMIUM: '/opt/typo/chrome' },
      files: ['/usr/bin/chromium'],
      expected: { found: false, reason: 'SWITCHYARD_CHROMIUM=/opt/typo/chrome does not exist' },
    },
    {
      name: 'an empty SWITCHYARD_CHROMIUM is as if unset',
      env: { PATH: '/usr/bin', SWITCHYARD_CHROMIUM: ' ' },
      files: ['/usr/bin/chromium'],
      expected: { found: true, path: '/usr/bin/chromium', source: 'PATH' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(findChromium({ env: c.env, exists: only(...c.files), pathDelimiter: ':' })).toMatchObject(c.expected);
    });
  }

  it('names every place it looked, and how to fix it, when there is no browser', () => {
    const result = findChromium({ env: { PATH: '/usr/bin' }, exists: only(), pathDelimiter: ':' });
    expect(result.found).toBe(false);
    if (result.found) return;
    for (const words of ['chromium, chromium-browser, google-chrome', 'on PATH', '/usr/bin/chromium', 'SWITCHYARD_CHROMIUM', 'apt-get install -y chromium']) {
      expect(result.reason).toContain(words);
    }
  });

  it('splits PATH on the delimiter it is given', () => {
    expect(findChromium({ env: { PATH: 'C:\\nope;/opt/chrome' }, exists: only('/opt/chrome/chromium'), pathDelimiter: ';' })).toMatchObject({ found: true, path: '/opt/chrome/chromium' });
  });
});

describe('browserTestProblems', () => {
  it('none with a browser and the built dashboard', () => {
    expect(browserTestProblems('/repo', { PATH: '/usr/bin' }, only('/usr/bin/chromium', '/repo/dashboard/dist/index.html'))).toEqual([]);
  });

  it('each missing piece, with what to do about it', () => {
    const problems = browserTestProblems('/repo', { PATH: '/usr/bin' }, only());
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^no Chromium: .*apt-get install -y chromium/);
    expect(problems[1]).toBe('dashboard/dist is missing (pnpm build, or pnpm --filter @switchyard/dashboard build)');
  });
});

describe('the end-of-run report of browser tests that did not run', () => {
  const problems = ['no Chromium: none of chromium… on PATH'];

  it('counts the skipped tests and files, and says why', () => {
    const lines = skippedBrowserTestsReport(
      [
        { file: 'test/browser/csp.test.ts', skippedTests: 3, failedToLoad: false },
        { file: 'test/browser/revoked.test.ts', skippedTests: 1, failedToLoad: false },
        { file: 'test/e2e/canary-console.test.ts', skippedTests: 0, failedToLoad: false },
      ],
      problems,
    );
    expect(lines[0]).toBe('Browser tests NOT RUN: 4 tests in 2 files skipped, because:');
    expect(lines[1]).toBe('  - no Chromium: none of chromium… on PATH');
    expect(lines).toHaveLength(3);
  });

  it('one test in one file reads in the singular', () => {
    expect(skippedBrowserTestsReport([{ file: 'a.test.ts', skippedTests: 1, failedToLoad: false }], problems)[0]).toBe('Browser tests NOT RUN: 1 test in 1 file skipped, because:');
  });

  it('says the files failed when CI refused to skip them', () => {
    const lines = skippedBrowserTestsReport([{ file: 'test/browser/csp.test.ts', skippedTests: 0, failedToLoad: true }], problems);
    expect(lines[0]).toBe('Browser tests FAILED to load: 1 file (CI=true requires a browser), because:');
    expect(lines).not.toContainEqual(expect.stringContaining('NOT RUN'));
  });

  it('says nothing when the browser tests could run', () => {
    expect(skippedBrowserTestsReport([{ file: 'a.test.ts', skippedTests: 2, failedToLoad: false }], [])).toEqual([]);
  });

  it('recognises the files that import the browser support', () => {
    expect(BROWSER_SUPPORT_IMPORT.test("import { browserReady as ready, launchChromium } from '../support/browser.js';")).toBe(true);
    expect(BROWSER_SUPPORT_IMPORT.test('import { signIn } from "../support/browser";')).toBe(true);
    expect(BROWSER_SUPPORT_IMPORT.test("import { api } from '../support/server-process.js';")).toBe(false);
    expect(BROWSER_SUPPORT_IMPORT.test("import { x } from '../support/browser-extra.js';")).toBe(false);
  });
});
