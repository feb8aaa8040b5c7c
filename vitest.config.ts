import { defineConfig } from 'vitest/config';

/** The server's HTTP and service tests run twice: on SQLite, and on PostgreSQL (a fresh schema per test app). */
const DIALECT_TESTS = ['server/src/http/**/*.test.ts', 'server/src/services/**/*.test.ts', 'server/src/app.test.ts'];

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
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['sdk/src/**/*.test.ts', 'sdk/react/src/**/*.test.{ts,tsx}', 'server/src/**/*.test.ts', 'dashboard/src/**/*.test.{ts,tsx}', 'test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: { name: 'postgres', include: DIALECT_TESTS, env: { SWITCHYARD_TEST_DIALECT: 'postgres' } },
      },
    ],
  },
});
