import { sql, type RawBuilder } from 'kysely';
import type { ChangeContext, Tx } from '../db/database.js';
import { batchOf, byKeys, fenced, keptToWorkspace, lookUp, workspaceIn } from '../db/keys.js';
import { pauseEnrollments, resumeEnrollments } from '../automations/enrollments.js';
import { mendDeals } from '../deals/service.js';
import { associationTables, columnsOf, contactsTable, dealsTable, holdsEmail, keyMatches, parentTables, type RolledBackTable } from './tables.js';
import { recordChangedSincePlan, type ChangedRow } from './skips.js';

/** The plan's rows of one rollback that a step writes: not skipped, and `which` holds. */
function planned(change: ChangeContext, rollbackId: string, table: RolledBackTable, which: RawBuilder<unknown>) {
  return sql`rt.workspace_id = ${change.workspaceId} AND rt.rollback_id = ${rollbackId} AND rt.table_name = ${table.tableName}
    AND rt.skip_reason IS NULL AND ${which}`;
}

/** Writes back the planned images of `table` (those that exist), inserting rows that are gone. */
async function writeImages(tx: Tx, change: ChangeContext, rollbackId: string, table: RolledBackTable, which: RawBuilder<unknown>): Promise<void> {
  const columns = await columnsOf(tx, table);
  const list = sql.join(columns.map((c) => sql.ref(c)));
  const settable = columns.filter((c) => c !== 'workspace_id' && !table.primaryKey.includes(c));
  await sql`
    INSERT INTO ${sql.table(table.tableName)} (${list})
    SELECT ${sql.join(columns.map((c) => sql`img.${sql.ref(c)}`))}
    FROM rollback_targets rt CROSS JOIN LATERAL jsonb_populate_record(NULL::${sql.table(table.tableName)}, rt.image) img
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
  const isFound = sql`${keptToWorkspace('t', change.workspaceId)} AND ${sql.join(['workspace_id', ...table.primaryKey].map((c) => sql`t.${sql.ref(c)} = found.${sql.ref(c)}`), sql` AND `)}`;
  const found = (still: RawBuilder<unknown>) =>
    sql`(SELECT ${keys} FROM ${absent} ${lookUp(table.tableName, 'live', sql`live.workspace_id = ${workspaceIn('rt', change.workspaceId)} AND ${keyMatches(table)}`, 'FOR UPDATE')}
         WHERE ${still}) found`;
  if (table.removal === 'hard') {
    await byKeys(tx, sql`DELETE FROM ${sql.table(table.tableName)} t USING ${found(sql`true`)} WHERE ${isFound}`);
  } else if (table.removal === 'soft') {
    await byKeys(tx, sql`UPDATE ${sql.table(table.tableName)} t SET deleted_at = ${change.at} FROM ${found(sql`live.deleted_at IS NULL`)} WHERE ${isFound}`);
  } else {
    // Created after the point: to the recycle bin, from which it can still be restored.
    await byKeys(tx, sql`
      UPDATE contacts t SET status = 'deleted', deleted_at = ${change.at}, deleted_by = ${change.actorId}, updated_at = ${change.at}
      FROM ${found(sql`live.status IN ('active', 'archived')`)} WHERE ${isFound}`);
  }
}

/**
 * The plan's rows of `table` that `which` picks and that changed after the plan saw them
 * (issue 19: a PATCH answered 200 between the plan and the batch must not be overwritten
 * in silence). Each row is looked up by its key and locked (FOR UPDATE, in key order, as
 * the batch then writes them), so nothing changes between this look and the batch's
 * writes: an edit that comes now waits for the batch and lands on top of it. `expected`
 * is the row as the plan saw it, as the job itself may have changed it since (jsonb).
 * Compared as the table's rows, not as jsonb text, so no time zone or key order matters.
 */
async function lockChangedSincePlan(
  tx: Tx,
  change: ChangeContext,
  rollbackId: string,
  table: RolledBackTable,
  which: RawBuilder<unknown>,
  expected: RawBuilder<unknown> = sql`rt.live`,
): Promise<{ row_key: string; contact_id: string | null }[]> {
  const { rows } = await sql<{ row_key: string; contact_id: string | null }>`
    SELECT rt.row_key, rt.contact_id
    FROM ${fenced(sql`SELECT rt.workspace_id, rt.row_key, rt.contact_id, ${expected} AS seen FROM rollback_targets rt WHERE ${planned(change, rollbackId, table, which)} ORDER BY rt.row_key`, 'rt')}
    LEFT JOIN LATERAL (
      SELECT live AS row, true AS found FROM ${sql.table(table.tableName)} live
      WHERE live.workspace_id = ${workspaceIn('rt', change.workspaceId)} AND ${keyMatches(table)} OFFSET 0 FOR UPDATE) now ON true
    WHERE CASE WHEN rt.seen IS NULL THEN now.found IS NOT NULL
               ELSE now.found IS NULL OR jsonb_populate_record(NULL::${sql.table(table.tableName)}, rt.seen) IS DISTINCT FROM now.row END`.execute(tx);
  return rows;
}

/** The latest change to each row (its history's last version): who changed it, when, how. */
async function latestChanges(tx: Tx, workspaceId: string, table: RolledBackTable, rows: { row_key: string; contact_id: string | null }[]): Promise<ChangedRow[]> {
  if (rows.length === 0) return [];
  const keys = rows.map((r) => r.row_key);
  // Each row's versions found by key (contact_history's hash index on id, history_row).
  const last =
    table === contactsTable
      ? sql`SELECT h.at, h.actor_id, h.origin FROM contact_history h WHERE h.id = k.key AND h.workspace_id = k.workspace_id ORDER BY h.version DESC LIMIT 1`
      : sql`SELECT h.at, h.actor_id, h.origin FROM history_entries h
            WHERE h.workspace_id = k.workspace_id AND h.table_name = ${table.tableName} AND h.row_key = k.key ORDER BY h.version DESC LIMIT 1`;
  const { rows: found } = await sql<{ key: string; at: Date | null; actor_id: string | null; origin: string | null }>`
    SELECT k.key, last.at, last.actor_id, last.origin FROM ${batchOf(workspaceId, keys)} LEFT JOIN LATERAL (${last}) last ON true ORDER BY k.n`.execute(tx);
  const byKey = new Map(found.map((f) => [f.key, f]));
  return rows.map((r) => {
    const f = byKey.get(r.row_key);
    return { tableName: table.tableName, rowKey: r.row_key, contactId: r.contact_id, at: f?.at ?? null, actorId: f?.actor_id ?? null, origin: f?.origin ?? null };
  });
}

/**
 * Locks the batch's contacts and their planned association rows, and leaves alone (skip
 * reason `changed_since_plan`, recorded with who changed them and when) each contact of
 * the batch of which one of those rows changed after the plan, with all its rows: the
 * later edit is kept whole. Contacts first, in id order, then each association table in
 * key order, as the batch writes them. Returns the rows found changed.
 */
async function skipContactsChangedSincePlan(
  tx: Tx,
  change: ChangeContext,
  rollbackId: string,
  contactIds: string[],
  released: boolean,
  tables: readonly RolledBackTable[],
): Promise<ChangedRow[]> {
  if (contactIds.length === 0) return [];
  const ws = change.workspaceId;
  // In the contacts phase a contact that changed its email left it for a moment in the
  // release phase: the job itself made it deleted, and that is what it expects to find.
  const movesEmail = sql`(${holdsEmail('rt.image')} AND rt.live IS NOT NULL AND ${holdsEmail('rt.live')} AND lower(rt.live->>'email') <> lower(rt.image->>'email'))`;
  const expected = released ? sql`CASE WHEN ${movesEmail} THEN rt.live || '{"status": "deleted"}'::jsonb ELSE rt.live END` : sql`rt.live`;
  const changed: ChangedRow[] = [];
  changed.push(...(await latestChanges(tx, ws, contactsTable, await lockChangedSincePlan(tx, change, rollbackId, contactsTable, sql`rt.row_key = ANY(${contactIds}::text[])`, expected))));
  for (const table of tables) {
    changed.push(...(await latestChanges(tx, ws, table, await lockChangedSincePlan(tx, change, rollbackId, table, sql`rt.contact_id = ANY(${contactIds}::text[])`))));
  }
  if (changed.length === 0) return changed;
  const contacts = [...new Set(changed.map((c) => c.contactId).filter((id): id is string => id !== null))];
  await sql`
    UPDATE rollback_targets rt SET skip_reason = 'changed_since_plan'
    WHERE rt.workspace_id = ${ws} AND rt.rollback_id = ${rollbackId} AND rt.skip_reason IS NULL AND rt.contact_id = ANY(${contacts}::text[])`.execute(tx);
  await recordChangedSincePlan(tx, ws, rollbackId, changed);
  return changed;
}

/**
 * A full rollback's lists, accounts, deals and tags: each changed after the plan is left
 * alone as a contact is (skip reason `changed_since_plan`, recorded). Locks them all.
 */
async function skipParentsChangedSincePlan(tx: Tx, change: ChangeContext, rollbackId: string): Promise<ChangedRow[]> {
  const changed: ChangedRow[] = [];
  for (const table of parentTables) {
    const rows = await latestChanges(tx, change.workspaceId, table, await lockChangedSincePlan(tx, change, rollbackId, table, sql`true`));
    if (rows.length === 0) continue;
    await sql`
      UPDATE rollback_targets rt SET skip_reason = 'changed_since_plan'
      WHERE rt.workspace_id = ${change.workspaceId} AND rt.rollback_id = ${rollbackId} AND rt.table_name = ${table.tableName}
        AND rt.row_key = ANY(${rows.map((r) => r.rowKey)}::text[])`.execute(tx);
    changed.push(...rows);
  }
  await recordChangedSincePlan(tx, change.workspaceId, rollbackId, changed);
  return changed;
}

/** Lists, accounts, deals and tags (full rollbacks only), before the contacts that point at them. */
export async function applyParents(tx: Tx, change: ChangeContext, rollbackId: string): Promise<ChangedRow[]> {
  const changed = await skipParentsChangedSincePlan(tx, change, rollbackId);
  for (const table of parentTables) {
    await removeAbsent(tx, change, rollbackId, table, sql`true`);
    await writeImages(tx, change, rollbackId, table, sql`true`);
  }
  return changed;
}

/**
 * The association tables of which the plan has rows to write for these contacts, in the
 * order they are written: a batch skips the others' statements (four lookups, removals
 * and inserts each that would find nothing, as for most contacts an undo sends to the bin).
 */
async function associationTablesPlannedFor(tx: Tx, change: ChangeContext, rollbackId: string, contactIds: string[]): Promise<RolledBackTable[]> {
  const { rows } = await sql<{ table_name: string }>`
    SELECT DISTINCT rt.table_name FROM rollback_targets rt
    WHERE rt.workspace_id = ${change.workspaceId} AND rt.rollback_id = ${rollbackId} AND rt.contact_id = ANY(${contactIds}::text[])
      AND rt.table_name <> 'contacts' AND rt.skip_reason IS NULL`.execute(tx);
  const planned = new Set(rows.map((r) => r.table_name));
  return associationTables.filter((t) => planned.has(t.tableName));
}

/**
 * Contacts that give up their email (they go back to deleted, merged or not existing)
 * take that state now, with their associations in the same transaction, so a later
 * restore from the bin brings back what the rollback removed. Contacts that will hold
 * another email leave theirs for a moment (their rows are written in applyContacts). So
 * when contacts take their emails back no unique key is in the way, whichever batch they
 * are in. Returns the batch's ids and how many contacts it finished.
 */
export async function releaseEmails(
  tx: Tx,
  change: ChangeContext,
  rollbackId: string,
  after: string,
  limit: number,
): Promise<{ ids: string[]; finished: number; changed: ChangedRow[] }> {
  // What each contact of the batch needs, read with the batch: a statement that would
  // find none of them is not sent, and the others name their contacts rather than look
  // the batch's plan rows up again.
  const { rows } = await sql<{ row_key: string; gone: boolean; absent: boolean; holds: boolean; leaves_active: boolean }>`
    SELECT rt.row_key, (rt.image IS NULL OR NOT ${holdsEmail('rt.image')}) AS gone, rt.image IS NULL AS absent,
      coalesce(${holdsEmail('rt.image')}, false) AS holds,
      coalesce((rt.live->>'status') = 'active' AND (rt.image IS NULL OR (rt.image->>'status') <> 'active'), false) AS leaves_active
    FROM rollback_targets rt
    WHERE ${planned(change, rollbackId, contactsTable, sql`rt.row_key > ${after}`)}
      AND (rt.image IS NULL OR NOT ${holdsEmail('rt.image')}
           OR (rt.live IS NOT NULL AND ${holdsEmail('rt.live')} AND lower(rt.live->>'email') <> lower(rt.image->>'email')))
    ORDER BY rt.row_key LIMIT ${limit}`.execute(tx);
  const ids = rows.map((r) => r.row_key);
  if (ids.length === 0) return { ids, finished: 0, changed: [] };
  const tables = await associationTablesPlannedFor(tx, change, rollbackId, ids);
  const changed = await skipContactsChangedSincePlan(tx, change, rollbackId, ids, false, tables);
  const kept = new Set(changed.map((c) => c.contactId));
  const written = rows.filter((r) => !kept.has(r.row_key));
  const keysOf = (which: (r: (typeof rows)[number]) => boolean) => written.filter(which).map((r) => r.row_key);
  const among = (keys: string[]) => sql`rt.row_key = ANY(${keys}::text[])`;
  const leaving = keysOf((r) => r.gone);
  const theirRows = sql`rt.contact_id = ANY(${leaving}::text[])`;
  for (const table of tables) await removeAbsent(tx, change, rollbackId, table, theirRows);
  const absent = keysOf((r) => r.absent);
  if (absent.length > 0) await removeAbsent(tx, change, rollbackId, contactsTable, among(absent));
  const backOutOfPlace = keysOf((r) => r.gone && !r.absent);
  if (backOutOfPlace.length > 0) await writeImages(tx, change, rollbackId, contactsTable, among(backOutOfPlace));
  for (const table of tables) await writeImages(tx, change, rollbackId, table, theirRows);
  const movingEmail = keysOf((r) => r.holds);
  if (movingEmail.length > 0) {
    await byKeys(tx, sql`
      UPDATE contacts live SET status = 'deleted'
      FROM ${plannedRows(change, rollbackId, contactsTable, among(movingEmail))}
      WHERE ${keptToWorkspace('live', change.workspaceId)} AND live.workspace_id = rt.workspace_id AND live.id = rt.row_key`);
  }
  const stopping = keysOf((r) => r.leaves_active);
  if (stopping.length > 0) await pauseEnrollments(tx, change.workspaceId, stopping, change.at);
  return { ids, finished: leaving.length, changed };
}

/**
 * A batch of contacts not finished by releaseEmails: their associations that did not
 * exist at the point go, the contacts take back their state (and email) at the point,
 * then their associations are written back.
 */
export async function applyContacts(
  tx: Tx,
  change: ChangeContext,
  rollbackId: string,
  after: string,
  limit: number,
  resumeAutomations: boolean,
): Promise<{ ids: string[]; changed: ChangedRow[] }> {
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
  if (ids.length === 0) return { ids, changed: [] };
  const tables = await associationTablesPlannedFor(tx, change, rollbackId, ids);
  const changed = await skipContactsChangedSincePlan(tx, change, rollbackId, ids, true, tables);
  const batch = sql`rt.contact_id = ANY(${ids}::text[])`;
  for (const table of tables) await removeAbsent(tx, change, rollbackId, table, batch);
  await writeImages(tx, change, rollbackId, contactsTable, batch);
  for (const table of tables) await writeImages(tx, change, rollbackId, table, batch);
  await pauseLeaving(tx, change, rollbackId, batch);
  if (resumeAutomations) {
    const returning = await contactsWhere(tx, change, rollbackId, sql`${batch} AND (rt.image->>'status') = 'active' AND (rt.live IS NULL OR (rt.live->>'status') <> 'active')`);
    await resumeEnrollments(tx, change.workspaceId, returning, change.at);
  }
  return { ids, changed };
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
  if (leaving.length > 0) await pauseEnrollments(tx, change.workspaceId, leaving, change.at);
}
