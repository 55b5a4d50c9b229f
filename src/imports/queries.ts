/**
 * The SQL of imports and exports, set-based: each statement takes a whole batch as arrays
 * (`unnest`), so a batch of thousands of rows is a handful of statements. Every one finds
 * rows by key (a primary key, or the email index), the batch driving and the large table
 * joined by its key only (db/keys.ts, issue 15), so it needs no planner statistics.
 *
 * An import writes contacts and their lists, tags and accounts in bulk; the statements for
 * that are here rather than in the contacts, lists, tags and accounts modules, whose
 * services write one row at a time. History is captured by the tables' triggers as for
 * any write.
 */
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { batchOf, byKeys, fenced, lookUp } from '../db/keys.js';
import type { ContactStatus } from '../contacts/guards.js';
import { nameOrEmailMatches } from '../contacts/service.js';
import { cursorTime } from '../http/pagination.js';
import type { MembershipStatus } from '../lists/service.js';
import type { BadRow } from './rows.js';

/**
 * Notes each email (lower case) as the import's, with its line, and answers the emails
 * an earlier batch noted already, with their lines. The statement's snapshot does not see
 * its own inserts, so what it reads is exactly the earlier batches'. Each email is looked
 * up by the primary key (a LATERAL … LIMIT 1 the planner cannot turn into a scan of the
 * import's emails, which it would think one row without statistics).
 */
export async function claimEmails(tx: Tx, workspaceId: string, importId: string, emails: string[], lines: number[]): Promise<Map<string, number>> {
  if (emails.length === 0) return new Map();
  const { rows } = await sql<{ email: string; line: number }>`
    WITH given AS (SELECT * FROM unnest(${emails}::text[], ${lines}::int[]) AS g(email, line)),
    noted AS (
      INSERT INTO import_emails (workspace_id, import_id, email, line)
      SELECT ${workspaceId}, ${importId}, g.email, g.line FROM given g
      ON CONFLICT DO NOTHING)
    SELECT g.email, e.line FROM given g
    CROSS JOIN LATERAL (
      SELECT e.line FROM import_emails e
      WHERE e.workspace_id = ${workspaceId} AND e.import_id = ${importId} AND e.email = g.email LIMIT 1) e`.execute(tx);
  return new Map(rows.map((r) => [r.email, r.line]));
}

/**
 * Removes up to `limit` of the import's noted emails; answers how many went. The rows are
 * picked down the primary key and removed by their physical address (ctid), so neither
 * half can become a scan of the table.
 */
export async function forgetEmails(tx: Tx, workspaceId: string, importId: string, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM import_emails
    WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM import_emails WHERE workspace_id = ${workspaceId} AND import_id = ${importId} ORDER BY email LIMIT ${limit}))`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * The active and archived contacts holding these emails (lower case), each looked up by
 * the email index on its own (LATERAL … LIMIT 1; the status condition stays inside, as it
 * is the partial index's own), then locked by id in id order, as every bulk write of
 * contacts locks them, so none leaves or changes before commit. A holder that gave its
 * email up between the two statements is no holder.
 */
export async function holdersOfEmails(tx: Tx, workspaceId: string, emails: string[]): Promise<Map<string, { id: string; status: ContactStatus }>> {
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

export async function countActiveContacts(tx: Tx, workspaceId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM contacts WHERE workspace_id = ${workspaceId} AND status = 'active'`.execute(tx);
  return rows[0].n;
}

/**
 * Of these lists, the ones live in the workspace, held (FOR SHARE) so none is deleted
 * before the batch commits.
 */
export async function liveLists(db: Db | Tx, workspaceId: string, listIds: string[]): Promise<Set<string>> {
  if (listIds.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    SELECT id FROM lists WHERE workspace_id = ${workspaceId} AND id = ANY(${listIds}::text[]) AND deleted_at IS NULL FOR SHARE`.execute(db);
  return new Set(rows.map((r) => r.id));
}

/**
 * The live tag or account of each name (case-insensitive; the oldest when several share
 * it), making the missing ones with the name as first written. Answers lower-case name →
 * id, and how many were made.
 */
export async function namedRows(
  tx: Tx,
  table: 'tags' | 'accounts',
  workspaceId: string,
  at: Date,
  names: string[],
): Promise<{ ids: Map<string, string>; made: number }> {
  if (names.length === 0) return { ids: new Map(), made: 0 };
  const target = sql.table(table);
  const { rows } = await sql<{ key: string; id: string; made: boolean }>`
    WITH wanted AS (
      SELECT DISTINCT ON (lower(w.name)) w.name, lower(w.name) AS key
      FROM unnest(${names}::text[]) WITH ORDINALITY AS w(name, n) ORDER BY lower(w.name), w.n),
    found AS (
      SELECT DISTINCT ON (lower(t.name)) lower(t.name) AS key, t.id FROM ${target} t
      WHERE t.workspace_id = ${workspaceId} AND t.deleted_at IS NULL AND lower(t.name) IN (SELECT key FROM wanted)
      ORDER BY lower(t.name), t.created_at, t.id),
    made AS (
      INSERT INTO ${target} (workspace_id, name, created_at)
      SELECT ${workspaceId}, w.name, ${at} FROM wanted w WHERE w.key NOT IN (SELECT key FROM found)
      RETURNING lower(name) AS key, id)
    SELECT key, id, false AS made FROM found UNION ALL SELECT key, id, true AS made FROM made`.execute(tx);
  return { ids: new Map(rows.map((r) => [r.key, r.id])), made: rows.filter((r) => r.made).length };
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
export async function insertContacts(tx: Tx, workspaceId: string, at: Date, ids: string[], c: ContactColumns): Promise<void> {
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
 * since holdersOfEmails: joined by key alone (a condition on status would let the planner
 * walk the workspace's active contacts by their index instead).
 */
export async function updateContacts(tx: Tx, workspaceId: string, at: Date, ids: string[], c: Omit<ContactColumns, 'emails'>): Promise<void> {
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

/** Sets list statuses, adding memberships where needed; a status already set is not written again. */
export async function setMemberships(tx: Tx, workspaceId: string, at: Date, m: { contactIds: string[]; listIds: string[]; statuses: MembershipStatus[] }): Promise<void> {
  if (m.contactIds.length === 0) return;
  await sql`
    INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    SELECT ${workspaceId}, m.list_id, m.contact_id, m.status, ${at}, ${at}
    FROM unnest(${m.contactIds}::text[], ${m.listIds}::text[], ${m.statuses}::text[]) AS m(contact_id, list_id, status)
    ON CONFLICT (workspace_id, list_id, contact_id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
      WHERE list_memberships.status IS DISTINCT FROM EXCLUDED.status`.execute(tx);
}

/** Adds tags to contacts (a tag a contact has already stays as it is). */
export async function addContactTags(tx: Tx, workspaceId: string, at: Date, contactIds: string[], tagIds: string[]): Promise<void> {
  if (contactIds.length === 0) return;
  await sql`
    INSERT INTO contact_tags (workspace_id, contact_id, tag_id, created_at)
    SELECT ${workspaceId}, t.contact_id, t.tag_id, ${at} FROM unnest(${contactIds}::text[], ${tagIds}::text[]) AS t(contact_id, tag_id)
    ON CONFLICT DO NOTHING`.execute(tx);
}

/** Links contacts to accounts; a job title given replaces the link's, an empty one leaves it. */
export async function linkAccounts(
  tx: Tx,
  workspaceId: string,
  at: Date,
  l: { contactIds: string[]; accountIds: string[]; jobTitles: (string | null)[] },
): Promise<void> {
  if (l.contactIds.length === 0) return;
  await sql`
    INSERT INTO account_contacts (workspace_id, account_id, contact_id, job_title, created_at)
    SELECT ${workspaceId}, l.account_id, l.contact_id, l.job_title, ${at}
    FROM unnest(${l.contactIds}::text[], ${l.accountIds}::text[], ${l.jobTitles}::text[]) AS l(contact_id, account_id, job_title)
    ON CONFLICT (workspace_id, account_id, contact_id) DO UPDATE SET job_title = EXCLUDED.job_title
      WHERE EXCLUDED.job_title IS NOT NULL AND account_contacts.job_title IS DISTINCT FROM EXCLUDED.job_title`.execute(tx);
}

export async function insertErrors(tx: Tx, workspaceId: string, importId: string, bad: BadRow[]): Promise<void> {
  if (bad.length === 0) return;
  await sql`
    INSERT INTO import_errors (workspace_id, import_id, line, reason, message)
    SELECT ${workspaceId}, ${importId}, e.line, e.reason, e.message
    FROM unnest(${bad.map((b) => b.line)}::int[], ${bad.map((b) => b.reason)}::text[], ${bad.map((b) => b.message)}::text[]) AS e(line, reason, message)
    ON CONFLICT DO NOTHING`.execute(tx);
}

/** The import's bad rows after line `afterLine`, in line order. */
export async function errorsPage(db: Db, workspaceId: string, importId: string, afterLine: number, limit: number): Promise<BadRow[]> {
  const { rows } = await sql<BadRow>`
    SELECT line, reason, message FROM import_errors
    WHERE workspace_id = ${workspaceId} AND import_id = ${importId} AND line > ${afterLine}
    ORDER BY line LIMIT ${limit}`.execute(db);
  return rows;
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
           (SELECT string_agg(t.name, ';' ORDER BY ct.created_at, t.id) FROM contact_tags ct
            JOIN tags t ON t.workspace_id = ct.workspace_id AND t.id = ct.tag_id AND t.deleted_at IS NULL
            WHERE ct.workspace_id = c.workspace_id AND ct.contact_id = c.id AND c.status = 'active') AS tag_names,
           ${cursorTime('c.created_at')} AS created_key
    FROM contacts c
    WHERE c.workspace_id = ${workspaceId} AND c.status = ${filter.status} AND ${nameOrEmailMatches(filter.q)}
      AND (${after?.[0] ?? null}::timestamptz IS NULL OR (c.created_at, c.id) < (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text))
    ORDER BY c.created_at DESC, c.id DESC
    LIMIT ${limit}`.execute(db);
  return rows;
}
