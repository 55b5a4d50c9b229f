import { defineConfig } from 'vitest/config';

// The suite runs on PGlite by default and on a PostgreSQL server when TEST_DATABASE_URL
// is set (a fresh database is created for each run and dropped after it).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'bench/**/*.test.ts', 'web/src/**/*.test.ts', 'web/tests/**/*.test.ts'],
    globalSetup: ['src/test-support/global-setup.ts', 'web/tests/build-web.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // One database connection per worker, shared by its test files: opening PGlite
    // takes seconds. Tests isolate themselves by creating their own workspace.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
