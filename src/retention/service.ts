import type { AppContext } from '../context.js';
import type { ChangeContext, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { forgetHistoryOfContacts } from '../history/service.js';
import { recordAudit } from '../audit/service.js';
import { forgetEnrollments } from '../automations/enrollments.js';
import { destroyBackupKeys, rewriteStaleKeyrings } from '../backups/service.js';
import { contactsPastRetention, deleteContactsForGood } from '../contacts/service.js';
import { forgetPrimaryContacts, removeFromAllDeals } from '../deals/service.js';
import { removeFromAllLists } from '../lists/service.js';
import { unlinkFromAllAccounts } from '../accounts/service.js';
import { untagAll } from '../tags/service.js';
import { forgetMessages } from '../messages/service.js';
import { leaveTombstones } from '../recycle-bin/service.js';
import { forgetRollbackPlansOf } from '../rollbacks/service.js';
import { retentionDaysOf, type WorkspaceRetentionDays } from '../workspaces/service.js';

const purgeBatchSize = 2000;

interface DueContact {
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
  for (const ws of await retentionDaysOf(ctx.db, workspaceId)) {
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

/** The workspace's next contacts past retention (deleted ones `deleted_days` after deletion, archived ones `archive_days` after archiving). */
async function dueContacts(ctx: AppContext, ws: WorkspaceRetentionDays, now: Date): Promise<DueContact[]> {
  const before = { deleted: new Date(now.getTime() - ws.deleted_days * 86_400_000), archived: new Date(now.getTime() - ws.archive_days * 86_400_000) };
  return contactsPastRetention(ctx.db, ws.id, before, purgeBatchSize);
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
  await removeFromAllLists(tx, ws, ids);
  await unlinkFromAllAccounts(tx, ws, ids);
  await removeFromAllDeals(tx, ws, ids);
  await untagAll(tx, ws, ids);
  await forgetEnrollments(tx, ws, ids);
  await forgetMessages(tx, ws, ids);
  await forgetRollbackPlansOf(tx, ws, ids);
  await destroyBackupKeys(tx, ws, ids);
  // A deal it left (deleted with it, or before) names nobody who is gone.
  await forgetPrimaryContacts(tx, ws, ids);
  await deleteContactsForGood(tx, ws, ids);
  await forgetHistoryOfContacts(tx, ws, ids);
  await leaveTombstones(tx, ws, ids, reason, change.at);
}
