import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';

/** What a deleted or archived contact kept, set aside, that a restore brings back. */
export interface KeptAssociations {
  lists: { listId: string; status: string }[];
  accounts: { accountId: string; jobTitle: string | null }[];
  dealIds: string[];
  tags: string[];
}

/**
 * The association rows a contact keeps while it is away, leaving out those whose list,
 * account, deal or tag was deleted since (they do not come back), in the order the live
 * reads give them.
 */
export async function keptAssociations(db: Db, workspaceId: string, contactId: string): Promise<KeptAssociations> {
  const { rows } = await sql<{ kind: 'list' | 'account' | 'deal' | 'tag'; ref: string; detail: string | null }>`
    SELECT 'list' AS kind, m.list_id AS ref, m.status AS detail, m.created_at AS at, 1 AS part
    FROM list_memberships m JOIN lists p ON p.workspace_id = m.workspace_id AND p.id = m.list_id AND p.deleted_at IS NULL
    WHERE m.workspace_id = ${workspaceId} AND m.contact_id = ${contactId}
    UNION ALL
    SELECT 'account', a.account_id, a.job_title, a.created_at, 2
    FROM account_contacts a JOIN accounts p ON p.workspace_id = a.workspace_id AND p.id = a.account_id AND p.deleted_at IS NULL
    WHERE a.workspace_id = ${workspaceId} AND a.contact_id = ${contactId}
    UNION ALL
    SELECT 'deal', d.deal_id, NULL, p.created_at, 3
    FROM deal_contacts d JOIN deals p ON p.workspace_id = d.workspace_id AND p.id = d.deal_id AND p.deleted_at IS NULL
    WHERE d.workspace_id = ${workspaceId} AND d.contact_id = ${contactId}
    UNION ALL
    SELECT 'tag', t.tag_id, NULL, t.created_at, 4
    FROM contact_tags t JOIN tags p ON p.workspace_id = t.workspace_id AND p.id = t.tag_id AND p.deleted_at IS NULL
    WHERE t.workspace_id = ${workspaceId} AND t.contact_id = ${contactId}
    ORDER BY part, at, ref`.execute(db);
  const of = (kind: string) => rows.filter((r) => r.kind === kind);
  return {
    lists: of('list').map((r) => ({ listId: r.ref, status: r.detail as string })),
    accounts: of('account').map((r) => ({ accountId: r.ref, jobTitle: r.detail })),
    dealIds: of('deal').map((r) => r.ref),
    tags: of('tag').map((r) => r.ref),
  };
}

/** The association tables, each with the parent whose deletion keeps its rows from coming back. */
const associationTables = [
  { table: 'list_memberships', parent: 'lists', parentKey: 'list_id' },
  { table: 'account_contacts', parent: 'accounts', parentKey: 'account_id' },
  { table: 'deal_contacts', parent: 'deals', parentKey: 'deal_id' },
  { table: 'contact_tags', parent: 'tags', parentKey: 'tag_id' },
] as const;

/**
 * Seed 002: a restored contact comes back to lists, accounts, deals and tags unless they
 * were deleted. Reactivating it brings back the rows it kept; this removes those whose
 * list, account, deal or tag was deleted meanwhile, so they do not reappear on the deleted
 * record (a deleted list's member count, a deleted deal's contacts). One statement.
 */
export async function dropRowsOfDeletedParents(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  if (contactIds.length === 0) return;
  const deletes = associationTables.map(
    ({ table, parent, parentKey }) => sql`${sql.raw(`${table}_gone`)} AS (
      DELETE FROM ${sql.table(table)} a USING ${sql.table(parent)} p
      WHERE a.workspace_id = ${workspaceId} AND a.contact_id = ANY(${contactIds}::text[])
        AND p.workspace_id = ${workspaceId} AND p.id = a.${sql.ref(parentKey)} AND p.deleted_at IS NOT NULL)`,
  );
  await sql`WITH ${sql.join(deletes)} SELECT 1`.execute(tx);
}

export interface Candidate {
  id: string;
  status: string | null;
  tombstone: string | null;
  archived_at: Date | null;
  email: string | null;
  taken_by: string | null;
}

/**
 * Each requested id, in order, with its current status, its tombstone if purged, and the
 * other contact now holding its email, if any. Locks the contacts being restored.
 */
export async function candidates(tx: Tx, workspaceId: string, ids: string[]): Promise<Candidate[]> {
  const { rows: found } = await sql<Omit<Candidate, 'tombstone'>>`
    SELECT c.id, c.status, c.archived_at, c.email,
           (SELECT o.id FROM contacts o
            WHERE o.workspace_id = ${workspaceId} AND lower(o.email) = lower(c.email) AND o.status IN ('active', 'archived') AND o.id <> c.id
            LIMIT 1) AS taken_by
    FROM contacts c
    WHERE c.workspace_id = ${workspaceId} AND c.id = ANY(${ids}::text[])
    FOR UPDATE OF c`.execute(tx);
  const byId = new Map(found.map((c) => [c.id, c]));
  const missing = ids.filter((id) => !byId.has(id));
  const tombstones = new Map<string, string>();
  if (missing.length > 0) {
    const { rows } = await sql<{ contact_id: string; reason: string }>`
      SELECT contact_id, reason FROM contact_tombstones WHERE workspace_id = ${workspaceId} AND contact_id = ANY(${missing}::text[])`.execute(tx);
    for (const r of rows) tombstones.set(r.contact_id, r.reason);
  }
  return ids.map((id) => {
    const c = byId.get(id);
    return c
      ? { ...c, tombstone: null }
      : { id, status: null, tombstone: tombstones.get(id) ?? null, archived_at: null, email: null, taken_by: null };
  });
}

/** Back to active, with the original created date and the associations it kept; the recycle-bin and archive marks cleared. */
export async function reactivate(tx: Tx, workspaceId: string, ids: string[], at: Date): Promise<void> {
  await sql`
    UPDATE contacts SET status = 'active', deleted_at = NULL, deleted_by = NULL, archived_at = NULL, archived_by = NULL, updated_at = ${at}
    WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[])`.execute(tx);
}
