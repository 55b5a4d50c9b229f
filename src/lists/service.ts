import { sql } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { renameLive } from '../db/renames.js';
import { batchOf, byKeys, workspaceIn } from '../db/keys.js';
import { dropRowsOfDeletedParent } from '../db/associations.js';
import { notFound } from '../http/errors.js';
import { decodeCursor, pageByTime, toPage, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { emitEvents } from '../outbox/service.js';
import { joinContact, ofActiveContact, requireActiveContact } from '../contacts/guards.js';
import { moveToBin } from '../deleted-objects/bin.js';

export const membershipStatuses = ['subscribed', 'unsubscribed', 'bounced', 'unconfirmed'] as const;
export type MembershipStatus = (typeof membershipStatuses)[number];

export interface List {
  id: string;
  name: string;
  createdAt: string;
  deletedAt: string | null;
  memberCount: number;
}

interface ListRow {
  id: string;
  name: string;
  created_at: Date;
  deleted_at: Date | null;
  member_count: number;
}

const presentList = (r: ListRow): List => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  deletedAt: r.deleted_at?.toISOString() ?? null,
  memberCount: r.member_count,
});

export async function createList(db: Db, change: ChangeContext, name: string): Promise<List> {
  return inTransaction(db, change, async (tx) => {
    const { id } = await tx.insertInto('lists').values({ workspace_id: change.workspaceId, name, created_at: change.at }).returning('id').executeTakeFirstOrThrow();
    await recordAudit(tx, change, { action: 'list.created', targetType: 'list', targetId: id, details: { name } });
    return getList(tx, change.workspaceId, id);
  });
}

export async function getList(db: Db | Tx, workspaceId: string, listId: string): Promise<List> {
  const { rows } = await sql<ListRow>`
    SELECT l.id, l.name, l.created_at, l.deleted_at,
           (SELECT count(*)::int FROM list_memberships m WHERE m.workspace_id = ${workspaceIn('l', workspaceId)} AND m.list_id = l.id AND ${ofActiveContact('m', workspaceId)}) AS member_count
    FROM lists l WHERE l.workspace_id = ${workspaceId} AND l.id = ${listId}`.execute(db);
  if (!rows[0]) throw notFound('List');
  return presentList(rows[0]);
}

export async function listLists(db: Db, workspaceId: string, request: PageRequest): Promise<Page<List>> {
  const paging = pageByTime(request, 'l.created_at', 'l.id');
  const { rows } = await sql<ListRow & { page_time: string }>`
    SELECT l.id, l.name, l.created_at, l.deleted_at, count(m.contact_id)::int AS member_count, ${paging.pageTime}
    FROM lists l LEFT JOIN list_memberships m ON m.workspace_id = l.workspace_id AND m.list_id = l.id AND ${ofActiveContact('m', workspaceId)}
    WHERE l.workspace_id = ${workspaceId} AND l.deleted_at IS NULL AND ${paging.pastCursor}
    GROUP BY l.workspace_id, l.id ORDER BY l.created_at, l.id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.id, presentList);
}

/** Lists are soft-deleted: they keep their memberships, which come back with them from the bin (GET /deleted-objects). */
export async function deleteList(db: Db, change: ChangeContext, listId: string): Promise<void> {
  await inTransaction(db, change, (tx) => moveToBin(tx, change, 'list', listId));
}

/** Renames a live list (a deleted one is 409 invalid_state, as PATCH /contacts answers for a deleted contact). */
export async function renameList(db: Db, change: ChangeContext, listId: string, name: string): Promise<List> {
  return inTransaction(db, change, async (tx) => {
    const from = await renameLive(tx, change, 'lists', listId, 'List', name);
    if (from !== null) await recordAudit(tx, change, { action: 'list.renamed', targetType: 'list', targetId: listId, details: { from, to: name } });
    return getList(tx, change.workspaceId, listId);
  });
}

async function requireLiveList(tx: Tx, workspaceId: string, listId: string): Promise<void> {
  const live = await tx.selectFrom('lists').select('id').where('workspace_id', '=', workspaceId).where('id', '=', listId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!live) throw notFound('List');
}

/**
 * Sets a contact's status on a list, adding the membership if needed. A membership that
 * becomes subscribed is a list.subscribed event.
 */
export async function setMembership(
  tx: Tx,
  change: ChangeContext,
  listId: string,
  contactId: string,
  status: MembershipStatus,
): Promise<{ listId: string; contactId: string; status: MembershipStatus }> {
  await requireLiveList(tx, change.workspaceId, listId);
  await requireActiveContact(tx, change.workspaceId, contactId);
  const before = await tx
    .selectFrom('list_memberships')
    .select('status')
    .where('workspace_id', '=', change.workspaceId)
    .where('list_id', '=', listId)
    .where('contact_id', '=', contactId)
    .executeTakeFirst();
  const previous = before?.status ?? null;
  if (previous === status) return { listId, contactId, status };
  await tx
    .insertInto('list_memberships')
    .values({ workspace_id: change.workspaceId, list_id: listId, contact_id: contactId, status, created_at: change.at, updated_at: change.at })
    .onConflict((oc) => oc.columns(['workspace_id', 'list_id', 'contact_id']).doUpdateSet((eb) => ({ status: eb.ref('excluded.status'), updated_at: eb.ref('excluded.updated_at') })))
    .execute();
  if (status === 'subscribed') await emitEvents(tx, change, [{ type: 'list.subscribed', listId, contactId }]);
  await recordAudit(tx, change, {
    action: 'list_membership.set',
    targetType: 'contact',
    targetId: contactId,
    details: { listId, from: previous, to: status },
  });
  return { listId, contactId, status };
}

export async function putMembership(
  db: Db,
  change: ChangeContext,
  listId: string,
  contactId: string,
  status: MembershipStatus,
): Promise<{ listId: string; contactId: string; status: MembershipStatus }> {
  return inTransaction(db, change, (tx) => setMembership(tx, change, listId, contactId, status));
}

/**
 * Takes an active contact off a live list (404 when it is not a member; the row stays in
 * history, so an undo or a rollback puts it back with its status).
 */
export async function removeMembership(db: Db, change: ChangeContext, listId: string, contactId: string): Promise<void> {
  await inTransaction(db, change, async (tx) => {
    await requireLiveList(tx, change.workspaceId, listId);
    await requireActiveContact(tx, change.workspaceId, contactId);
    const removed = await tx
      .deleteFrom('list_memberships')
      .where('workspace_id', '=', change.workspaceId)
      .where('list_id', '=', listId)
      .where('contact_id', '=', contactId)
      .returning('status')
      .executeTakeFirst();
    if (!removed) throw notFound('Membership of this contact on this list');
    await recordAudit(tx, change, {
      action: 'list_membership.removed',
      targetType: 'contact',
      targetId: contactId,
      details: { listId, from: removed.status },
    });
  });
}

export interface ListMember {
  contactId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  status: MembershipStatus;
}

/**
 * A list's members (active contacts; those set aside with a deleted or archived contact
 * are not shown), optionally of one status, by contact id: read down the memberships'
 * primary key (workspace, list, contact), so a page costs its rows however large the
 * list. A deleted list still shows whom it held, as its memberCount counts them.
 */
export async function listMembers(
  db: Db,
  workspaceId: string,
  listId: string,
  request: PageRequest & { status?: MembershipStatus },
): Promise<Page<ListMember>> {
  const after = decodeCursor(request.cursor, ['text']);
  const list = await db.selectFrom('lists').select('id').where('workspace_id', '=', workspaceId).where('id', '=', listId).executeTakeFirst();
  if (!list) throw notFound('List');
  const { rows } = await sql<ListMember>`
    SELECT m.contact_id AS "contactId", c.email, c.first_name AS "firstName", c.last_name AS "lastName", m.status
    FROM list_memberships m ${joinContact('c', sql`m.workspace_id`, sql`m.contact_id`, { active: true })}
    WHERE m.workspace_id = ${workspaceId} AND m.list_id = ${listId}
      AND ${request.status === undefined ? sql`true` : sql`m.status = ${request.status}`}
      AND ${after ? sql`m.contact_id > ${after[0]}` : sql`true`}
    ORDER BY m.contact_id LIMIT ${request.limit + 1}`.execute(db);
  return toPage(rows, request.limit, (r) => [r.contactId], (r) => r);
}

/** A contact's memberships on lists that still exist (none while it is deleted or archived). */
export async function contactMemberships(db: Db, workspaceId: string, contactId: string, request: PageRequest): Promise<Page<{ listId: string; status: MembershipStatus }>> {
  const paging = pageByTime(request, 'm.created_at', 'm.list_id');
  const { rows } = await sql<{ listId: string; status: MembershipStatus; page_time: string }>`
    SELECT m.list_id AS "listId", m.status, ${paging.pageTime}
    FROM list_memberships m JOIN lists l ON l.workspace_id = m.workspace_id AND l.id = m.list_id
    WHERE m.workspace_id = ${workspaceId} AND m.contact_id = ${contactId} AND l.deleted_at IS NULL AND ${ofActiveContact('m', workspaceId)} AND ${paging.pastCursor}
    ORDER BY m.created_at, m.list_id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.listId, ({ listId, status }) => ({ listId, status }));
}

/**
 * The memberships a removed contact keeps, set aside, leaving out those of lists deleted since
 * (they do not come back with it): rows `(ref, detail, at)`, its list and status, and when it joined. A fragment
 * for the recycle bin, which reads what a restore brings back in one statement.
 */
export function keptMembershipsOf(workspaceId: string, contactId: string) {
  return sql`SELECT m.list_id AS ref, m.status AS detail, m.created_at AS at
    FROM list_memberships m JOIN lists p ON p.workspace_id = m.workspace_id AND p.id = m.list_id AND p.deleted_at IS NULL
    WHERE m.workspace_id = ${workspaceId} AND m.contact_id = ${contactId}`;
}

/** A restore: the memberships these contacts kept on lists deleted since go (seed 002: they do not come back). */
export async function dropMembershipsOfDeletedLists(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await dropRowsOfDeletedParent(tx, { table: 'list_memberships', parent: 'lists', parentKey: 'list_id' }, workspaceId, contactIds);
}

/** Removes contacts from every list (they are merged away); history keeps the rows. */
export async function removeFromAllLists(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await byKeys(tx, sql`DELETE FROM list_memberships a USING ${batchOf(workspaceId, contactIds)} WHERE a.workspace_id = k.workspace_id AND a.contact_id = k.key`);
}

/**
 * A merge: the survivor `toId` joins every list `fromIds` are on (deleted lists' too, out
 * of sight with them). Its own membership wins; of the merged contacts' memberships on one
 * list, a subscribed one wins over the others, then the earliest.
 */
export async function moveMemberships(tx: Tx, workspaceId: string, fromIds: string[], toId: string, at: Date): Promise<void> {
  await byKeys(tx, sql`
    INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    SELECT DISTINCT ON (m.list_id) ${workspaceId}, m.list_id, ${toId}, m.status, m.created_at, ${at}
    FROM ${batchOf(workspaceId, fromIds)} JOIN list_memberships m ON m.workspace_id = k.workspace_id AND m.contact_id = k.key
    ORDER BY m.list_id, (m.status = 'subscribed') DESC, m.created_at
    ON CONFLICT DO NOTHING`);
}

/**
 * Of these lists, the ones live in the workspace, held (FOR SHARE) so none is deleted
 * before the batch commits.
 */
export async function lockLiveLists(db: Db | Tx, workspaceId: string, listIds: string[]): Promise<Set<string>> {
  if (listIds.length === 0) return new Set();
  // The ids go as one array parameter (= any), not one each: one statement text however many lists.
  const rows = await db
    .selectFrom('lists')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', (eb) => eb.fn.any(eb.val(listIds)))
    .where('deleted_at', 'is', null)
    .forShare()
    .execute();
  return new Set(rows.map((r) => r.id));
}

/** An import: sets list statuses, given as parallel arrays, adding memberships where needed; a status already set is not written again. */
export async function setMembershipBatch(tx: Tx, workspaceId: string, at: Date, m: { contactIds: string[]; listIds: string[]; statuses: MembershipStatus[] }): Promise<void> {
  if (m.contactIds.length === 0) return;
  await sql`
    INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    SELECT ${workspaceId}, m.list_id, m.contact_id, m.status, ${at}, ${at}
    FROM unnest(${m.contactIds}::text[], ${m.listIds}::text[], ${m.statuses}::text[]) AS m(contact_id, list_id, status)
    ON CONFLICT (workspace_id, list_id, contact_id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
      WHERE list_memberships.status IS DISTINCT FROM EXCLUDED.status`.execute(tx);
}

/**
 * Sets many contacts' status on one list at once (an automation's step), adding
 * memberships where needed. Contacts no longer active, and a list deleted since, are
 * passed over; a membership already in that status is not written. Returns the contacts
 * whose membership changed; those it subscribed are list.subscribed events.
 */
export async function setMembershipsOnList(tx: Tx, change: ChangeContext, listId: string, contactIds: string[], status: MembershipStatus): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const { rows } = await byKeys(tx, sql<{ contact_id: string }>`
    INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    SELECT k.workspace_id, l.id, c.id, ${status}, ${change.at}, ${change.at}
    FROM ${batchOf(change.workspaceId, contactIds)}
    ${joinContact('c', sql`k.workspace_id`, sql`k.key`, { active: true })}
    JOIN lists l ON l.workspace_id = k.workspace_id AND l.id = ${listId} AND l.deleted_at IS NULL
    ON CONFLICT (workspace_id, list_id, contact_id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
      WHERE list_memberships.status IS DISTINCT FROM EXCLUDED.status
    RETURNING contact_id`);
  const changed = rows.map((r) => r.contact_id);
  if (status === 'subscribed') await emitEvents(tx, change, changed.map((contactId) => ({ type: 'list.subscribed' as const, listId, contactId })));
  return changed;
}
