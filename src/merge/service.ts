import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { invalidRequest, invalidState, notFound } from '../http/errors.js';
import { recordAudit } from '../audit/service.js';
import { detachContacts, getContact, lockContactStatuses, markMerged, type Contact } from '../contacts/service.js';
import { nameThisChangeSet } from '../changes/service.js';
import { handOverPrimaryContact, moveDealLinks } from '../deals/service.js';
import { moveMemberships } from '../lists/service.js';
import { moveContactTags } from '../tags/service.js';
import { moveAccountLinks } from '../accounts/service.js';

/**
 * Gives the survivor the merged contacts' lists, tags, accounts and deals (those of lists,
 * accounts, tags and deals since deleted move too, and stay out of sight with them). Where the
 * survivor already has one, its own wins (its status on a list, its job title); on lists
 * the merged contacts share, a subscribed status wins over the others. Where a merged
 * contact was a deal's primary, the survivor becomes primary.
 */
async function moveAssociations(tx: Tx, ws: string, survivorId: string, mergedIds: string[], at: Date): Promise<void> {
  await moveMemberships(tx, ws, mergedIds, survivorId, at);
  await moveContactTags(tx, ws, mergedIds, survivorId);
  await moveAccountLinks(tx, ws, mergedIds, survivorId);
  await moveDealLinks(tx, ws, mergedIds, survivorId, at);
  await handOverPrimaryContact(tx, ws, mergedIds, survivorId, at);
}

/**
 * Merges contacts into a survivor. The merged ones become `merged` with mergedInto and can
 * never be restored (seed 004: once merged, the previous data cannot be restored).
 */
export async function mergeContacts(db: Db, change: ChangeContext, survivorId: string, mergedIds: string[]): Promise<Contact> {
  const merged = [...new Set(mergedIds)];
  if (merged.includes(survivorId)) {
    throw invalidRequest('The survivor cannot be merged into itself', { issues: [{ in: 'body', path: ['mergedIds'], message: 'contains survivorId' }] });
  }
  const ws = change.workspaceId;
  return inTransaction(db, change, async (tx) => {
    const statusOf = await lockContactStatuses(tx, ws, [survivorId, ...merged]);
    const missing = [survivorId, ...merged].find((id) => !statusOf.has(id));
    if (missing) throw notFound(`Contact ${missing}`);
    if (statusOf.get(survivorId) !== 'active') throw invalidState('The survivor must be an active contact', { contactId: survivorId, status: statusOf.get(survivorId) });
    const unmergeable = merged.find((id) => !['active', 'archived'].includes(statusOf.get(id) ?? ''));
    if (unmergeable) throw invalidState('Only active or archived contacts can be merged', { contactId: unmergeable, status: statusOf.get(unmergeable) });

    // An archived contact's associations, set aside while it is away, move as an active
    // one's do: the survivor gains every merged contact's lists, tags, accounts and deals.
    await moveAssociations(tx, ws, survivorId, merged, change.at);
    await markMerged(tx, ws, merged, survivorId, change.at);
    await detachContacts(tx, change, merged, false);
    const entries = await recordAudit(tx, change, ...merged.map((id) => ({ action: 'contact.merged', targetType: 'contact', targetId: id, details: { survivorId } })));
    // The merge is a cause of its own, named by its first contact.merged entry: its undo
    // (unmerge) is asked for by that id (API.md: `{mergeId}`).
    await nameThisChangeSet(tx, ws, { kind: 'merge', id: entries[0] });
    return getContact(tx, ws, survivorId);
  });
}
