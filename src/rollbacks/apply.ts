import { sql, type RawBuilder } from 'kysely';
import type { ChangeContext, Tx } from '../db/database.js';
import { byKeys, fenced, lookUp } from '../db/keys.js';
import { pauseEnrollments, resumeEnrollments } from '../automations/enrollments.js';
import { mendDeals } from '../deals/service.js';
import { associationTables, columnsOf, contactsTable, dealsTable, holdsEmail, keyMatches, parentTables, type RolledBackTable } from './tables.js';

/** The plan's rows of one rollback that a step writes: not skipped, and `which` holds. */
function planned(change: ChangeContext, rollbackId: string, table: RolledBackTable, which: RawBuilder<unknown>) {
  return sql`rt.workspace_id = ${change.workspaceId} AND rt.rollback_id = ${rollbackId} AND rt.table_name = ${table.name}
    AND rt.skip_reason IS NULL AND ${which}`;
}

/** Writes back the planned images of `table` (those that exist), inserting rows that are gone. */
async function writeImages(tx: Tx, change: ChangeContext, rollbackId: string, table: RolledBackTable, which: RawBuilder<unknown>): Promise<void> {
  const columns = await columnsOf(tx, table);
  const list = sql.join(columns.map((c) => sql.ref(c)));
  const settable = columns.filter((c) => c !== 'workspace_id' && !table.primaryKey.includes(c));
  await sql`
    INSERT INTO ${sql.table(table.name)} (${list})
    SELECT ${sql.join(columns.map((c) => sql`img.${sql.ref(c)}`))}
    FROM rollback_targets rt CROSS JOIN LATERAL jsonb_populate_record(NULL::${sql.table(table.name)}, rt.image) img
    WHERE ${planned(change, rollbackId, table, sql`rt.image IS NOT NULL AND ${which}`)}
    -- rows locked in key order, as a contact delete locks deals: no deadlock between them
    ORDER BY rt.row_key
    ON CONFLICT (workspace_id, ${sql.join(table.primaryKey.map((c) => sql.ref(c)))}) DO UPDATE SET
      ${sql.join(settable.map((c) => sql`${sql.ref(c)} = excluded.${sql.ref(c)}`))}`.execute(tx);
}

/**
 * The plan's rows of `table` that `which` picks, as the driving side of a join to the live
 * table by key (db/keys.ts: the live table is then looked up row by row, whatever its
 * statistics say).
 */
function plannedRows(change: ChangeContext, rollbackId: string, table: RolledBackTable, which: RawBuilder<unknown>) {
  return fenced(sql`SELECT rt.workspace_id, rt.row_key FROM rollback_targets rt WHERE ${planned(change, rollbackId, table, which)}`, 'rt');
}

/**
 * Rows that did not exist at the point go the way such rows go (see Removal). Each is
 * looked up by its key and locked (db/keys.ts); those still there to remove are then
 * written by that key alone.
 */
async function removeAbsent(tx: Tx, change: ChangeContext, rollbackId: string, table: RolledBackTable, which: RawBuilder<unknown>): Promise<void> {
  const absent = plannedRows(change, rollbackId, table, sql`rt.image IS NULL AND ${which}`);
  const keys = sql.join(['workspace_id', ...table.primaryKey].map((c) => sql`live.${sql.ref(c)}`));
  const isFound = sql.join(['workspace_id', ...table.primaryKey].map((c) => sql`t.${sql.ref(c)} = found.${sql.ref(c)}`), sql` AND `);
  const found = (still: RawBuilder<unknown>) =>
    sql`(SELECT ${keys} FROM ${absent} ${lookUp(table.name, 'live', sql`live.workspace_id = rt.workspace_id AND ${keyMatches(table)}`, 'FOR UPDATE')}
         WHERE ${still}) found`;
  if (table.removal === 'hard') {
    await byKeys(tx, sql`DELETE FROM ${sql.table(table.name)} t USING ${found(sql`true`)} WHERE ${isFound}`);
  } else if (table.removal === 'soft') {
    await byKeys(tx, sql`UPDATE ${sql.table(table.name)} t SET deleted_at = ${change.at} FROM ${found(sql`live.deleted_at IS NULL`)} WHERE ${isFound}`);
  } else {
    // Created after the point: to the recycle bin, from which it can still be restored.
    await byKeys(tx, sql`
      UPDATE contacts t SET status = 'deleted', deleted_at = ${change.at}, deleted_by = ${change.actorId}, updated_at = ${change.at}
      FROM ${found(sql`live.status IN ('active', 'archived')`)} WHERE ${isFound}`);
  }
}

/** Lists, accounts, deals and tags (full rollbacks only), before the contacts that point at them. */
export async function applyParents(tx: Tx, change: ChangeContext, rollbackId: string): Promise<void> {
  for (const table of parentTables) {
    await removeAbsent(tx, change, rollbackId, table, sql`true`);
    await writeImages(tx, change, rollbackId, table, sql`true`);
  }
}

/**
 * Contacts that give up their email (they go back to deleted, merged or not existing)
 * take that state now, with their associations in the same transaction, so a later
 * restore from the bin brings back what the rollback removed. Contacts that will hold
 * another email leave theirs for a moment (their rows are written in applyContacts). So
 * when contacts take their emails back no unique key is in the way, whichever batch they
 * are in. Returns the batch's ids and how many contacts it finished.
 */
export async function releaseEmails(tx: Tx, change: ChangeContext, rollbackId: string, after: string, limit: number): Promise<{ ids: string[]; finished: number }> {
  const { rows } = await sql<{ row_key: string; gone: boolean }>`
    SELECT rt.row_key, (rt.image IS NULL OR NOT ${holdsEmail('rt.image')}) AS gone FROM rollback_targets rt
    WHERE ${planned(change, rollbackId, contactsTable, sql`rt.row_key > ${after}`)}
      AND (rt.image IS NULL OR NOT ${holdsEmail('rt.image')}
           OR (rt.live IS NOT NULL AND ${holdsEmail('rt.live')} AND lower(rt.live->>'email') <> lower(rt.image->>'email')))
    ORDER BY rt.row_key LIMIT ${limit}`.execute(tx);
  const ids = rows.map((r) => r.row_key);
  if (ids.length === 0) return { ids, finished: 0 };
  const batch = sql`rt.row_key = ANY(${ids}::text[])`;
  const leaving = rows.filter((r) => r.gone).map((r) => r.row_key);
  const theirRows = sql`rt.contact_id = ANY(${leaving}::text[])`;
  for (const table of associationTables) await removeAbsent(tx, change, rollbackId, table, theirRows);
  await removeAbsent(tx, change, rollbackId, contactsTable, batch);
  await writeImages(tx, change, rollbackId, contactsTable, sql`${batch} AND NOT ${holdsEmail('rt.image')}`);
  for (const table of associationTables) await writeImages(tx, change, rollbackId, table, theirRows);
  await byKeys(tx, sql`
    UPDATE contacts live SET status = 'deleted'
    FROM ${plannedRows(change, rollbackId, contactsTable, sql`${batch} AND ${holdsEmail('rt.image')}`)}
    WHERE live.workspace_id = rt.workspace_id AND live.id = rt.row_key`);
  await pauseLeaving(tx, change, rollbackId, batch);
  return { ids, finished: leaving.length };
}

/**
 * A batch of contacts not finished by releaseEmails: their associations that did not
 * exist at the point go, the contacts take back their state (and email) at the point,
 * then their associations are written back.
 */
export async function applyContacts(tx: Tx, change: ChangeContext, rollbackId: string, after: string, limit: number, resumeAutomations: boolean): Promise<string[]> {
  const { rows } = await sql<{ contact_id: string }>`
    SELECT DISTINCT rt.contact_id FROM rollback_targets rt
    WHERE rt.workspace_id = ${change.workspaceId} AND rt.rollback_id = ${rollbackId} AND rt.skip_reason IS NULL
      AND rt.contact_id > ${after}
      AND NOT EXISTS (
        SELECT 1 FROM rollback_targets c
        WHERE c.workspace_id = ${change.workspaceId} AND c.rollback_id = ${rollbackId} AND c.table_name = 'contacts'
          AND c.row_key = rt.contact_id AND (c.image IS NULL OR NOT ${holdsEmail('c.image')}))
    ORDER BY rt.contact_id LIMIT ${limit}`.execute(tx);
  const ids = rows.map((r) => r.contact_id);
  if (ids.length === 0) return ids;
  const batch = sql`rt.contact_id = ANY(${ids}::text[])`;
  for (const table of associationTables) await removeAbsent(tx, change, rollbackId, table, batch);
  await writeImages(tx, change, rollbackId, contactsTable, batch);
  for (const table of associationTables) await writeImages(tx, change, rollbackId, table, batch);
  await pauseLeaving(tx, change, rollbackId, batch);
  if (resumeAutomations) {
    const returning = await contactsWhere(tx, change, rollbackId, sql`${batch} AND (rt.image->>'status') = 'active' AND (rt.live IS NULL OR (rt.live->>'status') <> 'active')`);
    await resumeEnrollments(tx, change.workspaceId, returning);
  }
  return ids;
}

/**
 * A partial rollback writes no deal, yet the contacts it takes out of active (to the
 * recycle bin or the archive) and the deal links it removes leave their deals as a
 * delete does (seed 002): a deal with no active contact left is
 * deleted, one whose primary left gets the earliest-added active contact as primary.
 * Done once every batch is written: a contact revived in a later batch keeps a deal
 * alive. Deals are locked in id order, as a contact delete locks them. Returns the ids of
 * the deals deleted and of those given a new primary.
 */
export async function mendDealsOfRolledBackContacts(tx: Tx, change: ChangeContext, rollbackId: string): Promise<{ deleted: string[]; repointed: string[] }> {
  const ws = change.workspaceId;
  const plannedContacts = sql`SELECT rt.row_key FROM rollback_targets rt WHERE ${planned(change, rollbackId, contactsTable, sql`true`)}`;
  const { rows } = await sql<{ id: string }>`
    SELECT d.id FROM deals d
    WHERE d.workspace_id = ${ws} AND d.deleted_at IS NULL
      -- an undo's own deal rows too: one it brings back may name a contact it skipped
      AND (d.id IN (SELECT rt.row_key FROM rollback_targets rt WHERE ${planned(change, rollbackId, dealsTable, sql`true`)})
           OR d.primary_contact_id IN (${plannedContacts})
           OR d.id IN (SELECT split_part(rt.row_key, ':', 1) FROM rollback_targets rt
                       WHERE rt.workspace_id = ${ws} AND rt.rollback_id = ${rollbackId} AND rt.table_name = 'deal_contacts' AND rt.skip_reason IS NULL)
           OR d.id IN (SELECT dc.deal_id FROM deal_contacts dc WHERE dc.workspace_id = ${ws} AND dc.contact_id IN (${plannedContacts})))
    ORDER BY d.id
    FOR UPDATE OF d`.execute(tx);
  return mendDeals(tx, ws, rows.map((r) => r.id), change.at);
}

async function contactsWhere(tx: Tx, change: ChangeContext, rollbackId: string, which: RawBuilder<unknown>): Promise<string[]> {
  const { rows } = await sql<{ row_key: string }>`
    SELECT rt.row_key FROM rollback_targets rt WHERE ${planned(change, rollbackId, contactsTable, which)}`.execute(tx);
  return rows.map((r) => r.row_key);
}

/** Contacts active now and not at the point stop their automations, keeping their step. */
async function pauseLeaving(tx: Tx, change: ChangeContext, rollbackId: string, which: RawBuilder<unknown>): Promise<void> {
  const leaving = await contactsWhere(tx, change, rollbackId, sql`${which} AND (rt.live->>'status') = 'active' AND (rt.image IS NULL OR (rt.image->>'status') <> 'active')`);
  if (leaving.length > 0) await pauseEnrollments(tx, change.workspaceId, leaving);
}
