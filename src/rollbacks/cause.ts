import { sql, type RawBuilder } from 'kysely';
import type { Tx } from '../db/database.js';
import { associationTables, contactsTable, rolledBackTables } from './tables.js';
import { analyzeWorkTable, inDistributedMode, versionsOfContact, withPlannerOff, workspaceIn } from '../db/keys.js';
import type { PlanUse } from './plan.js';

/**
 * The plan of an undo by cause (issue 17): the rows one cause wrote — the change sets of
 * `txids` — put back as they were before it, field by field, keeping what anyone else
 * changed since. Written as a rollback's plan is (rollback_targets: each row's image to
 * write and the row as it is now), so an undo is written back by the rollback's own steps;
 * the fields it leaves as others later set them, or overrides, go to undo_conflicts.
 *
 * For each row the cause touched: `b`, the row before the cause's first write to it;
 * `a`, as the cause's last write left it; `l`, as it is now. For each field the cause
 * changed (b ≠ a): if it is still as the cause left it (l = a), it goes back to b; if it is
 * already back (l = b), nothing; else someone changed it since: a conflict, kept as they
 * set it, or undone all the same with `undoAnyway`. A contact's status and the columns
 * that go with it (when and by whom deleted, archived, merged) go back together, as its
 * status decides. A row the cause made goes (a contact to the recycle bin) unless someone
 * changed it since; a row it removed comes back unless someone made it again otherwise.
 */
export interface CausePlan {
  txids: string[];
  undoAnyway: boolean;
  /** An unmerge: a deal's primary goes back too (other undos leave a primary that passed on when its contact left, as a restore does: seed 002). */
  merge: boolean;
  /** When the plan is made: the time of the rows it changes. */
  at: Date;
}

/** Columns that say when a row was last changed: never a conflict, set to the undo's time. */
const bookkeeping = ['updated_at'];
/** A contact's status and the columns that go with it: undone together, as the status decides. */
const statusColumns = ['status', 'deleted_at', 'deleted_by', 'archived_at', 'archived_by', 'merged_into', 'merged_at'];
/** Key columns, the same in every image of a row. */
const keyColumns = ['workspace_id', 'id'];

/**
 * Decides each row's image and conflicts from `ends` (table_name, row_key, contact_id, b,
 * a, l, later_at, later_by, untouched: nobody wrote the row since the cause, and then `a`
 * is not stored, being `l`; images as jsonb), writes the rows to change into
 * rollback_targets and the conflicts into undo_conflicts, numbered from `firstPosition`.
 * `binnedBefore` says whether contacts were sent to the bin before this pass. Returns how
 * many conflicts it wrote.
 */
async function decideAndWrite(
  tx: Tx,
  workspaceId: string,
  undoId: string,
  plan: CausePlan,
  ends: RawBuilder<unknown>,
  frozen: RawBuilder<unknown>,
  binnedBefore: RawBuilder<unknown>,
  firstPosition: number,
): Promise<number> {
  const anyway = plan.undoAnyway;
  const { rows } = await sql<{ conflicts: number }>`
    -- A row of a contact gone for good since (purged, erased) is left alone: not present.
    -- An untouched row's image a is not stored: it is the row as it is now, l.
    WITH ends AS (
      SELECT e.table_name, e.row_key, e.contact_id, e.b, CASE WHEN e.untouched THEN e.l ELSE e.a END AS a, e.l, e.later_at, e.later_by, e.untouched,
        (e.table_name = 'contacts' OR e.contact_id IS NULL
                   OR EXISTS (SELECT 1 FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.id = e.contact_id OFFSET 0)) AS present
      FROM (${ends}) e),
    fields AS (
      SELECT e.table_name, e.row_key, e.contact_id, e.later_at, e.later_by, k.key, e.b->k.key AS bv, e.a->k.key AS av, e.l->k.key AS lv
      FROM ends e CROSS JOIN LATERAL jsonb_object_keys(e.a) k(key)
      WHERE e.b IS NOT NULL AND e.a IS NOT NULL AND e.l IS NOT NULL AND e.present
        AND k.key <> ALL(${[...bookkeeping, ...keyColumns]}::text[])
        AND (e.b->k.key) IS DISTINCT FROM (e.a->k.key)
        AND NOT (${frozen})),
    status_fate AS (
      SELECT row_key, CASE WHEN lv IS NOT DISTINCT FROM av THEN 'revert' WHEN lv IS NOT DISTINCT FROM bv THEN 'already' ELSE 'conflict' END AS fate
      FROM fields WHERE table_name = 'contacts' AND key = 'status'),
    fated AS (
      SELECT f.*,
        CASE WHEN f.table_name = 'contacts' AND f.key = ANY(${statusColumns}::text[]) AND s.fate IS NOT NULL THEN s.fate
             WHEN f.lv IS NOT DISTINCT FROM f.av THEN 'revert'
             WHEN f.lv IS NOT DISTINCT FROM f.bv THEN 'already'
             ELSE 'conflict' END AS fate
      FROM fields f LEFT JOIN status_fate s ON f.table_name = 'contacts' AND s.row_key = f.row_key),
    reverted AS (
      SELECT table_name, row_key, jsonb_object_agg(key, bv) AS fields FROM fated
      WHERE fate = 'revert' OR (fate = 'conflict' AND ${anyway}) GROUP BY table_name, row_key),
    -- A row the cause made: each field changed since is a conflict.
    made_changed AS (
      SELECT e.table_name, e.row_key, e.contact_id, e.later_at, e.later_by, k.key, e.a->k.key AS av, e.l->k.key AS lv
      FROM ends e CROSS JOIN LATERAL jsonb_object_keys(e.l) k(key)
      -- a row nobody wrote since the cause is as the cause left it: its fields need no look
      WHERE e.b IS NULL AND e.a IS NOT NULL AND e.l IS NOT NULL AND NOT e.untouched AND e.present AND ${stillHere('e')}
        AND k.key <> ALL(${[...bookkeeping, ...keyColumns]}::text[]) AND (e.a->k.key) IS DISTINCT FROM (e.l->k.key)),
    changed_since_made AS (SELECT DISTINCT table_name, row_key FROM made_changed),
    decided AS (
      SELECT e.table_name, e.row_key, e.contact_id, e.l AS live,
        CASE
          -- made by the cause: goes, unless changed since (and not undone anyway)
          WHEN e.b IS NULL THEN CASE WHEN ${anyway} OR m.row_key IS NULL THEN NULL ELSE e.l END
          -- removed by the cause: back as it was, unless made again since
          WHEN e.a IS NULL THEN CASE WHEN e.l IS NULL OR ${anyway} THEN e.b ELSE e.l END
          ELSE CASE WHEN r.fields IS NULL THEN e.l
                    ELSE e.l || r.fields || (SELECT coalesce(jsonb_object_agg(c, to_jsonb(${plan.at}::timestamptz)), '{}') FROM unnest(${bookkeeping}::text[]) c WHERE e.l ? c) END
        END AS image
      FROM ends e
      LEFT JOIN reverted r ON r.table_name = e.table_name AND r.row_key = e.row_key
      LEFT JOIN changed_since_made m ON m.table_name = e.table_name AND m.row_key = e.row_key
      -- a row gone for good since (purged, erased) and one the cause removed for good are
      -- left alone, as are the rows of a contact gone for good
      WHERE (e.l IS NOT NULL OR (e.a IS NULL AND e.b IS NOT NULL AND e.table_name <> 'contacts')) AND e.present),
    -- Each with what it needs to be listed, rather than joined back to the decided rows.
    conflicts AS (
      SELECT f.table_name, f.row_key, f.contact_id, f.later_at, f.later_by, f.key AS field, f.av AS cause_value, f.lv AS later_value FROM fated f WHERE f.fate = 'conflict'
      UNION ALL
      SELECT m.table_name, m.row_key, m.contact_id, m.later_at, m.later_by, m.key, m.av, m.lv FROM made_changed m
      UNION ALL
      -- a row the cause removed that someone made again otherwise
      SELECT e.table_name, e.row_key, e.contact_id, e.later_at, e.later_by, '*', NULL, e.l FROM ends e
      WHERE e.a IS NULL AND e.b IS NOT NULL AND e.l IS NOT NULL AND e.present AND ${stillHere('e')} AND (e.l - ${bookkeeping}::text[]) IS DISTINCT FROM (e.b - ${bookkeeping}::text[])),
    binned AS (SELECT d.row_key FROM decided d WHERE d.table_name = 'contacts' AND d.image IS NULL),
    targets AS (
      INSERT INTO rollback_targets (workspace_id, rollback_id, table_name, row_key, contact_id, image, live)
      SELECT ${workspaceId}, ${undoId}, d.table_name, d.row_key, d.contact_id, d.image, d.live FROM decided d
      WHERE d.image IS DISTINCT FROM d.live
        -- to go, and gone already
        AND NOT (d.image IS NULL AND (d.live IS NULL OR (d.live->>'deleted_at') IS NOT NULL
                                      OR (d.table_name = 'contacts' AND (d.live->>'status') NOT IN ('active', 'archived'))))
        -- a contact the cause made goes to the bin with the rows it made for it, set aside
        -- there for a restore (plan.ts, setAsideWithBinnedContacts): not planned at all,
        -- rather than written and then marked (an import's 4 rows a contact: most of its undo)
        AND NOT (d.table_name <> 'contacts' AND d.image IS NULL AND d.contact_id IS NOT NULL AND d.contact_id IN (SELECT b.row_key FROM binned b))
        -- and while it sends contacts to the bin, the lists, accounts, tags and deals the
        -- cause made stay: a restore of those contacts drops their rows of a deleted one
        AND NOT (d.table_name <> 'contacts' AND d.image IS NULL AND d.contact_id IS NULL
                 AND (EXISTS (SELECT 1 FROM binned) OR ${binnedBefore}))
      RETURNING 1),
    written AS (
      INSERT INTO undo_conflicts (workspace_id, undo_id, position, table_name, row_key, contact_id, field, cause_value, later_value, later_by, later_at, overridden)
      SELECT ${workspaceId}, ${undoId}, ${firstPosition}::int + (row_number() OVER (ORDER BY c.table_name COLLATE "C", c.row_key COLLATE "C", c.field) - 1)::int,
             c.table_name, c.row_key, c.contact_id, c.field, c.cause_value, c.later_value, c.later_by, c.later_at, ${anyway}
      FROM conflicts c
      RETURNING 1)
    SELECT (SELECT count(*) FROM written)::int AS conflicts, (SELECT count(*) FROM targets)::int AS targets`.execute(tx);
  return rows[0].conflicts;
}

/** The row `alias` is still there now: not soft-deleted, and for a contact, still holding its place (not in the bin). */
const stillHere = (alias: string) =>
  sql.raw(`((${alias}.l->>'deleted_at') IS NULL AND (${alias}.table_name <> 'contacts' OR (${alias}.l->>'status') IN ('active', 'archived')))`);

/**
 * Over the contacts' pass: someone other than the cause may have written the contact
 * `sp` (its row, in `later_versions`, or its lists, tags, accounts and deals, in
 * `later_entries`) after the cause's first write. Those writes are read once by version
 * (history's versions only grow, and a write to a contact comes after the write that made
 * it), hashed, and only a contact found there is looked up one by one: after an import,
 * most of its contacts nobody touched (at 100,000, 0.2-0.3 s of the preview's 2.8 s).
 * Past as many such writes as the cause wrote versions of contacts (`later_cap`, at
 * least laterWritesHashedAtLeast) every contact is looked up, as before: a cause long
 * ago, much written since, where reading all of it would cost more than the lookups.
 */
const laterWritten = (writes: 'later_versions' | 'later_entries') =>
  sql`((SELECT count(*) FROM ${sql.table(writes)}) > (SELECT n FROM later_cap) OR sp.id IN (SELECT w.contact_id FROM ${sql.table(writes)} w))`;
export const laterWritesHashedAtLeast = 1_000;

/**
 * The contacts of the rows of `table` (as `o`) of the workspace that others (`others`,
 * over `o`) wrote after the cause's first write (`later_cap`), up to one past its cap.
 */
const laterWrites = (table: 'contact_history' | 'history_entries', contact: RawBuilder<unknown>, workspaceId: string, others: RawBuilder<unknown>) => sql`
      SELECT ${contact} AS contact_id FROM ${sql.table(table)} o
      WHERE o.workspace_id = ${workspaceId} AND o.version > (SELECT since FROM later_cap) AND ${contact} IS NOT NULL AND ${others}
      LIMIT (SELECT n + 1 FROM later_cap)`;

/** Over the contacts' pass: a contact the cause made (`sp`) and nobody wrote since (no next version, `nxt`). */
const madeAndUntouched = sql`(sp.first_op = 'insert' AND nxt.version IS NULL)`;

/**
 * Over the contacts' pass of planCauseUndo: a contact the cause made (`sp`), that nobody
 * wrote since (no next version, `nxt`) and that is still in its place (`live`). With no
 * list membership, tag, account or deal link written by anyone else after the cause's
 * last write to it (its latest row in history_entries, found by the contact index, is the
 * cause's own) it is clean: it goes to the bin as the cause left it, and the rows the
 * cause made for it are set aside with it there, as every plan leaves a binned contact's
 * rows, so they need not be read. A contact whose rows someone changed since goes the
 * whole way: such a change may be a conflict.
 */
const madeAndLeft = sql`(${madeAndUntouched} AND coalesce(live.here, false))`;

/**
 * Writes the plan of undoing the change sets `plan.txids` into rollback_targets (rows of
 * `undoId`) and its conflicts into undo_conflicts. Contacts are read from their own
 * history store, the other tables from history_entries; each reads only the versions of
 * the cause's transactions (found by their change sets' times) and, row by row, what came
 * after them. The rows' three images go to a temporary table first, analyzed, so that
 * deciding field by field is planned from their real number (estimated from the history
 * tables, which may have no statistics, it was a handful: loops over loops, minutes at
 * 10,000 contacts).
 *
 * Most of what an import did is contacts it made that nobody touched since, with their
 * lists, tags and account links: those contacts go to the recycle bin, and the rows the
 * cause made for them stay with them there, set aside for a restore. Such a contact is
 * planned by the contacts' pass itself, never written to undo_ends, and its rows are not
 * read at all (undo_clean): at 100,000 contacts with four rows each, reading, sorting and
 * deciding those rows was most of the plan. `use` says what the plan is for: a preview
 * keeps less of such a contact's live row (liveContact).
 */
export async function planCauseUndo(tx: Tx, workspaceId: string, undoId: string, plan: CausePlan, use: PlanUse): Promise<number> {
  const sets = sql`SELECT cs.workspace_id, cs.at, cs.txid FROM change_sets cs
    WHERE cs.workspace_id = ${workspaceId} AND cs.txid = ANY(${plan.txids}::bigint[])`;
  const others = sql`o.txid <> ALL(${plan.txids}::bigint[])`;
  const whole = sql`ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING`;
  await sql`CREATE TEMP TABLE undo_ends (table_name text, row_key text, contact_id text, b jsonb, a jsonb, l jsonb, later_at timestamptz, later_by text, untouched boolean NOT NULL) ON COMMIT DROP`.execute(tx);
  await sql`CREATE TEMP TABLE undo_clean (id text NOT NULL) ON COMMIT DROP`.execute(tx);
  // A contact's versions are one or two rows by the hash index on id: read by an index
  // scan, not a bitmap built for each (the planner without statistics expects hundreds).
  // A clean contact (below) goes to the plan at once, the bin, and to undo_clean; the
  // others to undo_ends, to be decided field by field.
  const contactEnds = sql`
    sets AS (${sets}),
    versions AS (
      SELECT v.id, v.version, v.op, v.before FROM sets s
      CROSS JOIN LATERAL (SELECT v.id, v.version, v.op, v.before FROM contact_history v
                          WHERE v.workspace_id = ${workspaceIn('s', workspaceId)} AND v.at = s.at AND v.txid = s.txid OFFSET 0) v),
    spans AS (
      SELECT DISTINCT ON (id) id, version AS first_version, op AS first_op, before AS first_before,
        last_value(version) OVER w AS last_version, last_value(op) OVER w AS last_op
      FROM versions WINDOW w AS (PARTITION BY id ORDER BY version ${whole})
      ORDER BY id, version),
    -- what others wrote after the cause's first write, by the primary key: only a contact
    -- found here can have a next version or a later change (laterWritten)
    later_cap AS (SELECT greatest(count(*), ${laterWritesHashedAtLeast}) AS n, min(v.version) AS since FROM versions v),
    later_versions AS MATERIALIZED (${laterWrites('contact_history', sql`o.id`, workspaceId, others)}),
    later_entries AS MATERIALIZED (${laterWrites('history_entries', sql`o.contact_id`, workspaceId, others)}),
    ends AS (
      SELECT sp.id,
        CASE WHEN sp.first_op = 'insert' THEN NULL ELSE to_jsonb(sp.first_before) END AS b,
        -- nobody wrote the contact since (untouched): as the cause left it is as it is now, not stored twice
        CASE WHEN sp.last_op = 'delete' OR nxt.version IS NULL THEN NULL ELSE to_jsonb(nxt.before) END AS a,
        live.image AS l, later.at AS later_at, later.actor_id AS later_by, nxt.version IS NULL AS untouched,
        ${madeAndLeft} AND (last.txid IS NULL OR last.txid = ANY(${plan.txids}::bigint[])) AS clean
      FROM spans sp
      LEFT JOIN LATERAL (SELECT n.version, n.before FROM ${versionsOfContact(sql.ref('sp.id'), workspaceId)} n
                         WHERE ${laterWritten('later_versions')} AND n.workspace_id = ${workspaceId} AND n.version > sp.last_version ORDER BY n.version LIMIT 1) nxt ON true
      LEFT JOIN LATERAL (SELECT ${liveContact(use)} AS image, c.status IN ('active', 'archived') AND c.deleted_at IS NULL AS here
                         FROM contacts c WHERE c.workspace_id = ${workspaceId} AND c.id = sp.id OFFSET 0) live ON true
      LEFT JOIN LATERAL (SELECT o.at, o.actor_id FROM ${versionsOfContact(sql.ref('sp.id'), workspaceId)} o
                         WHERE NOT (nxt.version IS NULL AND sp.last_version = sp.first_version) AND ${laterWritten('later_versions')} AND o.workspace_id = ${workspaceId} AND o.version > sp.first_version AND ${others}
                         ORDER BY o.version DESC LIMIT 1) later ON true
      -- the latest row of the contact's lists, tags, accounts and deals, looked at only
      -- for a contact the cause made and nobody wrote since (a one-time filter otherwise)
      LEFT JOIN LATERAL (SELECT h.txid FROM history_entries h
                         WHERE ${madeAndLeft} AND ${laterWritten('later_entries')} AND h.workspace_id = ${workspaceId} AND h.contact_id = sp.id
                         ORDER BY h.version DESC LIMIT 1) last ON true)`;
  const toBin = (e: RawBuilder<unknown>) => sql`
    INSERT INTO rollback_targets (workspace_id, rollback_id, table_name, row_key, contact_id, image, live)
    SELECT ${workspaceId}, ${undoId}, 'contacts', e.id, e.id, NULL, e.l FROM ${e} e WHERE e.clean`;
  const toDecide = (e: RawBuilder<unknown>) => sql`
    INSERT INTO undo_ends
    SELECT 'contacts'::text, e.id, e.id, e.b, e.a, e.l, e.later_at, e.later_by, e.untouched FROM ${e} e WHERE NOT e.clean`;
  if (inDistributedMode()) {
    // On Citus a statement writes either the workspace's shards or local tables: the
    // contacts' pass is read into one of its own, then each part goes where it belongs.
    await sql`CREATE TEMP TABLE undo_contact_ends ON COMMIT DROP AS WITH ${contactEnds} SELECT * FROM ends`.execute(tx);
    await toBin(sql`undo_contact_ends`).execute(tx);
    await sql`INSERT INTO undo_clean SELECT e.id FROM undo_contact_ends e WHERE e.clean`.execute(tx);
    await toDecide(sql`undo_contact_ends`).execute(tx);
  } else {
    await withPlannerOff(tx, ['enable_bitmapscan'], sql`
      WITH ${contactEnds},
      binned AS (${toBin(sql`ends`)} RETURNING row_key),
      marked AS (INSERT INTO undo_clean SELECT b.row_key FROM binned b)
      ${toDecide(sql`ends`)}`);
  }
  await sql`ANALYZE undo_clean`.execute(tx);
  const tables = rolledBackTables.filter((t) => t !== contactsTable).map((t) => t.tableName);
  const associations = associationTables.map((t) => t.tableName);
  await sql`
    INSERT INTO undo_ends
    WITH sets AS (${sets}),
    entries AS (
      SELECT h.table_name, h.row_key, h.contact_id, h.version, h.before, h.after FROM sets s
      CROSS JOIN LATERAL (SELECT h.table_name, h.row_key, h.contact_id, h.version, h.before, h.after FROM history_entries h
                          WHERE h.workspace_id = ${workspaceIn('s', workspaceId)} AND h.at = s.at AND h.txid = s.txid AND h.table_name = ANY(${tables}::text[]) OFFSET 0) h
      -- the rows of a clean contact stay with it in the bin: nothing to decide. (IN under
      -- NOT is a hashed subplan: one probe of a hash table per entry, not of an index.)
      WHERE NOT (h.table_name = ANY(${associations}::text[]) AND h.contact_id IN (SELECT u.id FROM undo_clean u))),
    spans AS (
      SELECT DISTINCT ON (table_name, row_key) table_name, row_key, contact_id, version AS first_version, last_value(version) OVER w AS last_version,
        before AS b, last_value(after) OVER w AS a
      FROM entries WINDOW w AS (PARTITION BY table_name, row_key ORDER BY version ${whole})
      ORDER BY table_name, row_key, version)
    SELECT sp.table_name, sp.row_key, sp.contact_id, sp.b, CASE WHEN latest.version = sp.last_version THEN NULL ELSE sp.a END,
      CASE WHEN latest.op = 'delete' THEN NULL ELSE latest.after END, later.at, later.actor_id, latest.version = sp.last_version
    FROM spans sp
    -- every write is captured and compaction keeps each row's latest version: its image is the row now
    LEFT JOIN LATERAL (SELECT t.version, t.op, t.after FROM history_entries t
                       WHERE t.workspace_id = ${workspaceId} AND t.table_name = sp.table_name AND t.row_key = sp.row_key
                       ORDER BY t.version DESC LIMIT 1) latest ON true
    -- a row the cause wrote once and nobody since (most of an import's) needs no second
    -- look: the condition on the outer row is a one-time filter, the index is not read
    LEFT JOIN LATERAL (SELECT o.at, o.actor_id FROM history_entries o
                       WHERE NOT (latest.version = sp.first_version AND sp.last_version = sp.first_version)
                         AND o.workspace_id = ${workspaceId} AND o.table_name = sp.table_name AND o.row_key = sp.row_key
                         AND o.version > sp.first_version AND ${others}
                       ORDER BY o.version DESC LIMIT 1) later ON true`.execute(tx);
  await analyzeWorkTable(tx, 'undo_ends', ['table_name', 'row_key', 'contact_id', 'untouched']);
  // Seed 002: a deal a contact's leaving deleted, or whose primary passed on, is not
  // given back with the contact. Only an unmerge puts a deal's primary back (the merge
  // passed it on), and so does an undo of the deal's own change (PATCH /deals/:id, its
  // deal.updated entry in the cause's transactions: the user chose its contacts and
  // primary); a deal the cause itself deleted comes back. (Over the row `e` and its field `k`.)
  const dealPrimaryStays = plan.merge
    ? sql`false`
    : sql`(e.table_name = 'deals' AND k.key = 'primary_contact_id' AND NOT EXISTS (
        SELECT 1 FROM audit_log al WHERE al.workspace_id = ${workspaceId} AND al.txid = ANY(${plan.txids}::bigint[])
          AND al.action = 'deal.updated' AND al.target_id = e.row_key))`;
  const mendedDeal = sql`(e.table_name = 'deals' AND k.key = 'deleted_at' AND EXISTS (
      SELECT 1 FROM audit_log al WHERE al.workspace_id = ${workspaceId} AND al.txid = ANY(${plan.txids}::bigint[])
        AND al.action = 'deal.deleted' AND al.target_id = e.row_key AND al.details->>'reason' LIKE 'last_contact%'))`;
  return decideAndWrite(tx, workspaceId, undoId, plan, sql`SELECT * FROM undo_ends`, sql`${dealPrimaryStays} OR ${mendedDeal}`, sql`EXISTS (SELECT 1 FROM undo_clean)`, 0);
}

/**
 * The live row of a contact (`c`) the cause made (`sp.first_op`) and nobody wrote since
 * (no next version, `nxt`), as undo_ends keeps it. Such a contact goes to the bin or, if
 * already gone, is left alone: what decides it and what a preview shows of it (its place,
 * who it is) are these fields, so a preview keeps only them. A run keeps the whole row,
 * which its apply compares with the row it locks. At 100,000 imported contacts the whole
 * rows were 46 MB of jsonb, made and written in the preview only to be thrown away.
 */
function liveContact(use: PlanUse): RawBuilder<unknown> {
  if (use.kind === 'run') return sql`to_jsonb(c)`;
  return sql`CASE WHEN ${madeAndUntouched}
    THEN jsonb_build_object('status', c.status, 'deleted_at', c.deleted_at, 'email', c.email, 'first_name', c.first_name, 'last_name', c.last_name)
    ELSE to_jsonb(c) END`;
}
