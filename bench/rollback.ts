import { isDeepStrictEqual } from 'node:util';
import { sql } from 'kysely';
import { systemClock } from '../src/clock.js';
import { readConfig } from '../src/config.js';
import type { AppContext } from '../src/context.js';
import { inTransaction, type Db } from '../src/db/database.js';
import { jobHandlers } from '../src/jobs/handlers.js';
import { runPendingJobs } from '../src/jobs/service.js';
import { silentLogger } from '../src/logger.js';
import { approveRollback, getRollback, previewRollback, requestRollback } from '../src/rollbacks/service.js';
import type { BenchDatabase } from './databases.js';
import { benchWorkspace, fillCrm, restoreShape, type BenchWorkspace, type CrmSize } from './dataset.js';
import { timed } from './timing.js';

export interface RollbackFigures {
  engine: string;
  size: CrmSize;
  /** Contacts changed after the point, and the rows the rollback wrote back. */
  changedContacts: number;
  rowsWritten: number;
  fillMs: number;
  changeMs: number;
  previewMs: number;
  rollbackMs: number;
  batches: number;
}

/** One contact in `changedEvery` is changed after the point (10%). */
const changedEvery = 10;

/**
 * Issue 6: a full rollback of a workspace of `contacts` contacts, where one in ten
 * changed after the point the way a bad import changes them: new names and fields, a
 * list membership's status, a tag removed. Times the preview and the rollback job (plan
 * and every batch, through the real code: request, second admin's approval, the job
 * runner), then checks every changed contact is back as it was.
 */
export async function benchRollback(bench: BenchDatabase, contacts: number): Promise<RollbackFigures> {
  const { db } = bench.database;
  const ws = await benchWorkspace(db, 'Rollback benchmark');
  const fill = await timed(() => fillCrm(db, ws, { ...restoreShape, contacts }));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const at = systemClock.now().toISOString();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const change = await timed(() => badImport(db, ws));
  await sql`ANALYZE`.execute(db);
  if (bench.database.engine === 'postgres') await sql`CHECKPOINT`.execute(db);

  const ctx: AppContext = { database: bench.database, db, clock: systemClock, config: readConfig({}), log: silentLogger, kickJobs: () => {} };
  const scope = { type: 'workspace' as const };
  const preview = await timed(() => previewRollback(ctx, ws.change(), { at, scope }));
  const requested = await requestRollback(ctx, ws.change(), { at, scope });
  await approveRollback(ctx, { ...ws.change(), actorId: 'bench-second-admin' }, requested.id);
  const rollback = await timed(() => runPendingJobs(ctx, jobHandlers, { workspaceId: ws.id }));
  const done = await getRollback(db, ws.id, requested.id);
  if (done.status !== 'succeeded') throw new Error(`rollback ended ${done.status}: ${done.error ?? ''}`);
  if (!isDeepStrictEqual(done.counts, preview.value.counts)) throw new Error('the rollback did not do what the preview said');
  await expectAllBack(db, ws.id);
  const { skipped: _skipped, ...written } = done.counts ?? { skipped: { contacts: 0 } };
  const rowsWritten = Object.values(written as Record<string, Record<string, number>>)
    .flatMap((figures) => Object.values(figures))
    .reduce((a, b) => a + b, 0);
  return {
    engine: bench.version,
    size: fill.value,
    changedContacts: change.value,
    rowsWritten,
    fillMs: fill.ms,
    changeMs: change.ms,
    previewMs: preview.ms,
    rollbackMs: rollback.ms,
    batches: rollback.value,
  };
}

/** Changes one contact in ten after the point, set-based, as an import through the API would. */
async function badImport(db: Db, ws: BenchWorkspace): Promise<number> {
  return inTransaction(db, { ...ws.change(), origin: 'import' }, async (tx) => {
    const changed = sql`SELECT id FROM contacts WHERE workspace_id = ${ws.id} AND email LIKE 'person%' AND hashtext(id) % ${changedEvery} = 0`;
    const { rows } = await sql<{ n: number }>`
      WITH updated AS (
        UPDATE contacts SET first_name = upper(first_name), fields = fields || '{"source": "bad-import"}', updated_at = retrace_now()
        WHERE workspace_id = ${ws.id} AND id IN (${changed}) RETURNING 1)
      SELECT count(*)::int AS n FROM updated`.execute(tx);
    await sql`
      UPDATE list_memberships SET status = 'unsubscribed', updated_at = retrace_now()
      WHERE workspace_id = ${ws.id} AND contact_id IN (${changed}) AND status <> 'unsubscribed'`.execute(tx);
    await sql`
      DELETE FROM contact_tags t USING (
        SELECT DISTINCT ON (contact_id) contact_id, tag_id FROM contact_tags
        WHERE workspace_id = ${ws.id} AND contact_id IN (${changed}) ORDER BY contact_id, tag_id) one
      WHERE t.workspace_id = ${ws.id} AND t.contact_id = one.contact_id AND t.tag_id = one.tag_id`.execute(tx);
    return rows[0].n;
  });
}

/** The figure counts only if nothing of the bad import is left. */
async function expectAllBack(db: Db, workspaceId: string): Promise<void> {
  const { rows } = await sql<{ left: number }>`
    SELECT count(*)::int AS left FROM contacts WHERE workspace_id = ${workspaceId} AND fields->>'source' = 'bad-import'`.execute(db);
  if (rows[0].left !== 0) throw new Error(`${rows[0].left} contacts still carry the bad import`);
}
