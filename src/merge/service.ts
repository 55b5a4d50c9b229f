import { sql } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { batchOf, byKeys } from '../db/keys.js';
import { invalidRequest, invalidState, notFound } from '../http/errors.js';
import { recordAudit } from '../audit/service.js';
import { detachContacts, getContact, type Contact } from '../contacts/service.js';
import { nameThisChangeSet } from '../changes/service.js';
import { handOverPrimaryContact } from '../deals/service.js';

/**
 * Gives the survivor the merged contacts' lists, tags, accounts and deals (those of lists,
 * accounts, tags and deals since deleted move too, and stay out of sight with them). Where the
 * survivor already has one, its own wins (its status on a list, its job title); on lists
 * the merged contacts share, a subscribed status wins over the others. Where a merged
 * contact was a deal's primary, the survivor becomes primary.
 */
async function moveAssociations(tx: Tx, ws: string, survivorId: string, mergedIds: string[], at: Date): Promise<void> {
  await byKeys(tx, sql`
    INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    SELECT DISTINCT ON (m.list_id) ${ws}, m.list_id, ${survivorId}, m.status, m.created_at, ${at}
    FROM ${batchOf(ws, mergedIds)} JOIN list_memberships m ON m.workspace_id = k.workspace_id AND m.contact_id = k.key
    ORDER BY m.list_id, (m.status = 'subscribed') DESC, m.created_at
    ON CONFLICT DO NOTHING`);
  await byKeys(tx, sql`
    INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
    SELECT DISTINCT ON (t.tag_id) ${ws}, ${survivorId}, t.tag_id, t.created_at
    FROM ${batchOf(ws, mergedIds)} JOIN contact_tags t ON t.workspace_id = k.workspace_id AND t.contact_id = k.key
    ORDER BY t.tag_id, t.created_at
    ON CONFLICT DO NOTHING`);
  await byKeys(tx, sql`
    INSERT INTO account_contacts (workspace_id, account_id, contact_id, job_title, created_at)
    SELECT DISTINCT ON (a.account_id) ${ws}, a.account_id, ${survivorId}, a.job_title, a.created_at
    FROM ${batchOf(ws, mergedIds)} JOIN account_contacts a ON a.workspace_id = k.workspace_id AND a.contact_id = k.key
    ORDER BY a.account_id, a.created_at
    ON CONFLICT DO NOTHING`);
  await byKeys(tx, sql`
    INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_at)
    SELECT DISTINCT ${ws}, d.deal_id, ${survivorId}, ${at}::timestamptz
    FROM ${batchOf(ws, mergedIds)} JOIN deal_contacts d ON d.workspace_id = k.workspace_id AND d.contact_id = k.key
    ON CONFLICT DO NOTHING`);
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
    const { rows } = await byKeys(tx, sql<{ id: string; status: string }>`
      SELECT c.id, c.status FROM ${batchOf(ws, [survivorId, ...merged])} JOIN contacts c ON c.workspace_id = k.workspace_id AND c.id = k.key
      ORDER BY c.id FOR UPDATE OF c`);
    const statusOf = new Map(rows.map((r) => [r.id, r.status]));
    const missing = [survivorId, ...merged].find((id) => !statusOf.has(id));
    if (missing) throw notFound(`Contact ${missing}`);
    if (statusOf.get(survivorId) !== 'active') throw invalidState('The survivor must be an active contact', { contactId: survivorId, status: statusOf.get(survivorId) });
    const unmergeable = merged.find((id) => !['active', 'archived'].includes(statusOf.get(id) ?? ''));
    if (unmergeable) throw invalidState('Only active or archived contacts can be merged', { contactId: unmergeable, status: statusOf.get(unmergeable) });

    // An archived contact's associations, set aside while it is away, move as an active
    // one's do: the survivor gains every merged contact's lists, tags, accounts and deals.
    await moveAssociations(tx, ws, survivorId, merged, change.at);
    await byKeys(tx, sql`
      UPDATE contacts c SET status = 'merged', merged_into = ${survivorId}, merged_at = ${change.at}, updated_at = ${change.at}
      FROM ${batchOf(ws, merged)} WHERE c.workspace_id = k.workspace_id AND c.id = k.key`);
    await detachContacts(tx, change, merged, false);
    const entries = await recordAudit(tx, change, ...merged.map((id) => ({ action: 'contact.merged', targetType: 'contact', targetId: id, details: { survivorId } })));
    // The merge is a cause of its own, named by its first contact.merged entry: its undo
    // (unmerge) is asked for by that id (API.md: `{mergeId}`).
    await nameThisChangeSet(tx, ws, { kind: 'merge', id: entries[0] });
    return getContact(tx, ws, survivorId);
  });
}
