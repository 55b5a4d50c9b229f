import pg from 'pg';
import { defineConfig } from 'vitest/config';

/**
 * Whether TEST_DATABASE_URL is a Citus coordinator: then the run also takes the
 * `*.citus-test.ts` files, which test what only a cluster has (moving a workspace's
 * shards between nodes; issue 20).
 */
async function onCitus(): Promise<boolean> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return false;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ found: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS found");
    return rows[0].found;
  } finally {
    await client.end();
  }
}

// The suite runs on PGlite by default and on a PostgreSQL server when TEST_DATABASE_URL
// is set (a fresh database is created for each run and dropped after it).
export default defineConfig(async () => ({
  test: {
    include: ['src/**/*.test.ts', 'bench/**/*.test.ts', 'web/src/**/*.test.ts', 'web/tests/**/*.test.ts', ...((await onCitus()) ? ['src/**/*.citus-test.ts'] : [])],
    globalSetup: ['src/test-support/global-setup.ts', 'web/tests/build-web.ts'],
    pool: 'forks' as const,
    maxWorkers: 2,
    // One database connection per worker, shared by its test files: opening PGlite
    // takes seconds. Tests isolate themselves by creating their own workspace.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
}));
