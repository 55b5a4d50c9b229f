import { sql } from 'kysely';
import type { ChangeContext, Tx } from './database.js';
import { invalidState, notFound } from '../http/errors.js';

/** The tables of named, soft-deleted records (`name`, `deleted_at`) that a rename changes. */
export type NamedTable = 'lists' | 'accounts' | 'tags';

/**
 * Renames a live record of `table` in the change's transaction, locking its row: 404 when
 * the workspace has no such record, 409 invalid_state when it is deleted (as PATCH
 * /contacts answers for a deleted contact). Answers the name it had, or null when it
 * already had this one and nothing was written. The caller writes its own audit entry.
 * Each table is its feature's (lists, accounts, tags); this is only the statement they share.
 *
 * ```ts
 * const from = await renameLive(tx, change, 'lists', listId, 'List', name);
 * if (from !== null) await recordAudit(tx, change, { action: 'list.renamed', targetType: 'list', targetId: listId, details: { from, to: name } });
 * ```
 */
export async function renameLive(tx: Tx, change: ChangeContext, table: NamedTable, id: string, what: string, name: string): Promise<string | null> {
  const { rows } = await sql<{ name: string; deleted_at: Date | null }>`
    SELECT name, deleted_at FROM ${sql.table(table)} WHERE workspace_id = ${change.workspaceId} AND id = ${id} FOR UPDATE`.execute(tx);
  const current = rows[0];
  if (!current) throw notFound(what);
  if (current.deleted_at) throw invalidState(`Only live ${table} can be renamed; this one is deleted`, { status: 'deleted' });
  if (current.name === name) return null;
  await sql`UPDATE ${sql.table(table)} SET name = ${name} WHERE workspace_id = ${change.workspaceId} AND id = ${id}`.execute(tx);
  return current.name;
}
