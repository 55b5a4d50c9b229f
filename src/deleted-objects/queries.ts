import { sql, type RawBuilder } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { batchOf, byKeys, lookUp } from '../db/keys.js';
import { cursorTime, type CursorKey } from '../http/pagination.js';
import { ofActiveContact } from '../contacts/guards.js';
import { containing } from '../db/patterns.js';
import { forgetPurgedLists } from '../forms/service.js';

/**
 * The kinds of object the bin holds. Each is soft-deleted (`deleted_at`, `deleted_by`,
 * migration 050) and keeps its association rows while it is in the bin, so a restore is
 * its own UPDATE back, one statement for the whole batch, and what it held comes back
 * exactly: the rows never left. Reads of associations already leave out those of deleted
 * objects and of contacts that are not active (contacts/guards.ts), so a restored list
 * shows the memberships of its contacts still active, and those of contacts in the bin
 * come back with them. Replaying history_entries (a hard delete's row images) would also
 * work, but per row, and wrong wherever a contact changed since.
 *
 * Like rollbacks/tables.ts, the bin treats these tables alike by their shared columns
 * rather than through six services: restore and purge are the same statements over each.
 */
export const objectTypes = ['list', 'account', 'deal', 'tag', 'form', 'automation'] as const;
export type ObjectType = (typeof objectTypes)[number];

interface BinTable {
  table: string;
  /** The column shown as the object's name. */
  name: string;
  /**
   * The association rows the object holds, by their key to it: removed with it at purge.
   * `indexed`: an index leads with (workspace_id, key), so each object's rows are looked
   * up by it; contact_tags has none by tag (its key leads with the contact), and one would
   * tempt the planner away from that key in the contact lookups of bulk restores.
   */
  held: { table: string; key: string; indexed: boolean }[];
}

export const binTables: Record<ObjectType, BinTable> = {
  list: { table: 'lists', name: 'name', held: [{ table: 'list_memberships', key: 'list_id', indexed: true }] },
  account: { table: 'accounts', name: 'name', held: [{ table: 'account_contacts', key: 'account_id', indexed: true }] },
  deal: { table: 'deals', name: 'title', held: [{ table: 'deal_contacts', key: 'deal_id', indexed: true }] },
  tag: { table: 'tags', name: 'name', held: [{ table: 'contact_tags', key: 'tag_id', indexed: false }] },
  form: { table: 'forms', name: 'name', held: [] },
  automation: { table: 'automations', name: 'name', held: [{ table: 'enrollments', key: 'automation_id', indexed: true }] },
};

export interface BinFilter {
  q?: string;
  from?: Date;
  to?: Date;
}

export interface BinnedRow {
  type: ObjectType;
  id: string;
  name: string;
  deleted_at: Date;
  deleted_by: string | null;
  deleted_key: string;
}

/**
 * A page of the deleted objects of the given types, newest deletion first (then by id,
 * descending), past the cursor `after` ([deletedAt, id]). Each type is read down its
 * partial index (`<table>_deleted`) and cut to the page before the types are merged.
 */
export async function selectBinned(db: Db, workspaceId: string, types: readonly ObjectType[], filter: BinFilter, after: CursorKey | undefined, fetch: number): Promise<BinnedRow[]> {
  const parts = types.map((type) => {
    const { table, name } = binTables[type];
    return sql`(SELECT ${type}::text AS type, o.id, o.${sql.ref(name)} AS name, o.deleted_at, o.deleted_by, ${cursorTime('o.deleted_at')} AS deleted_key
      FROM ${sql.table(table)} o
      WHERE o.workspace_id = ${workspaceId} AND o.deleted_at IS NOT NULL
        AND ${filter.q ? sql`o.${sql.ref(name)} ILIKE ${containing(filter.q)}` : sql`true`}
        AND ${filter.from ? sql`o.deleted_at >= ${filter.from}` : sql`true`}
        AND ${filter.to ? sql`o.deleted_at <= ${filter.to}` : sql`true`}
        AND ${after ? sql`(o.deleted_at, o.id) < (${after[0]}::timestamptz, ${after[1]}::text)` : sql`true`}
      ORDER BY o.deleted_at DESC, o.id DESC LIMIT ${fetch})`;
  });
  const { rows } = await sql<BinnedRow>`
    SELECT * FROM (${sql.join(parts, sql` UNION ALL `)}) b ORDER BY b.deleted_at DESC, b.id DESC LIMIT ${fetch}`.execute(db);
  return rows;
}

/** Each of `ids` found among the workspace's objects of `type`, locked, and whether it is deleted. */
export async function lockObjects(tx: Tx, workspaceId: string, type: ObjectType, ids: string[]): Promise<Map<string, { deleted: boolean }>> {
  const { table } = binTables[type];
  const { rows } = await byKeys(tx, sql<{ id: string; deleted: boolean }>`
    SELECT o.id, o.deleted_at IS NOT NULL AS deleted
    FROM ${batchOf(workspaceId, [...ids].sort())} ${lookUp(table, 'o', sql`o.workspace_id = k.workspace_id AND o.id = k.key`, 'FOR UPDATE')}
    ORDER BY k.n`);
  return new Map(rows.map((r) => [r.id, { deleted: r.deleted }]));
}

/** The deals among `dealIds` that some active contact is still on. */
export async function dealsWithActiveContacts(tx: Tx, workspaceId: string, dealIds: string[]): Promise<Set<string>> {
  const { rows } = await byKeys(tx, sql<{ id: string }>`
    SELECT DISTINCT dc.deal_id AS id FROM ${batchOf(workspaceId, dealIds)}
    ${lookUp('deal_contacts', 'dc', sql`dc.workspace_id = k.workspace_id AND dc.deal_id = k.key`)}
    WHERE ${ofActiveContact('dc', workspaceId)}`);
  return new Set(rows.map((r) => r.id));
}

/**
 * Takes objects out of the bin: deleted_at and deleted_by cleared. A restored automation
 * comes back paused (its paused_at kept if it was paused already): only a user resumes it.
 */
export async function undelete(tx: Tx, workspaceId: string, type: ObjectType, ids: string[], at: Date): Promise<void> {
  const extra: RawBuilder<unknown> =
    type === 'automation' ? sql`, paused_at = coalesce(o.paused_at, ${at}::timestamptz)` : type === 'deal' ? sql`, updated_at = ${at}` : sql``;
  await byKeys(tx, sql`
    UPDATE ${sql.table(binTables[type].table)} o SET deleted_at = NULL, deleted_by = NULL ${extra}
    FROM ${batchOf(workspaceId, ids)} WHERE o.workspace_id = k.workspace_id AND o.id = k.key`);
}

/** The next objects of `type` deleted at or before `before`, oldest deletion first. */
export async function dueForPurge(db: Db, workspaceId: string, type: ObjectType, before: Date, limit: number): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    SELECT o.id FROM ${sql.table(binTables[type].table)} o
    WHERE o.workspace_id = ${workspaceId} AND o.deleted_at IS NOT NULL AND o.deleted_at <= ${before}
    ORDER BY o.deleted_at, o.id LIMIT ${limit}`.execute(db);
  return rows.map((r) => r.id);
}

/**
 * Removes objects for good, with the association rows they held (history keeps their
 * images, as for any delete). Forms that named a purged list name none from then on
 * (a submission subscribes nobody, as it did while the list was in the bin).
 */
export async function removeObjectsForGood(tx: Tx, workspaceId: string, type: ObjectType, ids: string[]): Promise<void> {
  const { table, held } = binTables[type];
  for (const h of held) {
    if (h.indexed) {
      await byKeys(tx, sql`DELETE FROM ${sql.table(h.table)} a USING ${batchOf(workspaceId, ids)} WHERE a.workspace_id = k.workspace_id AND a.${sql.ref(h.key)} = k.key`);
    } else {
      // One pass over the workspace's rows for the whole batch (not one per object).
      await sql`DELETE FROM ${sql.table(h.table)} a WHERE a.workspace_id = ${workspaceId} AND a.${sql.ref(h.key)} = ANY(${ids}::text[])`.execute(tx);
    }
  }
  if (type === 'list') await forgetPurgedLists(tx, workspaceId, ids);
  await byKeys(tx, sql`DELETE FROM ${sql.table(table)} o USING ${batchOf(workspaceId, ids)} WHERE o.workspace_id = k.workspace_id AND o.id = k.key`);
}
