import type { ChangeContext, Db } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { recordAudit } from '../audit/service.js';
import { lockContact } from '../contacts/guards.js';
import { removeContactsForGood } from '../retention/service.js';

/**
 * The right to erasure: the contact goes at once, whatever its status, from live data and
 * from history (so no rollback or snapshot can bring it back). The audit log keeps that
 * it happened, by id only.
 */
export async function eraseContact(db: Db, change: ChangeContext, contactId: string): Promise<{ id: string; erased: true }> {
  return inTransaction(db, change, async (tx) => {
    await lockContact(tx, change.workspaceId, contactId);
    await removeContactsForGood(tx, change, [contactId], 'erased');
    await recordAudit(tx, change, { action: 'contact.erased', targetType: 'contact', targetId: contactId });
    return { id: contactId, erased: true as const };
  });
}
