import type { AppContext } from '../context.js';
import type { ChangeContext } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { recordAudit } from '../audit/service.js';
import { lockContact } from '../contacts/guards.js';
import { detachContactsFromDeals } from '../deals/service.js';
import { removeContactsForGood } from '../retention/service.js';
import { prepareKeyringRewrite, shredKeysNow } from '../backups/service.js';

/**
 * The right to erasure: the contact goes at once, whatever its status, from live data and
 * from history (so no rollback or snapshot can bring it back), and from exported backups:
 * its data key is destroyed, and the keyring file rewritten before this answers, so no
 * backup opens its rows again. The audit log keeps that it happened, by id only.
 *
 * The keyring is written inside the erasure's transaction, before it commits. A key
 * store that cannot be written (full, read-only, gone) answers 503 key_store_unavailable
 * and the transaction rolls back: the contact is as it was, and the admin tries again.
 * Chosen over completing the erasure and rewriting the keyring later because the erasure
 * promises the person is gone from backups when it answers: a success while their key
 * still opens every backup would be a false one, and a failure after the fact (the 500
 * this replaces) leaves the caller not knowing what happened. A crash between the file's
 * rename and the commit is covered by prepareKeyringRewrite: the maintenance pass then
 * rewrites the keyring from the database, which still holds the key.
 */
export async function eraseContact(ctx: AppContext, change: ChangeContext, contactId: string): Promise<{ id: string; erased: true }> {
  await prepareKeyringRewrite(ctx, change.workspaceId, [contactId]);
  return inTransaction(ctx.db, change, async (tx) => {
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
    await shredKeysNow(ctx, tx, change.workspaceId);
    return { id: contactId, erased: true as const };
  });
}
