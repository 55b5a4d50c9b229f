import { sql } from 'kysely';
import type { ChangeContext, Tx } from '../db/database.js';
import { notFound } from '../http/errors.js';
import { recordAudit } from '../audit/service.js';
import { binTables, type ObjectType } from './queries.js';

const typeNames: Record<ObjectType, string> = { list: 'List', account: 'Account', deal: 'Deal', tag: 'Tag', form: 'Form', automation: 'Automation' };

/**
 * Deletes a live list, account, deal, tag, form or automation of the workspace: to the
 * bin of GET /deleted-objects, keeping every association row it holds (queries.ts), with
 * who and when, and the audit entry `<type>.deleted`. One already deleted, or not the
 * workspace's, is 404. Each feature's DELETE route calls this in its transaction.
 *
 * ```ts
 * await inTransaction(db, change, (tx) => moveToBin(tx, change, 'list', listId));
 * ```
 */
export async function moveToBin(tx: Tx, change: ChangeContext, type: ObjectType, id: string): Promise<void> {
  const { rows } = await sql`
    UPDATE ${sql.table(binTables[type].table)} SET deleted_at = ${change.at}, deleted_by = ${change.actorId}
      ${type === 'deal' ? sql`, updated_at = ${change.at}` : sql``}
    WHERE workspace_id = ${change.workspaceId} AND id = ${id} AND deleted_at IS NULL RETURNING id`.execute(tx);
  if (rows.length === 0) throw notFound(typeNames[type]);
  await recordAudit(tx, change, { action: `${type}.deleted`, targetType: type, targetId: id });
}
