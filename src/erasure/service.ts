import type { AppContext } from '../context.js';
import type { ChangeContext } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { recordAudit } from '../audit/service.js';
import { lockContact } from '../contacts/guards.js';
import { detachContactsFromDeals } from '../deals/service.js';
import { removeContactsForGood } from '../retention/service.js';
import { rewriteStaleKeyrings } from '../backups/service.js';

/**
 * The right to erasure: the contact goes at once, whatever its status, from live data and
 * from history (so no rollback or snapshot can bring it back), and from exported backups:
 * its data key is destroyed, and the keyring file rewritten before this answers, so no
 * backup opens its rows again. The audit log keeps that it happened, by id only.
 */
export async function eraseContact(ctx: AppContext, change: ChangeContext, contactId: string): Promise<{ id: string; erased: true }> {
  const erased = await inTransaction(ctx.db, change, async (tx) => {
    const status = await lockContact(tx, change.workspaceId, contactId);
    // An active contact leaves its deals by the rule of seed 002 first: its primary role
    // passes on, and a deal it was alone on is deleted. (Others already left them.)
    const dealsDeleted = status === 'active' ? await detachContactsFromDeals(tx, change, [contactId], false) : [];
    await removeContactsForGood(tx, change, [contactId], 'erased');
    await recordAudit(
      tx,
      change,
      { action: 'contact.erased', targetType: 'contact', targetId: contactId },
      ...dealsDeleted.map((id) => ({ action: 'deal.deleted', targetType: 'deal', targetId: id, details: { reason: 'last_contact_erased' } })),
    );
    return { id: contactId, erased: true as const };
  });
  // If this fails, the request fails (the erasure itself is done) and the maintenance
  // pass rewrites the keyring: success is never reported while the key is still readable.
  await rewriteStaleKeyrings(ctx, change.workspaceId);
  return erased;
}
