import { defineConfig } from 'vitest/config';
import { SkippedBrowserTestsReporter } from './test/support/skipped-browser-tests.js';

/** The server's HTTP and service tests run twice: on SQLite, and on PostgreSQL (a fresh schema per test app). */
const DIALECT_TESTS = ['server/src/http/**/*.test.ts', 'server/src/services/**/*.test.ts', 'server/src/app.test.ts'];

/**
 * Tests that start server processes, SDK clients and Chromium, some with latency bounds (`/healthz`
 * p99, propagation to the DOM): one file at a time, after the in-process tests, as before.
 */
const PROCESS_TESTS = ['test/e2e/**/*.test.ts', 'test/browser/**/*.test.ts'];
/**
 * Everything else runs in-process (app.inject, pure modules) and mostly waits on PostgreSQL: two
 * files at a time. vitest's default on a 2-core machine is one (cores - 1), which left the suite
 * serial. Each file has its own in-memory SQLite or PostgreSQL schema, so files never share data.
 */
const IN_PROCESS = { maxWorkers: 2, sequence: { groupOrder: 0 } };

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
        test: { name: 'e2e', include: PROCESS_TESTS, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
