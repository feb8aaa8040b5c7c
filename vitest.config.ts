import { defineConfig } from 'vitest/config';
import { SkippedBrowserTestsReporter } from './test/support/skipped-browser-tests.js';

/** The server's HTTP and service tests run twice: on SQLite, and on PostgreSQL (a fresh schema per test app). */
const DIALECT_TESTS = ['server/src/http/**/*.test.ts', 'server/src/services/**/*.test.ts', 'server/src/app.test.ts'];

/**
 * Tests that start server processes, SDK clients and Chromium: two files at a time, after the
 * in-process tests — they mostly wait on timers, sockets and the browser.
 */
const PROCESS_TESTS = ['test/e2e/**/*.test.ts', 'test/browser/**/*.test.ts'];
/**
 * The process tests with latency bounds (`/healthz` p99, leader takeover, a stage change reaching
 * the DOM within 1 s): one file at a time, last, with the machine to themselves.
 */
const TIMED_PROCESS_TESTS = [
  'test/e2e/liveness.test.ts',
  'test/e2e/cluster.test.ts',
  'test/e2e/cluster-schedules.test.ts',
  'test/e2e/sdk-never-hangs.test.ts',
  'test/browser/openfeature-web.test.ts',
  'test/browser/react-app.test.ts',
  'test/browser/web-client.test.ts',
];
/**
 * Everything else runs in-process (app.inject, pure modules) and mostly waits on PostgreSQL: two
 * files at a time. vitest's default on a 2-core machine is one (cores - 1), which left the suite
 * serial. Each file has its own in-memory SQLite or PostgreSQL schema, so files never share data.
 */
const IN_PROCESS = { maxWorkers: 2, isolate: false, sequence: { groupOrder: 0 } };

export default defineConfig({
  resolve: {
    // Workspace packages resolve to their TypeScript sources in tests (see package.json "exports").
    conditions: ['switchyard-source'],
  },
  ssr: {
    resolve: { conditions: ['switchyard-source'] },
  },
  test: {
    exclude: ['**/node_modules/**', '**/dist/**'],
    // PostgreSQL for the tests: SWITCHYARD_TEST_DATABASE_URL, or a throwaway embedded server.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    // After vitest's summary: how many browser tests did not run, and why (no Chromium, no dashboard build).
    reporters: ['default', new SkippedBrowserTestsReporter()],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['sdk/src/**/*.test.ts', 'sdk/react/src/**/*.test.{ts,tsx}', 'server/src/**/*.test.ts', 'dashboard/src/**/*.test.{ts,tsx}', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**', ...PROCESS_TESTS],
          ...IN_PROCESS,
        },
      },
      {
        extends: true,
        test: { name: 'postgres', include: DIALECT_TESTS, env: { SWITCHYARD_TEST_DIALECT: 'postgres' }, ...IN_PROCESS },
      },
      {
        extends: true,
        test: { name: 'e2e', include: PROCESS_TESTS, exclude: ['**/node_modules/**', '**/dist/**', ...TIMED_PROCESS_TESTS], maxWorkers: 2, isolate: false, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: 'e2e-timed', include: TIMED_PROCESS_TESTS, maxWorkers: 1, isolate: false, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
