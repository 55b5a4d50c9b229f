import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import type { ChangeContext, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { recordAudit } from '../audit/service.js';
import { destroyBackupKeys, rewriteStaleKeyrings } from '../backups/service.js';

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
  for (;;) {
    const now = ctx.clock.now();
    const { rows } = await sql<DueContact>`
      SELECT c.workspace_id, c.id, c.status FROM contacts c JOIN workspaces w ON w.id = c.workspace_id
      WHERE (${workspaceId}::text IS NULL OR c.workspace_id = ${workspaceId})
        AND ((c.status = 'deleted' AND c.deleted_at <= ${now}::timestamptz - make_interval(days => w.deleted_days))
          OR (c.status = 'archived' AND c.archived_at <= ${now}::timestamptz - make_interval(days => w.archive_days)))
      ORDER BY c.workspace_id, c.id LIMIT ${purgeBatchSize}`.execute(ctx.db);
    if (rows.length === 0) return purged;
    const byWorkspace = new Map<string, DueContact[]>();
    for (const row of rows) byWorkspace.set(row.workspace_id, [...(byWorkspace.get(row.workspace_id) ?? []), row]);
    for (const [ws, due] of byWorkspace) {
      const change: ChangeContext = { workspaceId: ws, actorId: null, origin: 'system', at: now };
      await inTransaction(ctx.db, change, async (tx) => {
        await removeContactsForGood(tx, change, due.map((c) => c.id), 'purged');
        await recordAudit(
          tx,
          change,
          ...due.map((c) => ({ action: 'contact.purged', targetType: 'contact', targetId: c.id, details: { after: c.status } })),
        );
      });
      // Before the pass goes on: the purged contacts' keys must leave the keyring file.
      await rewriteStaleKeyrings(ctx, ws);
      purged += due.length;
    }
  }
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
  for (const table of ['list_memberships', 'account_contacts', 'deal_contacts', 'contact_tags', 'enrollments', 'messages', 'rollback_targets']) {
    await sql`DELETE FROM ${sql.table(table)} WHERE workspace_id = ${ws} AND contact_id = ANY(${ids}::text[])`.execute(tx);
  }
  await destroyBackupKeys(tx, ws, ids);
  // A deal it left (deleted with it, or before) names nobody who is gone.
  await sql`UPDATE deals SET primary_contact_id = NULL WHERE workspace_id = ${ws} AND primary_contact_id = ANY(${ids}::text[])`.execute(tx);
  await sql`DELETE FROM contacts WHERE workspace_id = ${ws} AND id = ANY(${ids}::text[])`.execute(tx);
  // `IN (SELECT unnest …)`, not `= ANY`: each id is then found by contact_history's hash
  // index, which cannot take a list.
  await sql`DELETE FROM contact_history WHERE workspace_id = ${ws} AND id IN (SELECT unnest(${ids}::text[]))`.execute(tx);
  await sql`DELETE FROM history_entries WHERE workspace_id = ${ws} AND contact_id = ANY(${ids}::text[])`.execute(tx);
  await sql`
    INSERT INTO contact_tombstones (workspace_id, contact_id, reason, at)
    SELECT ${ws}, id, ${reason}, ${change.at} FROM unnest(${ids}::text[]) AS id
    ON CONFLICT (workspace_id, contact_id) DO UPDATE SET reason = EXCLUDED.reason, at = EXCLUDED.at`.execute(tx);
}
