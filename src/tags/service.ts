import { sql, type Selectable } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import type { Tags } from '../db/schema.js';
import { inTransaction } from '../db/database.js';
import { findOrMakeNamed, renameLive } from '../db/renames.js';
import { batchOf, byKeys, workspaceIn } from '../db/keys.js';
import { dropRowsOfDeletedParent } from '../db/associations.js';
import { invalidRequest, notFound } from '../http/errors.js';
import { pageByTime, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { emitEvents } from '../outbox/service.js';
import { joinContact, requireActiveContact } from '../contacts/guards.js';
import { moveToBin } from '../deleted-objects/bin.js';

export interface Tag {
  id: string;
  name: string;
  createdAt: string;
  deletedAt: string | null;
}

type TagRow = Pick<Selectable<Tags>, 'id' | 'name' | 'created_at' | 'deleted_at'>;
const tagColumns = ['id', 'name', 'created_at', 'deleted_at'] as const;

const presentTag = (r: TagRow): Tag => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  deletedAt: r.deleted_at?.toISOString() ?? null,
});

/**
 * The ids of the live tags on the contact `contact` (an alias of contacts' rows of
 * `workspaceId`), in the order they were put on it: how contacts' reads show a contact's
 * tags. On Citus the workspace is a constant here (workspaceIn): it sends such a statement
 * whole to its workspace's node, and refuses this correlated subquery under a FROM of
 * subqueries otherwise (issue 20).
 */
export function liveTagIdsOf(contact: string, workspaceId: string) {
  const c = sql.table(contact);
  return sql`coalesce((SELECT array_agg(ct.tag_id ORDER BY ct.created_at, ct.tag_id) FROM contact_tags ct
            JOIN tags t ON t.workspace_id = ct.workspace_id AND t.id = ct.tag_id AND t.deleted_at IS NULL
            WHERE ct.workspace_id = ${workspaceIn(contact, workspaceId)} AND ct.contact_id = ${c}.id), '{}')`;
}

/**
 * The names of the live tags on the contact `contact` (an alias of contacts' rows) if it is
 * active, joined by ';' in the order they were put on it (as an import takes them); else NULL.
 */
export function liveTagNamesOf(contact: string) {
  const c = sql.table(contact);
  return sql`(SELECT string_agg(t.name, ';' ORDER BY ct.created_at, t.id) FROM contact_tags ct
            JOIN tags t ON t.workspace_id = ct.workspace_id AND t.id = ct.tag_id AND t.deleted_at IS NULL
            WHERE ct.workspace_id = ${c}.workspace_id AND ct.contact_id = ${c}.id AND ${c}.status = 'active')`;
}

/** An import: adds tags to contacts, given as parallel arrays (a tag a contact has already stays as it is). */
export async function addTagPairs(tx: Tx, workspaceId: string, at: Date, contactIds: string[], tagIds: string[]): Promise<void> {
  if (contactIds.length === 0) return;
  await sql`
    INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
    SELECT ${workspaceId}, t.contact_id, t.tag_id, ${at} FROM unnest(${contactIds}::text[], ${tagIds}::text[]) AS t(contact_id, tag_id)
    ON CONFLICT DO NOTHING`.execute(tx);
}

/** An import: the live tag of each name (case-insensitive), made where missing (db/renames.ts's findOrMakeNamed). */
export async function tagsNamed(tx: Tx, workspaceId: string, at: Date, names: string[]): Promise<{ ids: Map<string, string>; made: number }> {
  return findOrMakeNamed(tx, 'tags', workspaceId, at, names);
}

export async function createTag(db: Db, change: ChangeContext, name: string): Promise<Tag> {
  return inTransaction(db, change, async (tx) => {
    const tag = await tx.insertInto('tags').values({ workspace_id: change.workspaceId, name, created_at: change.at }).returning(tagColumns).executeTakeFirstOrThrow();
    await recordAudit(tx, change, { action: 'tag.created', targetType: 'tag', targetId: tag.id, details: { name } });
    return presentTag(tag);
  });
}

export async function listTags(db: Db, workspaceId: string, request: PageRequest): Promise<Page<Tag>> {
  const paging = pageByTime(request, 'created_at', 'id');
  const { rows } = await sql<TagRow & { page_time: string }>`
    SELECT id, name, created_at, deleted_at, ${paging.pageTime} FROM tags
    WHERE workspace_id = ${workspaceId} AND deleted_at IS NULL AND ${paging.pastCursor} ORDER BY created_at, id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.id, presentTag);
}

/** Renames a live tag (a deleted one is 409 invalid_state, as PATCH /contacts answers for a deleted contact). */
export async function renameTag(db: Db, change: ChangeContext, tagId: string, name: string): Promise<Tag> {
  return inTransaction(db, change, async (tx) => {
    const from = await renameLive(tx, change, 'tags', tagId, 'Tag', name);
    if (from !== null) await recordAudit(tx, change, { action: 'tag.renamed', targetType: 'tag', targetId: tagId, details: { from, to: name } });
    return presentTag(await tx.selectFrom('tags').select(tagColumns).where('workspace_id', '=', change.workspaceId).where('id', '=', tagId).executeTakeFirstOrThrow());
  });
}

export async function deleteTag(db: Db, change: ChangeContext, tagId: string): Promise<void> {
  await inTransaction(db, change, (tx) => moveToBin(tx, change, 'tag', tagId));
}

/** Checks that every id names a live tag of the workspace (bad input otherwise). */
export async function requireLiveTags(tx: Tx, workspaceId: string, tagIds: string[]): Promise<void> {
  if (tagIds.length === 0) return;
  const rows = await tx.selectFrom('tags').select('id').where('workspace_id', '=', workspaceId).where('id', 'in', tagIds).where('deleted_at', 'is', null).execute();
  const found = new Set(rows.map((r) => r.id));
  const missing = tagIds.filter((id) => !found.has(id));
  if (missing.length > 0) {
    throw invalidRequest('Unknown tags', { issues: missing.map((id) => ({ in: 'body', path: ['tags'], message: `no tag ${id}` })) });
  }
}

/** Adds tags to a contact; each newly added one is a tag.added event. */
export async function addTagsToContact(tx: Tx, change: ChangeContext, contactId: string, tagIds: string[]): Promise<string[]> {
  if (tagIds.length === 0) return [];
  const { rows } = await sql<{ tag_id: string }>`
    INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
    SELECT ${change.workspaceId}, ${contactId}, t, ${change.at} FROM unnest(${tagIds}::text[]) AS t
    ON CONFLICT DO NOTHING RETURNING tag_id`.execute(tx);
  const added = rows.map((r) => r.tag_id);
  await emitEvents(tx, change, added.map((tagId) => ({ type: 'tag.added' as const, tagId, contactId })));
  return added;
}

export async function tagContact(db: Db, change: ChangeContext, contactId: string, tagId: string): Promise<void> {
  await inTransaction(db, change, async (tx) => {
    await requireActiveContact(tx, change.workspaceId, contactId);
    const live = await tx.selectFrom('tags').select('id').where('workspace_id', '=', change.workspaceId).where('id', '=', tagId).where('deleted_at', 'is', null).executeTakeFirst();
    if (!live) throw notFound('Tag');
    const added = await addTagsToContact(tx, change, contactId, [tagId]);
    if (added.length > 0) await recordAudit(tx, change, { action: 'contact.tagged', targetType: 'contact', targetId: contactId, details: { tagId } });
  });
}

export async function untagContact(db: Db, change: ChangeContext, contactId: string, tagId: string): Promise<void> {
  await inTransaction(db, change, async (tx) => {
    await requireActiveContact(tx, change.workspaceId, contactId);
    const removed = await tx
      .deleteFrom('contact_tags')
      .where('workspace_id', '=', change.workspaceId)
      .where('contact_id', '=', contactId)
      .where('tag_id', '=', tagId)
      .returning('tag_id')
      .executeTakeFirst();
    if (!removed) throw notFound('Tag on this contact');
    await recordAudit(tx, change, { action: 'contact.untagged', targetType: 'contact', targetId: contactId, details: { tagId } });
  });
}

/**
 * The tags a removed contact keeps, set aside, leaving out those of tags deleted since
 * (they do not come back with it): rows `(ref, detail, at)`, its tag (detail NULL), and when it was tagged. A fragment
 * for the recycle bin, which reads what a restore brings back in one statement.
 */
export function keptTagsOf(workspaceId: string, contactId: string) {
  return sql`SELECT t.tag_id AS ref, NULL AS detail, t.created_at AS at
    FROM contact_tags t JOIN tags p ON p.workspace_id = t.workspace_id AND p.id = t.tag_id AND p.deleted_at IS NULL
    WHERE t.workspace_id = ${workspaceId} AND t.contact_id = ${contactId}`;
}

/** A merge: the survivor `toId` gets every tag `fromIds` have (deleted tags' too); a tag it has keeps its own date. */
export async function moveContactTags(tx: Tx, workspaceId: string, fromIds: string[], toId: string): Promise<void> {
  await byKeys(tx, sql`
    INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
    SELECT DISTINCT ON (t.tag_id) ${workspaceId}, ${toId}, t.tag_id, t.created_at
    FROM ${batchOf(workspaceId, fromIds)} JOIN contact_tags t ON t.workspace_id = k.workspace_id AND t.contact_id = k.key
    ORDER BY t.tag_id, t.created_at
    ON CONFLICT DO NOTHING`);
}

/** A restore: the tags these contacts kept that were deleted since go (seed 002: they do not come back). */
export async function dropTagsDeletedSince(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await dropRowsOfDeletedParent(tx, { table: 'contact_tags', parent: 'tags', parentKey: 'tag_id' }, workspaceId, contactIds);
}

export async function untagAll(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await byKeys(tx, sql`DELETE FROM contact_tags a USING ${batchOf(workspaceId, contactIds)} WHERE a.workspace_id = k.workspace_id AND a.contact_id = k.key`);
}

/**
 * Puts one tag on many contacts at once (an automation's step): active contacts that do
 * not have it yet, while the tag is live. Returns the contacts it was added to (tag.added
 * events).
 */
export async function addTagToContacts(tx: Tx, change: ChangeContext, tagId: string, contactIds: string[]): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const { rows } = await byKeys(tx, sql<{ contact_id: string }>`
    INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
    SELECT k.workspace_id, c.id, t.id, ${change.at}
    FROM ${batchOf(change.workspaceId, contactIds)}
    ${joinContact('c', sql`k.workspace_id`, sql`k.key`, { active: true })}
    JOIN tags t ON t.workspace_id = k.workspace_id AND t.id = ${tagId} AND t.deleted_at IS NULL
    ON CONFLICT DO NOTHING
    RETURNING contact_id`);
  const added = rows.map((r) => r.contact_id);
  await emitEvents(tx, change, added.map((contactId) => ({ type: 'tag.added' as const, tagId, contactId })));
  return added;
}

/** Takes one tag off many active contacts at once (an automation's step); returns those that had it. */
export async function removeTagFromContacts(tx: Tx, change: ChangeContext, tagId: string, contactIds: string[]): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const { rows } = await byKeys(tx, sql<{ contact_id: string }>`
    DELETE FROM contact_tags ct
    USING ${batchOf(change.workspaceId, contactIds)}
    ${joinContact('c', sql`k.workspace_id`, sql`k.key`, { active: true })}
    WHERE ct.workspace_id = k.workspace_id AND ct.contact_id = c.id AND ct.tag_id = ${tagId}
    RETURNING ct.contact_id`);
  return rows.map((r) => r.contact_id);
}
