import { defineConfig, defaultClientConditions } from 'vite';

/** Preact via the automatic JSX runtime; the SDK resolves to its TypeScript source (one evaluator). */
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  resolve: { conditions: ['switchyard-source', ...defaultClientConditions] },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: { proxy: { '/api': 'http://127.0.0.1:4242', '/ofrep': 'http://127.0.0.1:4242' } },
});
