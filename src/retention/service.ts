import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import type { ChangeContext, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { batchOf, byKeys } from '../db/keys.js';
import { recordAudit } from '../audit/service.js';
import { destroyBackupKeys, rewriteStaleKeyrings } from '../backups/service.js';
import { forgetPrimaryContacts } from '../deals/service.js';

const purgeBatchSize = 2000;

interface DueContact {
  workspace_id: string;
  id: string;
  status: 'deleted' | 'archived';
}

/**
 * Purges for good the contacts past retention: deleted ones `deletedDays` after deletion
 * (seed 002: 30 days), archived ones `archiveDays` after archiving (seed 004: a year).
 * Returns how many were purged.
 */
export async function purgeExpiredContacts(ctx: AppContext, workspaceId: string | null): Promise<number> {
  let purged = 0;
  for (const ws of await workspacesToPurge(ctx, workspaceId)) {
    for (;;) {
      const now = ctx.clock.now();
      const due = await dueContacts(ctx, ws, now);
      if (due.length === 0) break;
      const change: ChangeContext = { workspaceId: ws.id, actorId: null, origin: 'system', at: now };
      await inTransaction(ctx.db, change, async (tx) => {
        await removeContactsForGood(tx, change, due.map((c) => c.id), 'purged');
        await recordAudit(
          tx,
          change,
          ...due.map((c) => ({ action: 'contact.purged', targetType: 'contact', targetId: c.id, details: { after: c.status } })),
        );
      });
      // Before the pass goes on: the purged contacts' keys must leave the keyring file.
      await rewriteStaleKeyrings(ctx, ws.id);
      purged += due.length;
    }
  }
  return purged;
}

export interface PurgedWorkspace {
  id: string;
  deleted_days: number;
  archive_days: number;
}

/** The workspace (or every one) with its retention days, for a purge. */
export async function workspacesToPurge(ctx: AppContext, workspaceId: string | null): Promise<PurgedWorkspace[]> {
  const { rows } = await sql<PurgedWorkspace>`
    SELECT id, deleted_days, archive_days FROM workspaces WHERE (${workspaceId}::text IS NULL OR id = ${workspaceId}) ORDER BY id`.execute(ctx.db);
  return rows;
}

/**
 * The workspace's next contacts past retention, oldest first: each of the two kinds read
 * down its own partial index (contacts_deleted, contacts_archived) from its oldest, so a
 * batch reads what it purges, however many contacts are still within retention.
 */
async function dueContacts(ctx: AppContext, ws: PurgedWorkspace, now: Date): Promise<DueContact[]> {
  const deletedBefore = new Date(now.getTime() - ws.deleted_days * 86_400_000);
  const archivedBefore = new Date(now.getTime() - ws.archive_days * 86_400_000);
  const { rows } = await sql<DueContact>`
    (SELECT c.workspace_id, c.id, c.status FROM contacts c
     WHERE c.workspace_id = ${ws.id} AND c.status = 'deleted' AND c.deleted_at <= ${deletedBefore}
     ORDER BY c.deleted_at LIMIT ${purgeBatchSize})
    UNION ALL
    (SELECT c.workspace_id, c.id, c.status FROM contacts c
     WHERE c.workspace_id = ${ws.id} AND c.status = 'archived' AND c.archived_at <= ${archivedBefore}
     ORDER BY c.archived_at LIMIT ${purgeBatchSize})
    LIMIT ${purgeBatchSize}`.execute(ctx.db);
  return rows;
}

/**
 * Removes contacts for good (retention purge, or erasure): their rows, what remains of
 * their associations, their enrollments and messages, and every history row about them
 * (the delete's own capture included), and any unfinished rollback's plan for them (so it
 * cannot write them back), and their backup data keys (crypto-shredding: every backup
 * already written holds them sealed with those keys), leaving a tombstone without personal
 * data. After the commit, the caller rewrites the workspace's keyring
 * (rewriteStaleKeyrings) before it reports success.
 */
export async function removeContactsForGood(tx: Tx, change: ChangeContext, ids: string[], reason: 'purged' | 'erased'): Promise<void> {
  const ws = change.workspaceId;
  await sql`SELECT set_config('retrace.history_maintenance', 'on', true)`.execute(tx);
  for (const table of ['list_memberships', 'account_contacts', 'deal_contacts', 'contact_tags', 'enrollments', 'messages', 'rollback_targets', 'rollback_skips']) {
    await byKeys(tx, sql`DELETE FROM ${sql.table(table)} t USING ${batchOf(ws, ids)} WHERE t.workspace_id = k.workspace_id AND t.contact_id = k.key`);
  }
  await destroyBackupKeys(tx, ws, ids);
  // A deal it left (deleted with it, or before) names nobody who is gone.
  await forgetPrimaryContacts(tx, ws, ids);
  await byKeys(tx, sql`DELETE FROM contacts c USING ${batchOf(ws, ids)} WHERE c.workspace_id = k.workspace_id AND c.id = k.key`);
  // Each id found by contact_history's hash index on id.
  await byKeys(tx, sql`DELETE FROM contact_history h USING ${batchOf(ws, ids)} WHERE h.id = k.key AND h.workspace_id = k.workspace_id`);
  await byKeys(tx, sql`DELETE FROM history_entries h USING ${batchOf(ws, ids)} WHERE h.workspace_id = k.workspace_id AND h.contact_id = k.key`);
  await sql`
    INSERT INTO contact_tombstones (workspace_id, contact_id, reason, at)
    SELECT ${ws}, id, ${reason}, ${change.at} FROM unnest(${ids}::text[]) AS id
    ON CONFLICT (workspace_id, contact_id) DO UPDATE SET reason = EXCLUDED.reason, at = EXCLUDED.at`.execute(tx);
}
