import { sql } from 'kysely';
import { prepared } from '../db/prepared.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction, violatesUniqueIndex } from '../db/database.js';
import { batchOf, byKeys, lookUp } from '../db/keys.js';
import { emailTaken, invalidState, notFound } from '../http/errors.js';
import { cursorTime, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { insertAuditEntriesFrom, recordAudit } from '../audit/service.js';
import { insertEventsFrom } from '../outbox/service.js';
import { removeFromAllLists } from '../lists/service.js';
import { unlinkFromAllAccounts } from '../accounts/service.js';
import { addTagsToContact, liveTagIdsOf, requireLiveTags, untagAll } from '../tags/service.js';
import { detachContactsFromDeals } from '../deals/service.js';
import { pauseEnrollments } from '../automations/enrollments.js';
import { lockContact, type ContactStatus } from './guards.js';
import { searchContacts } from './search.js';

// Searching contacts by name or email (src/contacts/search.ts) is part of contacts' api.
export { nameOrEmailMatches, searchContacts } from './search.js';
// Many contacts read and written at once (an import's batches, an export's pages).
export { countExported, exportFieldNames, exportPage, insertContactBatch, lockHoldersOfEmails, updateContactBatch } from './bulk.js';
export type { ContactColumns, ExportedContact, ExportFilter } from './bulk.js';

export interface Contact {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  fields: Record<string, unknown>;
  tags: string[];
  createdAt: string;
  updatedAt: string;
  status: ContactStatus;
  deletedAt?: string;
  deletedBy?: string | null;
  archivedAt?: string;
  archivedBy?: string | null;
  mergedInto?: string;
}

export interface ContactRow {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  fields: Record<string, unknown>;
  status: ContactStatus;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  deleted_by: string | null;
  archived_at: Date | null;
  archived_by: string | null;
  merged_into: string | null;
  tag_ids: string[];
}

export function presentContact(r: ContactRow): Contact {
  return {
    id: r.id,
    email: r.email,
    firstName: r.first_name,
    lastName: r.last_name,
    phone: r.phone,
    fields: r.fields,
    tags: r.tag_ids,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    status: r.status,
    ...(r.deleted_at && r.status === 'deleted' ? { deletedAt: r.deleted_at.toISOString(), deletedBy: r.deleted_by } : {}),
    ...(r.archived_at && r.status === 'archived' ? { archivedAt: r.archived_at.toISOString(), archivedBy: r.archived_by } : {}),
    ...(r.merged_into ? { mergedInto: r.merged_into } : {}),
  };
}

const ownColumns = sql`
  c.id, c.email, c.first_name, c.last_name, c.phone, c.fields, c.status, c.created_at, c.updated_at,
  c.deleted_at, c.deleted_by, c.archived_at, c.archived_by, c.merged_into`;

/** The columns of a contact as presented, for `FROM contacts c` of the workspace `workspaceId`. */
export const contactColumns = (workspaceId: string) =>
  sql`${ownColumns}, CASE WHEN c.status = 'active' THEN ${liveTagIdsOf('c', workspaceId)} ELSE '{}' END AS tag_ids`;

export async function getContact(db: Db | Tx, workspaceId: string, contactId: string): Promise<Contact> {
  const { rows } = await sql<ContactRow>`${prepared}
    SELECT ${contactColumns(workspaceId)} FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.id = ${contactId}`.execute(db);
  if (!rows[0]) throw notFound('Contact');
  return presentContact(rows[0]);
}


export interface ContactQuery {
  q?: string;
  status: ContactStatus;
  limit: number;
  cursor?: string;
}

/** Contacts of one status, newest first. */
export async function listContacts(db: Db, workspaceId: string, query: ContactQuery): Promise<Page<Contact>> {
  const after = decodeCursor(query.cursor, ['timestamp', 'text']);
  const rows = await searchContacts<ContactRow & { created_key: string }>(db, {
    workspaceId,
    q: query.q,
    columns: sql`${contactColumns(workspaceId)}, ${cursorTime('c.created_at')} AS created_key`,
    // After the cursor as a plain row comparison, so that the index starts there.
    scope: sql`c.status = ${query.status}
      AND ${after ? sql`(c.created_at, c.id) < (${after[0]}::timestamptz, ${after[1]}::text)` : sql`true`}`,
    order: sql`c.created_at DESC, c.id DESC`,
    limit: query.limit + 1,
  });
  return toPage(rows, query.limit, (r) => [r.created_key, r.id], presentContact);
}

/**
 * The active or archived contact holding this email, if any. In a transaction it first
 * takes a lock on the email until commit, so concurrent claims of one email take turns:
 * the second sees the first's contact (409 email_taken) instead of failing on the
 * unique index.
 */
export async function findHolderOfEmail(tx: Tx | Db, workspaceId: string, email: string): Promise<{ id: string; status: ContactStatus } | null> {
  await sql`${prepared}SELECT pg_advisory_xact_lock(hashtextextended(${workspaceId} || ':' || lower(${email}), 0))`.execute(tx);
  return holderOfEmail(tx, workspaceId, email);
}

/** Whether a contact holds the email: the condition of the unique index contacts_email_held. */
const holdsEmail = (workspaceId: string, email: string) => sql`
  workspace_id = ${workspaceId} AND lower(email) = lower(${email}) AND status IN ('active', 'archived')`;

async function holderOfEmail(tx: Tx | Db, workspaceId: string, email: string): Promise<{ id: string; status: ContactStatus } | null> {
  const { rows } = await sql<{ id: string; status: ContactStatus }>`${prepared}
    SELECT id, status FROM contacts WHERE ${holdsEmail(workspaceId, email)}`.execute(tx);
  return rows[0] ?? null;
}

export interface NewContact {
  email: string;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  fields?: Record<string, unknown>;
  tags?: string[];
}

/**
 * Creates a contact inside tx (forms reuse it); a contact.created event follows, and with
 * `audited` its contact.created audit entry. Gives the row as written, so that a caller
 * need not read it back; its tags are what it was given.
 */
export async function insertContact(tx: Tx, change: ChangeContext, input: NewContact, { audited = false } = {}): Promise<Contact> {
  const row = (await insertIfEmailFree(tx, change, input, audited)) ?? (await insertIfEmailFree(tx, change, input, audited));
  if (!row) throw new Error('the email was held and let go twice while one contact was created');
  // After the email's check, as before it: a taken email is the answer even with unknown tags.
  const tags = [...new Set(input.tags ?? [])];
  await requireLiveTags(tx, change.workspaceId, tags);
  await addTagsToContact(tx, change, row.id, tags);
  // The RETURNING saw no tags yet: only a contact given some is read again for them (in
  // their order, as every read gives them).
  return tags.length === 0 ? presentContact(row) : getContact(tx, change.workspaceId, row.id);
}

/**
 * The new contact's row; 409 email_taken when another holds the email; null when the one
 * that stopped the INSERT let the email go before it could be named (deleted or merged
 * just then), so that the caller tries once more.
 *
 * The hottest write of all, in one statement: the INSERT checks the email itself, without
 * the email lock of findHolderOfEmail, and its event and audit entry are written by the
 * same statement. A create that races another claim of the email is still answered
 * exactly: the unique index makes it wait for the other and then refuses it, and
 * createContact's retry sees the holder.
 */
async function insertIfEmailFree(tx: Tx, change: ChangeContext, input: NewContact, audited: boolean): Promise<ContactRow | null> {
  const { rows } = await sql<ContactRow>`${prepared}
    WITH c AS (
      INSERT INTO contacts (workspace_id, email, first_name, last_name, phone, fields, created_at, updated_at)
      SELECT ${change.workspaceId}::text, ${input.email}::text, ${input.firstName ?? null}::text, ${input.lastName ?? null}::text,
             ${input.phone ?? null}::text, ${JSON.stringify(input.fields ?? {})}::jsonb, ${change.at}::timestamptz, ${change.at}::timestamptz
      WHERE NOT EXISTS (SELECT FROM contacts WHERE ${holdsEmail(change.workspaceId, input.email)})
      RETURNING *),
    event AS (${insertEventsFrom(change, sql`SELECT jsonb_build_object('type', 'contact.created', 'contactId', c.id) AS payload FROM c`)})
    ${audited ? sql`, audit AS (${insertAuditEntriesFrom(change, sql`SELECT 'contact.created' AS action, 'contact' AS target_type, c.id AS target_id, '{}'::jsonb AS details FROM c`)})` : sql``}
    -- a contact made by this statement has no tags yet (nor could a subquery here see
    -- them); Citus refuses a correlated subquery over a CTE, so none is asked
    SELECT ${ownColumns}, '{}'::text[] AS tag_ids FROM c`.execute(tx);
  if (rows[0]) return rows[0];
  const holder = await holderOfEmail(tx, change.workspaceId, input.email);
  if (holder) throw emailTaken(holder.id);
  return null;
}

/** The unique email index refused a write: another contact holds the email now. */
export const isEmailHeldViolation = (error: unknown) => violatesUniqueIndex(error, 'contacts_email_held');

/**
 * A restore or rollback gives contacts their emails back without the per-email lock (a
 * batch would take thousands), so a write that checked an email while one was coming
 * back can meet it on the unique index. Tried once more, the check sees the holder and
 * the answer is 409 email_taken naming it.
 */
async function againIfEmailTakenMeanwhile<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isEmailHeldViolation(error)) throw error;
    return write();
  }
}

export async function createContact(db: Db, change: ChangeContext, input: NewContact): Promise<Contact> {
  return againIfEmailTakenMeanwhile(() =>
    inTransaction(db, change, async (tx) => {
      return insertContact(tx, change, input, { audited: true });
    }),
  );
}

export interface ContactPatch {
  email?: string;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  fields?: Record<string, unknown>;
}

/** Updates the given fields of an active contact, inside tx. */
export async function applyContactPatch(tx: Tx, change: ChangeContext, contactId: string, patch: ContactPatch): Promise<string[]> {
  const status = await lockContact(tx, change.workspaceId, contactId);
  if (status !== 'active') throw invalidState(`Only active contacts can be changed; this one is ${status}`, { status });
  if (patch.email !== undefined) {
    const holder = await findHolderOfEmail(tx, change.workspaceId, patch.email);
    if (holder && holder.id !== contactId) throw emailTaken(holder.id);
  }
  const changed = Object.keys(patch).filter((k) => patch[k as keyof ContactPatch] !== undefined);
  await sql`
    UPDATE contacts SET
      email = coalesce(${patch.email ?? null}, email),
      first_name = CASE WHEN ${patch.firstName !== undefined} THEN ${patch.firstName ?? null} ELSE first_name END,
      last_name = CASE WHEN ${patch.lastName !== undefined} THEN ${patch.lastName ?? null} ELSE last_name END,
      phone = CASE WHEN ${patch.phone !== undefined} THEN ${patch.phone ?? null} ELSE phone END,
      fields = CASE WHEN ${patch.fields !== undefined} THEN ${JSON.stringify(patch.fields ?? {})}::jsonb ELSE fields END,
      updated_at = ${change.at}
    WHERE workspace_id = ${change.workspaceId} AND id = ${contactId}`.execute(tx);
  return changed;
}

export async function updateContact(db: Db, change: ChangeContext, contactId: string, patch: ContactPatch): Promise<Contact> {
  return againIfEmailTakenMeanwhile(() =>
    inTransaction(db, change, async (tx) => {
      const changed = await applyContactPatch(tx, change, contactId, patch);
      await recordAudit(tx, change, { action: 'contact.updated', targetType: 'contact', targetId: contactId, details: { fields: changed } });
      return getContact(tx, change.workspaceId, contactId);
    }),
  );
}

/**
 * Takes contacts out of the live data: off every list, account, tag and deal (by the
 * deal rule of seed 002), automations paused. A deleted or archived contact keeps its
 * association rows (`keepRows`), set aside: reads show only active contacts'
 * associations, and a restore brings them back with the contact. A merged contact's rows
 * are removed (history keeps them).
 */
export async function detachContacts(tx: Tx, change: ChangeContext, contactIds: string[], keepRows: boolean): Promise<{ dealsDeleted: string[] }> {
  if (!keepRows) {
    await removeFromAllLists(tx, change.workspaceId, contactIds);
    await unlinkFromAllAccounts(tx, change.workspaceId, contactIds);
    await untagAll(tx, change.workspaceId, contactIds);
  }
  const dealsDeleted = await detachContactsFromDeals(tx, change, contactIds, keepRows);
  await pauseEnrollments(tx, change.workspaceId, contactIds, change.at);
  return { dealsDeleted };
}

export interface Skipped {
  contactId: string;
  reason: string;
}

/** What takes contacts out of the live data: to the recycle bin, or to the archive. */
export type Removal = 'delete' | 'archive';

/** The statuses a removal takes contacts from: a delete takes archived ones too. */
const removableStatuses: Record<Removal, ContactStatus[]> = { delete: ['active', 'archived'], archive: ['active'] };

/** The status of each of these contacts that exists, locked in id order until the transaction ends. */
export async function lockContactStatuses(tx: Tx, workspaceId: string, ids: string[]): Promise<Map<string, ContactStatus>> {
  const { rows } = await byKeys(tx, sql<{ id: string; status: ContactStatus }>`
    SELECT c.id, c.status FROM ${batchOf(workspaceId, ids)} JOIN contacts c ON c.workspace_id = k.workspace_id AND c.id = k.key
    ORDER BY c.id FOR UPDATE OF c`);
  return new Map(rows.map((r) => [r.id, r.status]));
}

/**
 * Sorts ids (each once) into the contacts the removal would take, locked until the
 * transaction ends, and the rest with why (`not_found`, or the status that prevents it).
 */
export async function lockRemovable(tx: Tx, workspaceId: string, removal: Removal, ids: string[]): Promise<{ eligible: string[]; skipped: Skipped[] }> {
  const allowed = removableStatuses[removal];
  const statusOf = await lockContactStatuses(tx, workspaceId, ids);
  const eligible: string[] = [];
  const skipped: Skipped[] = [];
  for (const id of ids) {
    const status = statusOf.get(id);
    if (status === undefined) skipped.push({ contactId: id, reason: 'not_found' });
    else if (allowed.includes(status)) eligible.push(id);
    else skipped.push({ contactId: id, reason: status });
  }
  return { eligible, skipped };
}

/**
 * Deletes (to the recycle bin, active or archived ones) or archives (active ones) the
 * contacts lockRemovable found eligible, in tx: with who (the change's actor) and when,
 * off every list, account, tag and deal. `auditDetails` go into each contact's audit entry.
 */
export async function applyRemoval(tx: Tx, change: ChangeContext, removal: Removal, eligible: string[], auditDetails: Record<string, unknown> = {}): Promise<void> {
  if (eligible.length === 0) return;
  const marks =
    removal === 'delete'
      ? sql`status = 'deleted', deleted_at = ${change.at}, deleted_by = ${change.actorId}`
      : sql`status = 'archived', archived_at = ${change.at}, archived_by = ${change.actorId}`;
  await byKeys(tx, sql`
    UPDATE contacts c SET ${marks}, updated_at = ${change.at}
    FROM ${batchOf(change.workspaceId, eligible)} WHERE c.workspace_id = k.workspace_id AND c.id = k.key`);
  const { dealsDeleted } = await detachContacts(tx, change, eligible, true);
  const action = removal === 'delete' ? 'contact.deleted' : 'contact.archived';
  const reason = removal === 'delete' ? 'last_contact_deleted' : 'last_contact_archived';
  await recordAudit(
    tx,
    change,
    ...eligible.map((id) => ({ action, targetType: 'contact', targetId: id, details: auditDetails })),
    ...dealsDeleted.map((id) => ({ action: 'deal.deleted', targetType: 'deal', targetId: id, details: { reason } })),
  );
}

/** A merge: the contacts become `merged` into the survivor (seed 004: never to be restored). */
export async function markMerged(tx: Tx, workspaceId: string, ids: string[], survivorId: string, at: Date): Promise<void> {
  await byKeys(tx, sql`
    UPDATE contacts c SET status = 'merged', merged_into = ${survivorId}, merged_at = ${at}, updated_at = ${at}
    FROM ${batchOf(workspaceId, ids)} WHERE c.workspace_id = k.workspace_id AND c.id = k.key`);
}

/**
 * The workspace's next contacts past retention, oldest first, at most `limit`: deleted ones
 * deleted at or before `deletedBefore`, archived ones archived at or before
 * `archivedBefore`. Each kind is read down its own partial index (contacts_deleted,
 * contacts_archived) from its oldest, so a batch reads what it purges, however many
 * contacts are still within retention.
 */
export async function contactsPastRetention(
  db: Db | Tx,
  workspaceId: string,
  before: { deleted: Date; archived: Date },
  limit: number,
): Promise<{ id: string; status: 'deleted' | 'archived' }[]> {
  const { rows } = await sql<{ id: string; status: 'deleted' | 'archived' }>`
    (SELECT c.workspace_id, c.id, c.status FROM contacts c
     WHERE c.workspace_id = ${workspaceId} AND c.status = 'deleted' AND c.deleted_at <= ${before.deleted}
     ORDER BY c.deleted_at LIMIT ${limit})
    UNION ALL
    (SELECT c.workspace_id, c.id, c.status FROM contacts c
     WHERE c.workspace_id = ${workspaceId} AND c.status = 'archived' AND c.archived_at <= ${before.archived}
     ORDER BY c.archived_at LIMIT ${limit})
    LIMIT ${limit}`.execute(db);
  return rows;
}

/** Contacts gone for good (purged, erased): their rows deleted (their associations went first). */
export async function deleteContactsForGood(tx: Tx, workspaceId: string, ids: string[]): Promise<void> {
  await byKeys(tx, sql`DELETE FROM contacts c USING ${batchOf(workspaceId, ids)} WHERE c.workspace_id = k.workspace_id AND c.id = k.key`);
}

export interface ContactToRestore {
  id: string;
  status: ContactStatus;
  archived_at: Date | null;
  email: string | null;
  /** The other active or archived contact now holding its email, if any. */
  taken_by: string | null;
}

/** Of these ids, the contacts that exist, locked, each with the other contact now holding its email (a restore's candidates). */
export async function lockContactsToRestore(tx: Tx, workspaceId: string, ids: string[]): Promise<ContactToRestore[]> {
  const { rows } = await sql<ContactToRestore>`
    SELECT c.id, c.status, c.archived_at, c.email,
           (SELECT o.id FROM contacts o
            WHERE o.workspace_id = ${workspaceId} AND lower(o.email) = lower(c.email) AND o.status IN ('active', 'archived') AND o.id <> c.id
            LIMIT 1) AS taken_by
    FROM ${batchOf(workspaceId, ids)} JOIN contacts c ON c.workspace_id = k.workspace_id AND c.id = k.key
    FOR UPDATE OF c`.execute(tx);
  return rows;
}

/** A restore: back to active, with the original created date and the associations they kept; the recycle-bin and archive marks cleared. */
export async function reactivateContacts(tx: Tx, workspaceId: string, ids: string[], at: Date): Promise<void> {
  await byKeys(tx, sql`
    UPDATE contacts c SET status = 'active', deleted_at = NULL, deleted_by = NULL, archived_at = NULL, archived_by = NULL, updated_at = ${at}
    FROM ${batchOf(workspaceId, ids)} WHERE c.workspace_id = k.workspace_id AND c.id = k.key`);
}

/** How many of the workspace's contacts are active (its active contact limit counts them). */
export async function countActiveContacts(db: Db | Tx, workspaceId: string): Promise<number> {
  const { active } = await db
    .selectFrom('contacts')
    .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('active'))
    .where('workspace_id', '=', workspaceId)
    .where('status', '=', 'active')
    .executeTakeFirstOrThrow();
  return active;
}

/**
 * The answer of `DELETE /contacts/:id` and `POST /contacts/:id/archive`: the contact as it
 * now is, or 404 when it does not exist, 409 invalid_state when its status prevented it.
 */
export async function removedContact(db: Db, workspaceId: string, removal: Removal, contactId: string, outcome: { done: string[]; skipped: Skipped[] }): Promise<Contact> {
  if (outcome.done.length === 0) {
    const reason = outcome.skipped[0]?.reason;
    if (reason === 'not_found') throw notFound('Contact');
    const message = removal === 'delete' ? `The contact is already ${reason}` : `Only active contacts can be archived; this one is ${reason}`;
    throw invalidState(message, { status: reason });
  }
  return getContact(db, workspaceId, contactId);
}

/**
 * How many of the workspace's contacts are active or archived, counted up to `atMost`
 * (the mass-delete guard needs no more than that, and a large workspace is not read whole).
 */
export async function countLiveContacts(tx: Tx, workspaceId: string, atMost: number): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM (
      SELECT 1 FROM contacts WHERE workspace_id = ${workspaceId} AND status IN ('active', 'archived') LIMIT ${atMost}) live`.execute(tx);
  return rows[0].n;
}

/**
 * Of `ids`, the contacts still as `actorId` left them at or after `since`: deleted by it
 * (then or later), or archived by it and not deleted since. Each looked up by key.
 */
export async function stillRemovedBy(tx: Tx, workspaceId: string, ids: string[], actorId: string, since: Date): Promise<{ deleted: string[]; archived: string[] }> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return { deleted: [], archived: [] };
  const { rows } = await byKeys(tx, sql<{ id: string; status: 'deleted' | 'archived' }>`
    SELECT c.id, c.status FROM ${batchOf(workspaceId, unique)} ${lookUp('contacts', 'c', sql`c.workspace_id = k.workspace_id AND c.id = k.key`)}
    WHERE (c.status = 'deleted' AND c.deleted_by = ${actorId} AND c.deleted_at >= ${since})
       OR (c.status = 'archived' AND c.archived_by = ${actorId} AND c.archived_at >= ${since})
    ORDER BY k.n`);
  return { deleted: rows.filter((r) => r.status === 'deleted').map((r) => r.id), archived: rows.filter((r) => r.status === 'archived').map((r) => r.id) };
}

/**
 * Sets one custom field of many active contacts at once (an automation's step); null
 * removes it. Contacts that already hold that value are not written. Returns the contacts
 * changed.
 */
export async function setCustomField(tx: Tx, change: ChangeContext, contactIds: string[], field: string, value: unknown): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const json = value === null ? null : JSON.stringify(value);
  const { rows } = await byKeys(tx, sql<{ id: string }>`
    UPDATE contacts c SET
      fields = CASE WHEN ${json}::jsonb IS NULL THEN c.fields - ${field}::text ELSE c.fields || jsonb_build_object(${field}::text, ${json}::jsonb) END,
      updated_at = ${change.at}
    FROM ${batchOf(change.workspaceId, contactIds)}
    WHERE c.workspace_id = k.workspace_id AND c.id = k.key AND c.status = 'active'
      AND (c.fields -> ${field}::text) IS DISTINCT FROM ${json}::jsonb
    RETURNING c.id`);
  return rows.map((r) => r.id);
}

/** How many contacts the workspace has in each status but merged (its usage, GET /workspace). */
export async function countContactsByStatus(db: Db | Tx, workspaceId: string): Promise<{ active: number; archived: number; deleted: number }> {
  const { rows } = await sql<{ active: number; archived: number; deleted: number }>`
    SELECT count(*) FILTER (WHERE status = 'active')::int AS active,
           count(*) FILTER (WHERE status = 'archived')::int AS archived,
           count(*) FILTER (WHERE status = 'deleted')::int AS deleted
    FROM contacts WHERE workspace_id = ${workspaceId}`.execute(db);
  return rows[0];
}
