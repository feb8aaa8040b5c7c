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
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
