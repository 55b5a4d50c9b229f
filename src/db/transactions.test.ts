import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createRunDatabase, testDatabase } from '../test-support/harness.js';
import { withTransaction } from './database.js';
import { inDistributedMode } from './keys.js';
import { sendBeginWithFirstStatement } from './deferred-begin.js';

describe('transactions (withTransaction, inTransaction)', () => {
  it('take back to a savepoint only what was written after it, on either engine', async () => {
    const { db } = await testDatabase();
    const names = await withTransaction(db, async (tx) => {
      await sql`CREATE TEMP TABLE savepoint_probe (name text) ON COMMIT DROP`.execute(tx);
      await sql`INSERT INTO savepoint_probe VALUES ('before')`.execute(tx);
      const point = await tx.savepoint('probe').execute();
      await sql`INSERT INTO savepoint_probe VALUES ('after')`.execute(tx);
      await point.rollbackToSavepoint('probe').execute();
      await sql`INSERT INTO savepoint_probe VALUES ('again')`.execute(tx);
      const kept = await tx.savepoint('kept').execute();
      await sql`INSERT INTO savepoint_probe VALUES ('released')`.execute(tx);
      await kept.releaseSavepoint('kept').execute();
      return (await sql<{ name: string }>`SELECT name FROM savepoint_probe ORDER BY name`.execute(tx)).rows.map((r) => r.name);
    });
    expect(names).toEqual(['again', 'before', 'released']);
  });

  it('commit what fn wrote when it returns and take all of it back when it throws', async () => {
    const { db } = await testDatabase();
    const kept = `kept-${randomUUID()}`;
    const lost = `lost-${randomUUID()}`;
    await withTransaction(db, (tx) => sql`INSERT INTO workspaces (id, name) VALUES (${kept}, 'kept')`.execute(tx));
    await expect(
      withTransaction(db, async (tx) => {
        await sql`INSERT INTO workspaces (id, name) VALUES (${lost}, 'lost')`.execute(tx);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const found = await db.selectFrom('workspaces').select('id').where('id', 'in', [kept, lost]).execute();
    expect(found.map((w) => w.id)).toEqual([kept]);
    await db.deleteFrom('workspaces').where('id', '=', kept).execute();
  });

  it('run a statement without parameters that holds several (the change context\'s SET LOCALs) inside the transaction, on either engine', async () => {
    const { db } = await testDatabase();
    const setting = sql<{ a: string | null; b: string | null }>`SELECT current_setting('retrace.probe_a', true) AS a, current_setting('retrace.probe_b', true) AS b`;
    const inside = await withTransaction(db, async (tx) => {
      await sql.raw(`SET LOCAL retrace.probe_a = 'one'; SET LOCAL retrace.probe_b = 'it''s two'`).execute(tx);
      return (await setting.execute(tx)).rows[0];
    });
    expect(inside).toEqual({ a: 'one', b: "it's two" });
    const after = (await withTransaction(db, (tx) => setting.execute(tx))).rows[0];
    expect([after.a ?? '', after.b ?? '']).toEqual(['', '']);
    const lost = `lost-${randomUUID()}`;
    await expect(
      withTransaction(db, async (tx) => {
        await sql`INSERT INTO workspaces (id, name) VALUES (${lost}, 'lost')`.execute(tx);
        await sql.raw(`SET LOCAL retrace.probe_a = 'one'; SELECT 1 / 0`).execute(tx);
      }),
      // Citus 13.2 reports a statement that fails after a SET LOCAL it sent to a worker in
      // the same query string as the lost connection to that worker; the transaction
      // is rolled back all the same (below).
    ).rejects.toThrow(inDistributedMode() ? /failure on connection marked as essential/ : /division by zero/);
    expect(await db.selectFrom('workspaces').select('id').where('id', '=', lost).execute()).toEqual([]);
  });
});

describe('BEGIN on the server (sendBeginWithFirstStatement)', () => {
  it('travels with the first statement when it has no parameters, goes alone before one that has, and is not sent for a transaction that ran nothing', async () => {
    const { engine } = await testDatabase();
    // PGlite is in the process: there is no round trip to save.
    if (engine !== 'postgres') return;
    const client = new pg.Client({ connectionString: await createRunDatabase(String(process.env.RETRACE_TEST_DATABASE), 'begin_probe') });
    await client.connect();
    try {
      sendBeginWithFirstStatement(client as unknown as pg.PoolClient);
      let roundTrips = 0;
      (client as unknown as { connection: pg.Connection }).connection.on('readyForQuery', () => (roundTrips += 1));
      const trips = async (fn: () => Promise<unknown>) => {
        roundTrips = 0;
        await fn();
        return roundTrips;
      };
      const probe = `SELECT current_setting('retrace.probe_a', true) AS a, txid_current_if_assigned() IS NULL AS no_txid, now() = statement_timestamp() AS began_here`;
      let inside: Record<string, unknown> = {};
      expect(
        await trips(async () => {
          await client.query('begin');
          await client.query(`SET LOCAL retrace.probe_a = 'one'`);
          inside = (await client.query(probe)).rows[0];
          await client.query('commit');
        }),
      ).toBe(3);
      // In the transaction: the setting holds, and now() is the transaction's start, not the statement's.
      expect(inside).toEqual({ a: 'one', no_txid: true, began_here: false });
      expect(
        await trips(async () => {
          await client.query('begin');
          expect((await client.query('SELECT $1::int + 1 AS n', [1])).rows).toEqual([{ n: 2 }]);
          await client.query('rollback');
        }),
      ).toBe(3);
      expect(await trips(async () => expect((await client.query('begin')).command).toBe('BEGIN'))).toBe(0);
      expect(await trips(async () => expect((await client.query('commit')).command).toBe('COMMIT'))).toBe(0);
      expect((await client.query(`SELECT current_setting('retrace.probe_a', true) AS a`)).rows[0].a ?? '').toBe('');
    } finally {
      await client.end();
    }
  });
});
