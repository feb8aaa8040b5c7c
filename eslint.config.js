import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/**
 * The server's layers (see the README's architecture section): each may import only the layers
 * below it. `domain` is the leaf; `store` sees only `domain`; `services` see `domain` and `store`;
 * `http` sees `services` and `domain`, never `store`; the CLI sits on top. The composition root
 * (server/src/*.ts: app, main, config, the cli entry) wires them all and belongs to no layer.
 * Tests and test helpers may reach anything they need.
 */
const LAYERS = [
  { type: 'domain', pattern: 'server/src/domain' },
  { type: 'store', pattern: 'server/src/store' },
  { type: 'services', pattern: 'server/src/services' },
  { type: 'http', pattern: 'server/src/http' },
  { type: 'cli', pattern: 'server/src/cli' },
];
const may = (from, to) => ({ from: { element: { type: from } }, allow: { to: { element: { types: { anyOf: to } } } } });

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'migrations/**', 'test/artifacts/**', 'data/**', '**/*.d.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['server/src/**/*.ts'],
    ignores: ['server/src/**/*.test.ts', 'server/src/testing/**'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': LAYERS.map((layer) => ({ partialMatch: false, ...layer })),
      'boundaries/include': ['server/src/**/*.ts'],
      // Imports name `.js` files that are `.ts` sources: resolve them as TypeScript does.
      'import/resolver': { typescript: { project: 'server/tsconfig.json' } },
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          message: 'layers: {{from.element.type}} must not import {{to.element.type}} (see eslint.config.js)',
          policies: [
            may('domain', ['domain']),
            may('store', ['store', 'domain']),
            may('services', ['services', 'store', 'domain']),
            may('http', ['http', 'services', 'domain']),
            // The CLI is a top layer: its server-side commands (db copy, reading sync files) use the layers below.
            may('cli', ['cli', 'http', 'services', 'store', 'domain']),
          ],
        },
      ],
    },
  },
);
