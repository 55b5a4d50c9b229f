import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { testDatabase } from '../test-support/harness.js';
import { withTransaction } from './database.js';

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
});
