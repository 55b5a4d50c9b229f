import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { invalidState, notFound } from '../http/errors.js';

export type ContactStatus = 'active' | 'archived' | 'deleted' | 'merged';

/** The contact's status, locking its row; 404 when it does not exist in the workspace. */
export async function lockContact(tx: Tx | Db, workspaceId: string, contactId: string): Promise<ContactStatus> {
  const { rows } = await sql<{ status: ContactStatus }>`
    SELECT status FROM contacts WHERE workspace_id = ${workspaceId} AND id = ${contactId} FOR UPDATE`.execute(tx);
  if (!rows[0]) throw notFound('Contact');
  return rows[0].status;
}

/** Associations are only made with active contacts: 404 if missing, 409 otherwise. */
export async function requireActiveContact(tx: Tx, workspaceId: string, contactId: string): Promise<void> {
  const status = await lockContact(tx, workspaceId, contactId);
  if (status !== 'active') throw invalidState(`The contact is ${status}, not active`, { status });
}
