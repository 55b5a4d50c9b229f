/**
 * Contacts read and written many at once, set-based: an import's batch and an export's
 * pages. Each statement takes a whole batch as arrays (`unnest`), and finds rows by key (a
 * primary key, or the email index), the batch driving and the large table joined by its
 * key only (db/keys.ts, issue 15), so it needs no planner statistics. History is captured
 * by the table's triggers as for any write.
 */
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { batchOf, byKeys, fenced, lookUp } from '../db/keys.js';
import { cursorTime } from '../http/pagination.js';
import { liveTagNamesOf } from '../tags/service.js';
import type { ContactStatus } from './guards.js';
import { nameOrEmailMatches } from './search.js';

/**
 * The active and archived contacts holding these emails (lower case), each looked up by
 * the email index on its own (LATERAL … LIMIT 1; the status condition stays inside, as it
 * is the partial index's own), then locked by id in id order, as every bulk write of
 * contacts locks them, so none leaves or changes before commit. A holder that gave its
 * email up between the two statements is no holder.
 */
export async function lockHoldersOfEmails(tx: Tx, workspaceId: string, emails: string[]): Promise<Map<string, { id: string; status: ContactStatus }>> {
  if (emails.length === 0) return new Map();
  const { rows: found } = await byKeys(
    tx,
    sql<{ id: string }>`
      SELECT h.id FROM ${batchOf(workspaceId, emails)}
      CROSS JOIN LATERAL (
        SELECT c.id FROM contacts c
        WHERE c.workspace_id = k.workspace_id AND lower(c.email) = k.key AND c.status IN ('active', 'archived') LIMIT 1) h`,
  );
  if (found.length === 0) return new Map();
  const ids = found.map((r) => r.id).sort();
  const { rows } = await byKeys(
    tx,
    sql<{ id: string; email: string; status: ContactStatus }>`
      SELECT x.id, lower(x.email) AS email, x.status
      FROM ${batchOf(workspaceId, ids)} ${lookUp('contacts', 'x', sql`x.workspace_id = k.workspace_id AND x.id = k.key`, 'FOR UPDATE')}
      ORDER BY k.n`,
  );
  return new Map(rows.filter((r) => r.status === 'active' || r.status === 'archived').map((r) => [r.email, { id: r.id, status: r.status }]));
}

/** Contact columns of a batch, as parallel arrays. */
export interface ContactColumns {
  emails: string[];
  firstNames: (string | null)[];
  lastNames: (string | null)[];
  phones: (string | null)[];
  /** Custom fields as JSON text. */
  fields: string[];
}

/** Creates the contacts with the given ids. */
export async function insertContactBatch(tx: Tx, workspaceId: string, at: Date, ids: string[], c: ContactColumns): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    INSERT INTO contacts (workspace_id, id, email, first_name, last_name, phone, fields, created_at, updated_at)
    SELECT ${workspaceId}, r.id, r.email, r.first_name, r.last_name, r.phone, r.fields::jsonb, ${at}, ${at}
    FROM unnest(${ids}::text[], ${c.emails}::text[], ${c.firstNames}::text[], ${c.lastNames}::text[], ${c.phones}::text[], ${c.fields}::text[])
         AS r(id, email, first_name, last_name, phone, fields)`.execute(tx);
}

/**
 * Updates contacts from the batch: a value given replaces the contact's, an empty cell
 * (null) leaves it, custom fields are merged in. A contact the row would not change is not
 * written (no version in its history). The contacts are the batch's active holders, locked
 * since lockHoldersOfEmails: joined by key alone (a condition on status would let the planner
 * walk the workspace's active contacts by their index instead).
 */
export async function updateContactBatch(tx: Tx, workspaceId: string, at: Date, ids: string[], c: Omit<ContactColumns, 'emails'>): Promise<void> {
  if (ids.length === 0) return;
  const batch = fenced(
    sql`SELECT ${workspaceId}::text AS workspace_id, u.* FROM unnest(${ids}::text[], ${c.firstNames}::text[], ${c.lastNames}::text[], ${c.phones}::text[], ${c.fields}::text[])
        AS u(id, first_name, last_name, phone, fields)`,
    'r',
  );
  await byKeys(
    tx,
    sql`
      UPDATE contacts c SET
        first_name = coalesce(r.first_name, c.first_name),
        last_name = coalesce(r.last_name, c.last_name),
        phone = coalesce(r.phone, c.phone),
        fields = c.fields || r.fields::jsonb,
        updated_at = ${at}
      FROM ${batch}
      WHERE c.workspace_id = r.workspace_id AND c.id = r.id
        AND (c.first_name, c.last_name, c.phone, c.fields) IS DISTINCT FROM
            (coalesce(r.first_name, c.first_name), coalesce(r.last_name, c.last_name), coalesce(r.phone, c.phone), c.fields || r.fields::jsonb)`,
  );
}

/** What GET /contacts filters by, for an export. */
export interface ExportFilter {
  status: ContactStatus;
  q?: string;
}

/** The custom field names the matching contacts use, sorted. */
export async function exportFieldNames(db: Db, workspaceId: string, filter: ExportFilter): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT DISTINCT k.name FROM contacts c CROSS JOIN LATERAL jsonb_object_keys(c.fields) AS k(name)
    WHERE c.workspace_id = ${workspaceId} AND c.status = ${filter.status} AND ${nameOrEmailMatches(filter.q)}
    ORDER BY k.name`.execute(db);
  return rows.map((r) => r.name);
}

export async function countExported(db: Db, workspaceId: string, filter: ExportFilter): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.status = ${filter.status} AND ${nameOrEmailMatches(filter.q)}`.execute(db);
  return rows[0].n;
}

export interface ExportedContact {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  status: ContactStatus;
  created_at: Date;
  updated_at: Date;
  fields: Record<string, unknown>;
  tag_names: string | null;
  /** The keyset position: created_at to the microsecond. */
  created_key: string;
}

/**
 * A page of the matching contacts in GET /contacts' order (newest first), after the
 * position `after` ([created_at, id]); tags by name, as an import takes them.
 */
export async function exportPage(db: Db, workspaceId: string, filter: ExportFilter, after: [string, string] | null, limit: number): Promise<ExportedContact[]> {
  const { rows } = await sql<ExportedContact>`
    SELECT c.id, c.email, c.first_name, c.last_name, c.phone, c.status, c.created_at, c.updated_at, c.fields,
           ${liveTagNamesOf('c')} AS tag_names,
           ${cursorTime('c.created_at')} AS created_key
    FROM contacts c
    WHERE c.workspace_id = ${workspaceId} AND c.status = ${filter.status} AND ${nameOrEmailMatches(filter.q)}
      AND (${after?.[0] ?? null}::timestamptz IS NULL OR (c.created_at, c.id) < (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text))
    ORDER BY c.created_at DESC, c.id DESC
    LIMIT ${limit}`.execute(db);
  return rows;
}
