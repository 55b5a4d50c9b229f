import { sql } from 'kysely';
import type { Tx } from './database.js';
import { batchOf, byKeys, lookUp } from './keys.js';

/**
 * An association table: rows linking a contact to a parent (a list, account, deal or tag),
 * kept while the contact is away. Each is its feature's; these are only the statements
 * they share, as db/renames.ts's are for named records.
 */
export interface Association {
  table: 'list_memberships' | 'account_contacts' | 'deal_contacts' | 'contact_tags';
  /** The parent, whose deletion keeps the rows from coming back. */
  parent: 'lists' | 'accounts' | 'deals' | 'tags';
  parentKey: 'list_id' | 'account_id' | 'deal_id' | 'tag_id';
}

/**
 * A restore: of the rows these contacts kept in the association's table, those whose
 * parent was deleted meanwhile go (seed 002: they do not come back). Each contact's rows,
 * then each row's parent, looked up by key (db/keys.ts); the rows to drop are then deleted
 * by their own key. Unless the workspace has no deleted parent at all, as is usual: then
 * no row can be of one, and the lookups are not made (5.5 s of a 100,000-contact restore's
 * 11.8 s, with 700,000 rows kept).
 */
export async function dropRowsOfDeletedParent(tx: Tx, association: Association, workspaceId: string, contactIds: string[]): Promise<void> {
  const { table, parent, parentKey } = association;
  if (!(await anyDeleted(tx, parent, workspaceId))) return;
  await byKeys(tx, sql`
    DELETE FROM ${sql.table(table)} a
    USING (SELECT r.* FROM ${batchOf(workspaceId, contactIds)}
           ${lookUp(table, 'r', sql`r.workspace_id = k.workspace_id AND r.contact_id = k.key`)}
           ${lookUp(parent, 'p', sql`p.workspace_id = r.workspace_id AND p.id = r.${sql.ref(parentKey)}`)}
           WHERE p.deleted_at IS NOT NULL) gone
    WHERE a.workspace_id = gone.workspace_id AND a.contact_id = gone.contact_id AND a.${sql.ref(parentKey)} = gone.${sql.ref(parentKey)}`);
}

/**
 * Whether the workspace has a deleted row of `parent`: read from its partial index of
 * deleted rows (migration 050), in that index's order, so that no plan reads the live ones.
 */
async function anyDeleted(tx: Tx, parent: Association['parent'], workspaceId: string): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`
    SELECT p.id FROM ${sql.table(parent)} p WHERE p.workspace_id = ${workspaceId} AND p.deleted_at IS NOT NULL
    ORDER BY p.deleted_at, p.id LIMIT 1`.execute(tx);
  return rows.length > 0;
}
