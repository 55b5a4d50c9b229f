import { sql } from 'kysely';
import { systemClock } from '../src/clock.js';
import { readConfig } from '../src/config.js';
import type { AppContext } from '../src/context.js';
import type { Db } from '../src/db/database.js';
import { removeContacts } from '../src/held-deletes/service.js';
import { jobHandlers } from '../src/jobs/handlers.js';
import { runPendingJobs } from '../src/jobs/service.js';
import { silentLogger } from '../src/logger.js';
import { getRestoreJob, requestRestore, restoreBatchSize } from '../src/recycle-bin/service.js';
import type { BenchDatabase } from './databases.js';
import { benchWorkspace, fillCrm, peopleIds, restoreShape, type BenchWorkspace, type CrmSize } from './dataset.js';
import { perSecond, timed } from './timing.js';

export interface RestoreFigures {
  engine: string;
  size: CrmSize;
  /** Rows that come back: the contacts and their association rows. */
  rows: number;
  fillMs: number;
  deleteMs: number;
  restoreMs: number;
  batches: number;
  ceilingMs: number;
  /** Restored contacts per second, and the same for the plain copy. */
  restoreRate: number;
  ceilingRate: number;
}

/** The tables a restore writes, with the column naming their contact. */
export const restoredTables = [
  ['contacts', 'id'],
  ['list_memberships', 'contact_id'],
  ['contact_tags', 'contact_id'],
  ['account_contacts', 'contact_id'],
  ['deal_contacts', 'contact_id'],
] as const;

/** Contacts deleted per request, as a bulk delete through the API would send them. */
const deleteBatchSize = 5000;

/**
 * Issue 3: restores `contacts` deleted contacts with their lists, tags, account links and
 * deals through the real job (requestRestore with all, then runPendingJobs), after
 * deleting them through the service the API uses. The ceiling is a plain INSERT … SELECT
 * of the same rows into trigger-less, FK-less copies of the tables (same indexes).
 */
export async function benchRestore(bench: BenchDatabase, contacts: number): Promise<RestoreFigures> {
  const { db } = bench.database;
  const ws = await benchWorkspace(db, 'Restore benchmark');
  const fill = await timed(() => fillCrm(db, ws, { ...restoreShape, contacts }));
  const size = fill.value;
  const ids = await peopleIds(db, ws.id);
  const ceilingMs = await copyCeiling(db, ws.id);

  const deletion = await timed(async () => {
    for (let start = 0; start < ids.length; start += deleteBatchSize) {
      // As the system (no actor): this measures the delete, and the mass-delete guard would
      // hold an actor's second batch of 5,000.
      const { done: deleted } = await removeContacts(db, { ...ws.change(), actorId: null }, 'delete', ids.slice(start, start + deleteBatchSize));
      if (deleted.length !== Math.min(deleteBatchSize, ids.length - start)) throw new Error('the delete skipped contacts');
    }
  });
  await sql`ANALYZE`.execute(db);
  if (bench.database.engine === 'postgres') await sql`CHECKPOINT`.execute(db);

  const restore = await timed(() => restoreAll(bench, ws));
  await expectAllBack(db, ws.id, size);
  return {
    engine: bench.version,
    size,
    rows: contacts + size.listMemberships + size.contactTags + size.accountLinks + size.dealMemberships,
    fillMs: fill.ms,
    deleteMs: deletion.ms,
    restoreMs: restore.ms,
    batches: restore.value,
    ceilingMs,
    restoreRate: perSecond(contacts, restore.ms),
    ceilingRate: perSecond(contacts, ceilingMs),
  };
}

/** Queues "restore all deleted" and runs the job to the end, as the worker would. */
export async function restoreAll(bench: BenchDatabase, ws: BenchWorkspace): Promise<number> {
  const ctx: AppContext = { database: bench.database, db: bench.database.db, clock: systemClock, config: readConfig({}), log: silentLogger, kickJobs: () => {} };
  const job = await requestRestore(ctx, ws.change(), { source: 'deleted', all: true });
  const batches = await runPendingJobs(ctx, jobHandlers, { workspaceId: ws.id });
  const done = await getRestoreJob(ctx.db, ws.id, job.id);
  if (done.status !== 'succeeded' || done.restored !== job.requested) {
    throw new Error(`restore job ended ${done.status}: ${done.restored} of ${job.requested} restored, ${done.error ?? ''}`);
  }
  // The first step fixes the matching contacts (restore all), then a batch per restoreBatchSize.
  if (batches !== 1 + Math.ceil(job.requested / restoreBatchSize)) throw new Error(`restore took ${batches} batches`);
  return batches;
}

/**
 * The ceiling: the people and their association rows copied with one INSERT … SELECT per
 * table, in one transaction, into scratch tables LIKE the real ones (indexes and checks
 * kept; no triggers, no foreign keys). Returns the milliseconds it took.
 */
async function copyCeiling(db: Db, workspaceId: string): Promise<number> {
  const people = sql`SELECT id FROM contacts WHERE workspace_id = ${workspaceId} AND email LIKE 'person%'`;
  for (const [table] of restoredTables) {
    await sql`CREATE TABLE ${sql.table(`bench_copy_${table}`)} (LIKE ${sql.table(table)} INCLUDING ALL)`.execute(db);
  }
  const { ms } = await timed(() =>
    db.transaction().execute(async (tx) => {
      for (const [table, contactColumn] of restoredTables) {
        await sql`
          INSERT INTO ${sql.table(`bench_copy_${table}`)} SELECT * FROM ${sql.table(table)}
          WHERE workspace_id = ${workspaceId} AND ${sql.ref(contactColumn)} IN (${people})`.execute(tx);
      }
    }),
  );
  for (const [table] of restoredTables) await sql`DROP TABLE ${sql.table(`bench_copy_${table}`)}`.execute(db);
  return ms;
}

/**
 * The restore is only a figure if everything came back: every contact active, and every
 * association row there and shown (it belongs to an active contact).
 */
async function expectAllBack(db: Db, workspaceId: string, size: CrmSize): Promise<void> {
  const shown = (table: string) => sql`(SELECT count(*)::int FROM ${sql.table(table)} a
    JOIN contacts c ON c.workspace_id = a.workspace_id AND c.id = a.contact_id AND c.status = 'active'
    WHERE a.workspace_id = ${workspaceId})`;
  const { rows } = await sql<Record<string, number>>`
    SELECT (SELECT count(*)::int FROM contacts WHERE workspace_id = ${workspaceId} AND status = 'active') AS contacts,
           ${shown('list_memberships')} AS list_memberships,
           ${shown('contact_tags')} AS contact_tags,
           ${shown('account_contacts')} AS account_contacts,
           ${shown('deal_contacts')} AS deal_contacts`.execute(db);
  const expected = {
    contacts: size.contacts + size.keepers,
    list_memberships: size.listMemberships,
    contact_tags: size.contactTags,
    account_contacts: size.accountLinks,
    deal_contacts: size.dealMemberships + size.deals,
  };
  if (JSON.stringify(rows[0]) !== JSON.stringify(expected)) {
    throw new Error(`restore incomplete: ${JSON.stringify(rows[0])}, expected ${JSON.stringify(expected)}`);
  }
}
