import { sql } from 'kysely';
import type { ChangeContext, Tx } from './database.js';
import { invalidState, notFound } from '../http/errors.js';

/** The tables of named, soft-deleted records (`name`, `deleted_at`) that a rename changes (and an import finds by name). */
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

/**
 * The live tag or account of each name (case-insensitive; the oldest when several share
 * it), making the missing ones with the name as first written. Answers lower-case name →
 * id, and how many were made. An import's, by tags' and accounts' services (the statement they share).
 *
 * Names are not unique, so two transactions that met the same new name at once (the parts
 * of an import's batch, loaded side by side) would each make it. The names are looked up
 * first; only when one is missing does the maker take the workspace's lock on making that
 * table's names, held to its commit, and look again, now seeing what the other made.
 */
export async function findOrMakeNamed(
  tx: Tx,
  table: Exclude<NamedTable, 'lists'>,
  workspaceId: string,
  at: Date,
  names: string[],
): Promise<{ ids: Map<string, string>; made: number }> {
  if (names.length === 0) return { ids: new Map(), made: 0 };
  const target = sql.table(table);
  const wanted = sql`
    wanted AS (
      SELECT DISTINCT ON (lower(w.name)) w.name, lower(w.name) AS key
      FROM unnest(${names}::text[]) WITH ORDINALITY AS w(name, n) ORDER BY lower(w.name), w.n),
    found AS (
      SELECT DISTINCT ON (lower(t.name)) lower(t.name) AS key, t.id FROM ${target} t
      WHERE t.workspace_id = ${workspaceId} AND t.deleted_at IS NULL AND lower(t.name) IN (SELECT key FROM wanted)
      ORDER BY lower(t.name), t.created_at, t.id)`;
  const { rows: known } = await sql<{ key: string; id: string | null }>`WITH ${wanted} SELECT w.key, f.id FROM wanted w LEFT JOIN found f ON f.key = w.key`.execute(tx);
  const ids = new Map<string, string>();
  for (const r of known) if (r.id !== null) ids.set(r.key, r.id);
  if (ids.size === known.length) return { ids, made: 0 };
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${workspaceId} || ':making-names:' || ${table}, 0))`.execute(tx);
  const { rows } = await sql<{ key: string; id: string; made: boolean }>`
    WITH ${wanted},
    made AS (
      INSERT INTO ${target} (workspace_id, name, created_at)
      SELECT ${workspaceId}, w.name, ${at} FROM wanted w WHERE w.key NOT IN (SELECT key FROM found)
      RETURNING lower(name) AS key, id)
    SELECT key, id, false AS made FROM found UNION ALL SELECT key, id, true AS made FROM made`.execute(tx);
  return { ids: new Map(rows.map((r) => [r.key, r.id])), made: rows.filter((r) => r.made).length };
}
