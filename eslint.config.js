import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import boundaries from 'eslint-plugin-boundaries';
import { layering } from './.ci/layering.js';
import { tableOwnership } from './.ci/table-ownership.js';

export default tseslint.config(
  { ignores: ['node_modules/', 'web/dist/', 'scratch/', '.retrace-data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'error',
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly' } },
  },
  {
    // Test helpers read untyped JSON bodies.
    files: ['**/*.test.ts', 'src/test-support/**', 'web/tests/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  layering(boundaries),
  {
    // Who owns which table, in the SQL (.ci/table-ownership.js).
    files: ['src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    plugins: { retrace: { rules: { 'table-ownership': tableOwnership } } },
    rules: { 'retrace/table-ownership': 'error' },
  },
);
