import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Workspace packages resolve to their TypeScript sources in tests (see package.json "exports").
    conditions: ['switchyard-source'],
  },
  ssr: {
    resolve: { conditions: ['switchyard-source'] },
  },
  test: {
    include: ['sdk/src/**/*.test.ts', 'server/src/**/*.test.ts', 'dashboard/src/**/*.test.{ts,tsx}', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // PostgreSQL for the tests: SWITCHYARD_TEST_DATABASE_URL, or a throwaway embedded server.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
