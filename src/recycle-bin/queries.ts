import { sql } from 'kysely';
import type { Tx } from '../db/database.js';

/**
 * The latest history image of each association row of these contacts. Rows whose latest
 * op is 'delete' were removed when the contact left (deleted or archived): those are
 * what a restore puts back.
 */
const removedAssociations = (workspaceId: string, contactIds: string[], table: string) => sql`
  SELECT DISTINCT ON (h.row_key) h.op, h.before
  FROM history h
  WHERE h.workspace_id = ${workspaceId} AND h.contact_id = ANY(${contactIds}::text[]) AND h.table_name = ${table}
  ORDER BY h.row_key, h.version DESC`;

/**
 * Re-applies the associations of restored contacts from history, by seed 002's table:
 * list memberships with their status unless the list was deleted; account links with
 * their job title unless the account was deleted; membership of deals that still exist,
 * never as primary (the deal's primary is left as it is, and the contact is added last);
 * tags unless deleted. Original created dates are kept. Four set-based statements.
 */
export async function reapplyAssociations(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  if (contactIds.length === 0) return;
  await sql`
    INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    SELECT ${workspaceId}, r.list_id, r.contact_id, r.status, r.created_at, r.updated_at
    FROM (${removedAssociations(workspaceId, contactIds, 'list_memberships')}) l
    CROSS JOIN LATERAL jsonb_populate_record(NULL::list_memberships, l.before) r
    JOIN lists x ON x.workspace_id = ${workspaceId} AND x.id = r.list_id AND x.deleted_at IS NULL
    WHERE l.op = 'delete'
    ON CONFLICT DO NOTHING`.execute(tx);
  await sql`
    INSERT INTO account_contacts (workspace_id, account_id, contact_id, job_title, created_at)
    SELECT ${workspaceId}, r.account_id, r.contact_id, r.job_title, r.created_at
    FROM (${removedAssociations(workspaceId, contactIds, 'account_contacts')}) l
    CROSS JOIN LATERAL jsonb_populate_record(NULL::account_contacts, l.before) r
    JOIN accounts x ON x.workspace_id = ${workspaceId} AND x.id = r.account_id AND x.deleted_at IS NULL
    WHERE l.op = 'delete'
    ON CONFLICT DO NOTHING`.execute(tx);
  await sql`
    INSERT INTO deal_contacts (workspace_id, deal_id, contact_id, added_at)
    SELECT ${workspaceId}, r.deal_id, r.contact_id, r.added_at
    FROM (${removedAssociations(workspaceId, contactIds, 'deal_contacts')}) l
    CROSS JOIN LATERAL jsonb_populate_record(NULL::deal_contacts, l.before) r
    JOIN deals x ON x.workspace_id = ${workspaceId} AND x.id = r.deal_id AND x.deleted_at IS NULL
    WHERE l.op = 'delete'
    ORDER BY r.added_seq
    ON CONFLICT DO NOTHING`.execute(tx);
  await sql`
    INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
    SELECT ${workspaceId}, r.contact_id, r.tag_id, r.created_at
    FROM (${removedAssociations(workspaceId, contactIds, 'contact_tags')}) l
    CROSS JOIN LATERAL jsonb_populate_record(NULL::contact_tags, l.before) r
    JOIN tags x ON x.workspace_id = ${workspaceId} AND x.id = r.tag_id AND x.deleted_at IS NULL
    WHERE l.op = 'delete'
    ON CONFLICT DO NOTHING`.execute(tx);
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
 * Each requested id with its current status, its tombstone if purged, and the other
 * contact now holding its email, if any. Locks the contacts being restored.
 */
export async function candidates(tx: Tx, workspaceId: string, ids: string[]): Promise<Candidate[]> {
  const { rows } = await sql<Candidate>`
    SELECT i.id, c.status, t.reason AS tombstone, c.archived_at, c.email,
           (SELECT o.id FROM contacts o
            WHERE o.workspace_id = ${workspaceId} AND lower(o.email) = lower(c.email) AND o.status IN ('active', 'archived') AND o.id <> c.id
            LIMIT 1) AS taken_by
    FROM unnest(${ids}::text[]) WITH ORDINALITY AS i(id, n)
    LEFT JOIN contacts c ON c.workspace_id = ${workspaceId} AND c.id = i.id
    LEFT JOIN contact_tombstones t ON t.workspace_id = ${workspaceId} AND t.contact_id = i.id
    ORDER BY i.n`.execute(tx);
  await sql`SELECT 1 FROM contacts WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[]) FOR UPDATE`.execute(tx);
  return rows;
}

/** Back to active, with the original created date; the recycle-bin and archive marks cleared. */
export async function reactivate(tx: Tx, workspaceId: string, ids: string[], at: Date): Promise<void> {
  await sql`
    UPDATE contacts SET status = 'active', deleted_at = NULL, deleted_by = NULL, archived_at = NULL, archived_by = NULL, updated_at = ${at}
    WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[])`.execute(tx);
}
