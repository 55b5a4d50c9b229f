import type { AppContext } from '../context.js';
import type { ChangeContext, Db } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { decodeCursor, toPage, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { mendDeals } from '../deals/service.js';
import { retentionDaysOf } from '../workspaces/service.js';
import {
  dealsWithActiveContacts,
  dueForPurge,
  lockObjects,
  objectTypes,
  removeObjectsForGood,
  selectBinned,
  undelete,
  type BinFilter,
  type ObjectType,
} from './queries.js';

export { objectTypes, type ObjectType } from './queries.js';

export interface DeletedObject {
  type: ObjectType;
  id: string;
  name: string;
  deletedAt: string;
  deletedBy: string | null;
}

/**
 * The workspace's deleted lists, accounts, deals, tags, forms and automations (or those
 * of one type), newest deletion first: each with who deleted it and when. `q` matches
 * the name (a deal's title); `from`/`to` bound the deletion time, inclusive.
 */
export async function listDeletedObjects(db: Db, workspaceId: string, query: BinFilter & PageRequest & { type?: ObjectType }): Promise<Page<DeletedObject>> {
  const after = decodeCursor(query.cursor, ['timestamp', 'text']);
  const rows = await selectBinned(db, workspaceId, query.type ? [query.type] : objectTypes, query, after, query.limit + 1);
  return toPage(rows, query.limit, (r) => [r.deleted_key, r.id], (r) => ({
    type: r.type,
    id: r.id,
    name: r.name,
    deletedAt: r.deleted_at.toISOString(),
    deletedBy: r.deleted_by,
  }));
}

export interface ObjectRestore {
  restored: string[];
  skipped: { id: string; reason: ObjectSkipReason }[];
}

/**
 * Why an object was not restored: `not_found` (no such object in this workspace, another
 * workspace's, or purged), `not_deleted` (it is not in the bin), `no_active_contact` (a
 * deal none of whose contacts is active: seed 002, such a deal is not restored).
 */
export type ObjectSkipReason = 'not_found' | 'not_deleted' | 'no_active_contact';

/**
 * Restores deleted objects of one type, in one transaction, with what they held (the rows
 * never left: queries.ts):
 * - a list with its memberships and their statuses, an account with its contact links
 *   and job titles, a tag on its contacts: those of contacts still active show at once,
 *   those of contacts in the bin come back when the contact does;
 * - a deal with its contacts in the order they were added; its primary stays if still
 *   active, else the earliest-added active contact becomes primary (seed 002, mendDeals);
 *   a deal with no active contact left is skipped (`no_active_contact`);
 * - a form with its list: if that list is in the bin too, the form is restored anyway,
 *   still naming it, and subscribes nobody until the list is restored (what a user who
 *   restores both, in either order, expects: neither loses the other);
 * - an automation paused: it sends nothing and moves no enrollment until a user resumes
 *   it (POST /automations/:id/resume).
 * Nothing is enrolled and no event is emitted (seed 002: restoring triggers no
 * automation). Ids that name nothing of this workspace are skipped as `not_found`, as a
 * restore job skips them. Each restored object writes history (the tables' triggers) and
 * an audit entry `<type>.restored`.
 */
export async function restoreDeletedObjects(db: Db, change: ChangeContext, type: ObjectType, ids: string[]): Promise<ObjectRestore> {
  const wanted = [...new Set(ids)];
  return inTransaction(db, change, async (tx) => {
    const ws = change.workspaceId;
    const found = await lockObjects(tx, ws, type, wanted);
    const skipped: ObjectRestore['skipped'] = [];
    let restorable: string[] = [];
    for (const id of wanted) {
      const object = found.get(id);
      if (!object) skipped.push({ id, reason: 'not_found' });
      else if (!object.deleted) skipped.push({ id, reason: 'not_deleted' });
      else restorable.push(id);
    }
    if (type === 'deal' && restorable.length > 0) {
      const staffed = await dealsWithActiveContacts(tx, ws, restorable);
      for (const id of restorable.filter((d) => !staffed.has(d))) skipped.push({ id, reason: 'no_active_contact' });
      restorable = restorable.filter((d) => staffed.has(d));
    }
    if (restorable.length > 0) {
      await undelete(tx, ws, type, restorable, change.at);
      if (type === 'deal') {
        // Its contacts were checked above under the deals' locks; a deal whose last active
        // contact left meanwhile goes back to the bin here, and is reported so.
        const { deleted } = await mendDeals(tx, ws, restorable, change.at);
        for (const id of deleted) skipped.push({ id, reason: 'no_active_contact' });
        restorable = restorable.filter((d) => !deleted.includes(d));
      }
      await recordAudit(tx, change, ...restorable.map((id) => ({ action: `${type}.restored`, targetType: type, targetId: id })));
    }
    return { restored: restorable, skipped };
  });
}

const dayMs = 86_400_000;
const purgeBatchSize = 500;

/**
 * Purges for good the objects deleted more than the workspace's `deletedDays` ago, as
 * deleted contacts are (retention/service.ts), each batch in one transaction with an
 * audit entry `<type>.purged` per object. Returns how many were purged.
 */
export async function purgeExpiredObjects(ctx: AppContext, workspaceId: string | null): Promise<number> {
  let purged = 0;
  for (const ws of await retentionDaysOf(ctx.db, workspaceId)) {
    for (const type of objectTypes) {
      for (;;) {
        const now = ctx.clock.now();
        const due = await dueForPurge(ctx.db, ws.id, type, new Date(now.getTime() - ws.deleted_days * dayMs), purgeBatchSize);
        if (due.length === 0) break;
        const change: ChangeContext = { workspaceId: ws.id, actorId: null, origin: 'system', at: now };
        await inTransaction(ctx.db, change, async (tx) => {
          await removeObjectsForGood(tx, ws.id, type, due);
          await recordAudit(tx, change, ...due.map((id) => ({ action: `${type}.purged`, targetType: type, targetId: id })));
        });
        purged += due.length;
      }
    }
  }
  return purged;
}
