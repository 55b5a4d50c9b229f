import { sql } from 'kysely';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { batchOf, byKeys } from '../db/keys.js';
import { invalidRequest, notFound } from '../http/errors.js';
import { pageByTime, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { emitEvents } from '../outbox/service.js';
import { requireActiveContact } from '../contacts/guards.js';
import { moveToBin } from '../deleted-objects/bin.js';

export interface Tag {
  id: string;
  name: string;
  createdAt: string;
  deletedAt: string | null;
}

interface TagRow {
  id: string;
  name: string;
  created_at: Date;
  deleted_at: Date | null;
}

const presentTag = (r: TagRow): Tag => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  deletedAt: r.deleted_at?.toISOString() ?? null,
});

export async function createTag(db: Db, change: ChangeContext, name: string): Promise<Tag> {
  return inTransaction(db, change, async (tx) => {
    const { rows } = await sql<TagRow>`
      INSERT INTO tags (workspace_id, name, created_at) VALUES (${change.workspaceId}, ${name}, ${change.at})
      RETURNING id, name, created_at, deleted_at`.execute(tx);
    await recordAudit(tx, change, { action: 'tag.created', targetType: 'tag', targetId: rows[0].id, details: { name } });
    return presentTag(rows[0]);
  });
}

export async function listTags(db: Db, workspaceId: string, request: PageRequest): Promise<Page<Tag>> {
  const paging = pageByTime(request, 'created_at', 'id');
  const { rows } = await sql<TagRow & { page_time: string }>`
    SELECT id, name, created_at, deleted_at, ${paging.pageTime} FROM tags
    WHERE workspace_id = ${workspaceId} AND deleted_at IS NULL AND ${paging.pastCursor} ORDER BY created_at, id LIMIT ${paging.fetch}`.execute(db);
  return paging.page(rows, (r) => r.id, presentTag);
}

export async function deleteTag(db: Db, change: ChangeContext, tagId: string): Promise<void> {
  await inTransaction(db, change, (tx) => moveToBin(tx, change, 'tag', tagId));
}

/** Checks that every id names a live tag of the workspace (bad input otherwise). */
export async function requireLiveTags(tx: Tx, workspaceId: string, tagIds: string[]): Promise<void> {
  if (tagIds.length === 0) return;
  const { rows } = await sql<{ id: string }>`
    SELECT id FROM tags WHERE workspace_id = ${workspaceId} AND id = ANY(${tagIds}::text[]) AND deleted_at IS NULL`.execute(tx);
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
    const { rows } = await sql`SELECT 1 FROM tags WHERE workspace_id = ${change.workspaceId} AND id = ${tagId} AND deleted_at IS NULL`.execute(tx);
    if (rows.length === 0) throw notFound('Tag');
    const added = await addTagsToContact(tx, change, contactId, [tagId]);
    if (added.length > 0) await recordAudit(tx, change, { action: 'contact.tagged', targetType: 'contact', targetId: contactId, details: { tagId } });
  });
}

export async function untagContact(db: Db, change: ChangeContext, contactId: string, tagId: string): Promise<void> {
  await inTransaction(db, change, async (tx) => {
    await requireActiveContact(tx, change.workspaceId, contactId);
    const { rows } = await sql`
      DELETE FROM contact_tags WHERE workspace_id = ${change.workspaceId} AND contact_id = ${contactId} AND tag_id = ${tagId} RETURNING tag_id`.execute(tx);
    if (rows.length === 0) throw notFound('Tag on this contact');
    await recordAudit(tx, change, { action: 'contact.untagged', targetType: 'contact', targetId: contactId, details: { tagId } });
  });
}

export async function untagAll(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await byKeys(tx, sql`DELETE FROM contact_tags a USING ${batchOf(workspaceId, contactIds)} WHERE a.workspace_id = k.workspace_id AND a.contact_id = k.key`);
}
