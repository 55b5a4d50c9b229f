import { sql, type RawBuilder } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { workspaceIn } from '../db/keys.js';
import { invalidState, notFound } from '../http/errors.js';

export type ContactStatus = 'active' | 'archived' | 'deleted' | 'merged';

/** The contact's status, locking its row; 404 when it does not exist in the workspace. */
export async function lockContact(tx: Tx | Db, workspaceId: string, contactId: string): Promise<ContactStatus> {
  const row = await tx
    .selectFrom('contacts')
    .select('status')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', contactId)
    .forUpdate()
    .$narrowType<{ status: ContactStatus }>()
    .executeTakeFirst();
  if (!row) throw notFound('Contact');
  return row.status;
}

/** Associations are only made with active contacts: 404 if missing, 409 otherwise. */
export async function requireActiveContact(tx: Tx, workspaceId: string, contactId: string): Promise<void> {
  const status = await lockContact(tx, workspaceId, contactId);
  if (status !== 'active') throw invalidState(`The contact is ${status}, not active`, { status });
}

/**
 * The association row `alias` (of list_memberships, account_contacts, deal_contacts or
 * contact_tags) belongs to an active contact. A deleted or archived contact keeps its
 * association rows, set aside with it, so a restore only has to bring the contact back;
 * every read of associations shows only those of active contacts.
 */
export function ofActiveContact(alias: string, workspaceId: string) {
  const row = sql.table(alias);
  // The contact's status looked up by its primary key for each row, and compared after:
  // with the status among the lookup's conditions, the planner may take the index by
  // (workspace, status), guess from no statistics that the workspace has a handful of
  // active contacts, and read them all for each row (db/keys.ts). On Citus the workspace
  // is a constant (workspaceIn; issue 20).
  return sql`(SELECT ac_c.status FROM contacts ac_c WHERE ac_c.workspace_id = ${workspaceIn(alias, workspaceId)} AND ac_c.id = ${row}.contact_id) = 'active'`;
}

/** A key of the join: an SQL expression (`sql\`e.contact_id\``) or a value. */
type JoinKey = RawBuilder<unknown> | string;

/**
 * Joins contacts, as `alias`, to the rows of another table by the contact's key: how a
 * feature reads the contacts its rows name (an enrollment's, a list member's, a
 * message's) without naming contacts' table itself (.ci/table-ownership.js). `active`
 * keeps only active contacts; `left` keeps the rows whose contact is missing.
 */
export function joinContact(alias: string, workspaceId: JoinKey, contactId: JoinKey, options: { active?: boolean; left?: boolean } = {}) {
  const c = sql.table(alias);
  return sql`${sql.raw(options.left ? 'LEFT JOIN' : 'JOIN')} contacts ${c} ON ${c}.workspace_id = ${workspaceId} AND ${c}.id = ${contactId}${options.active ? sql` AND ${c}.status = 'active'` : sql``}`;
}

/** Which of these contacts are active, each locked (FOR SHARE) against leaving meanwhile. */
export async function lockActiveContacts(tx: Tx, workspaceId: string, contactIds: string[]): Promise<Set<string>> {
  // The ids go as one array parameter (= any), not one each: one statement text however many contacts.
  const rows = await tx
    .selectFrom('contacts')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', (eb) => eb.fn.any(eb.val(contactIds)))
    .where('status', '=', 'active')
    .orderBy('id')
    .forShare()
    .execute();
  return new Set(rows.map((r) => r.id));
}
