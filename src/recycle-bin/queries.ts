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

/** The tables of a contact's associations: a deleted or archived contact keeps its rows. */
const associationTables = ['list_memberships', 'account_contacts', 'deal_contacts', 'contact_tags'] as const;

/**
 * Re-applies the associations of restored contacts that left with their rows removed
 * (deleted before rows were set aside, or sent to the bin by a rollback), by seed 002's
 * table: list memberships with their status unless the list was deleted; account links
 * with their job title unless the account was deleted; membership of deals that still
 * exist, never as primary; tags unless deleted.
 *
 * The rows are those deleted by the transaction that took each contact from active to
 * deleted or archived (found from the contact's own history entry); an association
 * removed on purpose before that stays removed. Contacts that kept their rows set aside
 * need none of this: reactivating them brings their associations back, and reads leave
 * out those whose list, account, deal or tag is deleted.
 */
export async function reapplyRemovedAssociations(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  if (contactIds.length === 0) return;
  // The batch's history images are sorted in memory rather than in temporary files, and
  // by bytes ("C"): keys are only grouped, and the database's collation made the sort
  // several times slower.
  await sql`SET LOCAL work_mem = '64MB'`.execute(tx);
  await sql`
    WITH departure AS MATERIALIZED (
      SELECT c.id, (
        SELECT h.txid FROM history h
        WHERE h.workspace_id = ${workspaceId} AND h.contact_id = c.id AND h.table_name = 'contacts' AND h.op = 'update'
          AND h.before->>'status' = 'active' AND h.after->>'status' <> 'active'
        ORDER BY h.version DESC LIMIT 1) AS txid
      FROM unnest(${contactIds}::text[]) AS c(id)
    ), removed AS MATERIALIZED (
      SELECT DISTINCT ON (h.table_name COLLATE "C", h.row_key COLLATE "C") h.table_name, h.op, h.before
      FROM departure d
      JOIN history h ON h.workspace_id = ${workspaceId} AND h.contact_id = d.id AND h.txid = d.txid
      WHERE h.table_name IN ('list_memberships', 'account_contacts', 'deal_contacts', 'contact_tags')
      ORDER BY h.table_name COLLATE "C", h.row_key COLLATE "C", h.version DESC
    ), list_rows AS (
      INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
      SELECT ${workspaceId}, r.list_id, r.contact_id, r.status, r.created_at, r.updated_at
      FROM removed l
      CROSS JOIN LATERAL jsonb_populate_record(NULL::list_memberships, l.before) r
      JOIN lists x ON x.workspace_id = ${workspaceId} AND x.id = r.list_id AND x.deleted_at IS NULL
      WHERE l.table_name = 'list_memberships' AND l.op = 'delete'
      ON CONFLICT DO NOTHING
    ), account_rows AS (
      INSERT INTO account_contacts (workspace_id, account_id, contact_id, job_title, created_at)
      SELECT ${workspaceId}, r.account_id, r.contact_id, r.job_title, r.created_at
      FROM removed l
      CROSS JOIN LATERAL jsonb_populate_record(NULL::account_contacts, l.before) r
      JOIN accounts x ON x.workspace_id = ${workspaceId} AND x.id = r.account_id AND x.deleted_at IS NULL
      WHERE l.table_name = 'account_contacts' AND l.op = 'delete'
      ON CONFLICT DO NOTHING
    ), deal_rows AS (
      INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_at)
      SELECT ${workspaceId}, r.deal_id, r.contact_id, r.added_at
      FROM removed l
      CROSS JOIN LATERAL jsonb_populate_record(NULL::deal_contacts, l.before) r
      JOIN deals x ON x.workspace_id = ${workspaceId} AND x.id = r.deal_id AND x.deleted_at IS NULL
      WHERE l.table_name = 'deal_contacts' AND l.op = 'delete'
      ORDER BY r.added_seq
      ON CONFLICT DO NOTHING
    ), tag_rows AS (
      INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
      SELECT ${workspaceId}, r.contact_id, r.tag_id, r.created_at
      FROM removed l
      CROSS JOIN LATERAL jsonb_populate_record(NULL::contact_tags, l.before) r
      JOIN tags x ON x.workspace_id = ${workspaceId} AND x.id = r.tag_id AND x.deleted_at IS NULL
      WHERE l.table_name = 'contact_tags' AND l.op = 'delete'
      ON CONFLICT DO NOTHING
    )
    SELECT 1`.execute(tx);
}

export interface Candidate {
  id: string;
  status: string | null;
  tombstone: string | null;
  archived_at: Date | null;
  email: string | null;
  taken_by: string | null;
  /** It has association rows, set aside while it was away. */
  has_associations: boolean;
}

/**
 * Each requested id, in order, with its current status, its tombstone if purged, the
 * other contact now holding its email, if any, and whether it kept association rows.
 * Locks the contacts being restored.
 */
export async function candidates(tx: Tx, workspaceId: string, ids: string[]): Promise<Candidate[]> {
  const { rows: found } = await sql<Omit<Candidate, 'tombstone'>>`
    SELECT c.id, c.status, c.archived_at, c.email,
           (SELECT o.id FROM contacts o
            WHERE o.workspace_id = ${workspaceId} AND lower(o.email) = lower(c.email) AND o.status IN ('active', 'archived') AND o.id <> c.id
            LIMIT 1) AS taken_by,
           (${sql.join(
             associationTables.map((table) => sql`EXISTS (SELECT 1 FROM ${sql.table(table)} a WHERE a.workspace_id = ${workspaceId} AND a.contact_id = c.id)`),
             sql` OR `,
           )}) AS has_associations
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
      : { id, status: null, tombstone: tombstones.get(id) ?? null, archived_at: null, email: null, taken_by: null, has_associations: false };
  });
}

/** Back to active, with the original created date and the associations it kept; the recycle-bin and archive marks cleared. */
export async function reactivate(tx: Tx, workspaceId: string, ids: string[], at: Date): Promise<void> {
  await sql`
    UPDATE contacts SET status = 'active', deleted_at = NULL, deleted_by = NULL, archived_at = NULL, archived_by = NULL, updated_at = ${at}
    WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[])`.execute(tx);
}
