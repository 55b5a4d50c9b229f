import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { connectPostgres, migrate, type Database } from './database.js';
import { createRunDatabase } from '../test-support/harness.js';

// Only a run against a Citus coordinator includes this file (vitest.config.ts).

let database: Database | undefined;
afterAll(async () => {
  await database?.close();
});

describe('migrations on Citus', () => {
  it('applies files that come after the tables were distributed, one statement at a time', async () => {
    const runUrl = process.env.RETRACE_TEST_DATABASE;
    if (!runUrl) throw new Error('a Citus run sets RETRACE_TEST_DATABASE');
    database = await connectPostgres(await createRunDatabase(runUrl, `late_${process.env.VITEST_POOL_ID ?? process.pid}`), 2);
    // Distributed after 100, as a deployment that ran it before 110 and 111 existed.
    await migrate(database, { through: '100_capture_through_arrays.sql' });
    const { rows: before } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_dist_partition`.execute(database.db);
    expect(before[0].n).toBeGreaterThan(40);
    const applied = await migrate(database);
    expect(applied).toContain('110_txid_from_the_coordinator.sql');
    expect(applied).toContain('111_orders_survive_shard_moves.sql');
    const { rows: txid } = await sql<{ d: string }>`
      SELECT pg_get_expr(d.adbin, d.adrelid) AS d FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE d.adrelid = 'contact_history'::regclass AND a.attname = 'txid'`.execute(database.db);
    expect(txid[0].d).toBe('retrace_txid()');
  });
});
