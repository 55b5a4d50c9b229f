import { sql, type RawBuilder, type Selectable, type SqlBool } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import type { Snapshots, SnapshotSettings } from '../db/schema.js';
import { cursorTime, type CursorKey } from '../http/pagination.js';
import { inDistributedMode, workspaceIn } from '../db/keys.js';

export type SnapshotKind = 'hourly' | 'weekly' | 'monthly' | 'manual';

/** A snapshot as its functions return it (snapshotColumns). */
export type SnapshotRow = Pick<Selectable<Snapshots>, 'id' | 'taken_at' | 'label' | 'expires_at' | 'created_by' | 'created_at'> & {
  kind: SnapshotKind;
};

/** A snapshot of a page of them: with taken_at to the microsecond, for cursors. */
export type ListedSnapshotRow = SnapshotRow & { taken_key: string };

const scheduleColumns = ['hourly_enabled', 'hourly_keep_hours', 'weekly_enabled', 'weekly_keep_days', 'monthly_enabled', 'monthly_keep_days'] as const;

/** A workspace's snapshot schedule, as its snapshot_settings row holds it. */
export type ScheduleRow = Pick<Selectable<SnapshotSettings>, (typeof scheduleColumns)[number]>;

/**
 * SnapshotRow's columns: unqualified, so an INSERT's RETURNING (which takes no alias in
 * the builder) names them too. Plain columns only: Citus refuses a function that is not
 * IMMUTABLE, such as the cursor's to_char, in a RETURNING.
 */
const snapshotColumns = ['id', 'taken_at', 'kind', 'label', 'expires_at', 'created_by', 'created_at'] as const;

/** Over `snapshots s`: not deleted and not past its expiry (the expire task may not have run yet). */
const retained = (now: Date) => sql<SqlBool>`s.deleted_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > ${now})`;

/** One page of the workspace's retained snapshots, newest first. */
export async function selectSnapshots(db: Db, workspaceId: string, now: Date, limit: number, after: CursorKey | undefined): Promise<ListedSnapshotRow[]> {
  let query = db.selectFrom('snapshots as s').select([...snapshotColumns, cursorTime('taken_at').as('taken_key')]).where('s.workspace_id', '=', workspaceId).where(retained(now));
  if (after) query = query.where(sql<SqlBool>`(s.taken_at, s.id) < (${after[0]}::timestamptz, ${after[1]}::text)`);
  return query.orderBy('s.taken_at', 'desc').orderBy('s.id', 'desc').limit(limit).$narrowType<{ kind: SnapshotKind }>().execute();
}

export async function selectSnapshot(db: Db | Tx, workspaceId: string, id: string, now: Date): Promise<SnapshotRow | undefined> {
  return db
    .selectFrom('snapshots as s')
    .select(snapshotColumns)
    .where('s.workspace_id', '=', workspaceId)
    .where('s.id', '=', id)
    .where(retained(now))
    .$narrowType<{ kind: SnapshotKind }>()
    .executeTakeFirst();
}

export async function insertManualSnapshot(tx: Tx, workspaceId: string, input: { takenAt: Date; expiresAt: Date; label: string | null; createdBy: string | null }): Promise<SnapshotRow> {
  return tx
    .insertInto('snapshots')
    .values({
      workspace_id: workspaceId,
      taken_at: input.takenAt,
      kind: 'manual',
      label: input.label,
      expires_at: input.expiresAt,
      created_by: input.createdBy,
      created_at: input.takenAt,
    })
    .returning(snapshotColumns)
    .$narrowType<{ kind: SnapshotKind }>()
    .executeTakeFirstOrThrow();
}

/** Marks a retained snapshot deleted; its row stays as a tombstone until it would have expired. */
export async function markSnapshotDeleted(tx: Tx, workspaceId: string, id: string, now: Date, deletedBy: string | null): Promise<SnapshotRow | undefined> {
  return tx
    .updateTable('snapshots as s')
    .set({ deleted_at: now, deleted_by: deletedBy })
    .where('s.workspace_id', '=', workspaceId)
    .where('s.id', '=', id)
    .where(retained(now))
    .returning(snapshotColumns)
    .$narrowType<{ kind: SnapshotKind }>()
    .executeTakeFirst();
}

/**
 * What history compaction may now drop: a snapshot stopped pinning its versions, so the
 * next pass examines all history (released), at once (last_run_at -infinity, which also
 * tells a pass running now that it must not mark itself complete).
 */
export async function markPinsReleased(tx: Tx, workspaceId: string): Promise<void> {
  await tx.updateTable('history_compactions').set({ released: true, last_run_at: '-infinity' }).where('workspace_id', '=', workspaceId).execute();
}

/** The workspace's schedule row, or undefined when it has the defaults. */
export async function selectSchedule(db: Db | Tx, workspaceId: string): Promise<ScheduleRow | undefined> {
  return db.selectFrom('snapshot_settings').select(scheduleColumns).where('workspace_id', '=', workspaceId).executeTakeFirst();
}

/**
 * The workspace's schedule row, locked until the transaction ends so concurrent changes
 * take turns; written with the defaults first if the workspace had none.
 */
export async function lockSchedule(tx: Tx, workspaceId: string, defaults: ScheduleRow): Promise<ScheduleRow> {
  await tx
    .insertInto('snapshot_settings')
    .values({ workspace_id: workspaceId, ...defaults })
    .onConflict((oc) => oc.column('workspace_id').doNothing())
    .execute();
  return tx.selectFrom('snapshot_settings').select(scheduleColumns).where('workspace_id', '=', workspaceId).forUpdate().executeTakeFirstOrThrow();
}

export async function updateSchedule(tx: Tx, workspaceId: string, s: ScheduleRow, at: Date, by: string | null): Promise<void> {
  await tx
    .updateTable('snapshot_settings')
    .set({ ...s, updated_at: at, updated_by: by })
    .where('workspace_id', '=', workspaceId)
    .execute();
}

/**
 * `at` plus `keep`, counted on the UTC clock the schedule's boundaries are set by (a day is
 * 24 hours whatever the session's time zone). IMMUTABLE, where `timestamptz + interval`
 * is STABLE, which Citus refuses over a column in an UPDATE.
 */
const utcPlus = (at: RawBuilder<unknown>, keep: RawBuilder<unknown>) => sql<Date>`((${at} AT TIME ZONE 'UTC') + ${keep}) AT TIME ZONE 'UTC'`;

/**
 * A new retention for the kind's snapshots not yet expired (deleted ones too: their
 * tombstones follow). An expired one stays expired: compaction may already have dropped
 * what it pinned.
 */
export async function reexpireScheduled(tx: Tx, workspaceId: string, kind: SnapshotKind, keep: RawBuilder<unknown>, now: Date): Promise<void> {
  await tx
    .updateTable('snapshots')
    .set({ expires_at: utcPlus(sql.ref('taken_at'), keep) })
    .where('workspace_id', '=', workspaceId)
    .where('kind', '=', kind)
    .where('expires_at', '>', now)
    .execute();
}

/**
 * The scheduled boundaries due and not yet taken, per workspace (all when workspaceId is
 * null): hourly at each UTC hour, weekly at Saturday 00:00 UTC, monthly at 00:00 UTC of
 * the 1st (the instant the previous month ends). Only boundaries that are
 * - no older than the recoverable window (now − pitr_hours, and never before history was
 *   compacted): an older boundary's versions may already be gone, so it would pin nothing
 *   true;
 * - not before the workspace existed;
 * - not already expired (taken_at + keep > now): never more than the retention keeps;
 * - after the kind's latest snapshot already taken (deleted ones too).
 * Columns: workspace_id, taken_at, kind, expires_at.
 */
export function dueBoundaries(workspaceId: string | null, now: Date, defaults: ScheduleRow): RawBuilder<unknown> {
  // Of one workspace, on Citus its lookups keyed by the constant (db/keys.ts workspaceIn).
  const workspaceOf = (alias: string) => (workspaceId === null ? sql.ref(`${alias}.workspace_id`) : workspaceIn(alias, workspaceId));
  return sql`
    SELECT k.workspace_id, b.taken_at, k.kind, ${utcPlus(sql.ref('b.taken_at'), sql.ref('k.keep'))} AS expires_at
    FROM (
      SELECT w.id AS workspace_id,
             greatest(${now}::timestamptz - make_interval(hours => w.pitr_hours), w.created_at,
                      coalesce(c.compacted_through, '-infinity'::timestamptz)) AS earliest,
             coalesce(st.hourly_enabled, ${defaults.hourly_enabled}) AS hourly_enabled,
             coalesce(st.hourly_keep_hours, ${defaults.hourly_keep_hours}) AS hourly_keep_hours,
             coalesce(st.weekly_enabled, ${defaults.weekly_enabled}) AS weekly_enabled,
             coalesce(st.weekly_keep_days, ${defaults.weekly_keep_days}) AS weekly_keep_days,
             coalesce(st.monthly_enabled, ${defaults.monthly_enabled}) AS monthly_enabled,
             coalesce(st.monthly_keep_days, ${defaults.monthly_keep_days}) AS monthly_keep_days
      FROM workspaces w
      LEFT JOIN snapshot_settings st ON st.workspace_id = w.id
      LEFT JOIN history_compactions c ON c.workspace_id = w.id
      WHERE ${workspaceId === null ? sql`true` : sql`w.id = ${workspaceId}`}
    ) sch
    CROSS JOIN LATERAL (VALUES
      ('hourly', sch.hourly_enabled, make_interval(hours => sch.hourly_keep_hours), interval '1 hour',
       date_trunc('hour', ${now}::timestamptz AT TIME ZONE 'UTC')),
      -- ISO weeks start on Monday: two days later, Saturday 00:00 starts the "week".
      ('weekly', sch.weekly_enabled, make_interval(days => sch.weekly_keep_days), interval '7 days',
       date_trunc('week', (${now}::timestamptz AT TIME ZONE 'UTC') + interval '2 days') - interval '2 days'),
      ('monthly', sch.monthly_enabled, make_interval(days => sch.monthly_keep_days), interval '1 month',
       date_trunc('month', ${now}::timestamptz AT TIME ZONE 'UTC'))
    ) AS k0(kind, enabled, keep, step, latest)
    -- Only boundaries after the kind's latest one taken (deleted ones too): the schedule
    -- moves forward, so a pass usually looks at one boundary per kind.
    CROSS JOIN LATERAL (SELECT sch.workspace_id, k0.kind, k0.keep, k0.step, k0.latest,
                               greatest(sch.earliest, ${now}::timestamptz - k0.keep,
                                        (SELECT max(x.taken_at) + interval '1 microsecond' FROM snapshots x
                                         WHERE x.workspace_id = ${workspaceOf('sch')} AND x.kind = k0.kind AND x.kind <> 'manual')) AS earliest) k
    -- Walks back from the latest boundary, in UTC wall time (month steps need it).
    CROSS JOIN LATERAL generate_series(k.latest, k.earliest AT TIME ZONE 'UTC', -k.step) AS g(utc)
    CROSS JOIN LATERAL (SELECT g.utc AT TIME ZONE 'UTC' AS taken_at) b
    WHERE k0.enabled
      AND b.taken_at >= sch.earliest
      AND ${utcPlus(sql.ref('b.taken_at'), sql.ref('k.keep'))} > ${now}
      AND NOT EXISTS (SELECT 1 FROM snapshots x
                      WHERE x.workspace_id = ${workspaceOf('k')} AND x.kind = k.kind AND x.taken_at = b.taken_at)`;
}

export async function workspacesWithDueBoundaries(db: Db, workspaceId: string | null, now: Date, defaults: ScheduleRow): Promise<string[]> {
  if (workspaceId === null && inDistributedMode()) {
    // Citus refuses the statement's correlated lookups across workspaces: each is asked.
    const found: string[] = [];
    for (const { id } of await db.selectFrom('workspaces').select('id').orderBy('id').execute()) {
      found.push(...(await workspacesWithDueBoundaries(db, id, now, defaults)));
    }
    return found;
  }
  const { rows } = await sql<{ workspace_id: string }>`
    SELECT DISTINCT d.workspace_id FROM (${dueBoundaries(workspaceId, now, defaults)}) d ORDER BY d.workspace_id`.execute(db);
  return rows.map((r) => r.workspace_id);
}

export async function insertDueBoundaries(tx: Tx, workspaceId: string, now: Date, defaults: ScheduleRow): Promise<SnapshotRow[]> {
  const { rows } = await sql<SnapshotRow>`
    INSERT INTO snapshots AS s (workspace_id, taken_at, kind, expires_at, created_at)
    SELECT d.workspace_id, d.taken_at, d.kind, d.expires_at, ${now}
    FROM (${dueBoundaries(workspaceId, now, defaults)}) d
    ORDER BY d.taken_at
    ON CONFLICT DO NOTHING
    RETURNING ${sql.join(snapshotColumns.map((c) => (typeof c === 'string' ? sql.ref(c) : c)))}`.execute(tx);
  return rows;
}

export async function workspacesWithExpiredSnapshots(db: Db, workspaceId: string | null, now: Date): Promise<string[]> {
  let query = db.selectFrom('snapshots').select('workspace_id').distinct();
  if (workspaceId !== null) query = query.where('workspace_id', '=', workspaceId);
  const rows = await query.where('expires_at', '<=', now).orderBy('workspace_id').execute();
  return rows.map((r) => r.workspace_id);
}

/** Removes the workspace's expired snapshots; returns those that were still retained (not deleted). */
export async function deleteExpiredSnapshots(tx: Tx, workspaceId: string, now: Date): Promise<SnapshotRow[]> {
  const rows = await tx
    .deleteFrom('snapshots')
    .where('workspace_id', '=', workspaceId)
    .where('expires_at', '<=', now)
    .returning([...snapshotColumns, 'deleted_at'])
    .$narrowType<{ kind: SnapshotKind }>()
    .execute();
  return rows.filter((r) => r.deleted_at === null);
}

export interface PointsAround {
  exact: boolean;
  before: Date | null;
  after: Date | null;
}

/** Whether a retained snapshot was taken exactly at `at`, and the nearest ones before and after it. */
export async function retainedPointsAround(db: Db | Tx, workspaceId: string, at: Date, now: Date): Promise<PointsAround> {
  const { rows } = await sql<PointsAround>`
    SELECT EXISTS (SELECT 1 FROM snapshots s WHERE s.workspace_id = ${workspaceId} AND ${retained(now)} AND s.taken_at = ${at}) AS exact,
           (SELECT max(s.taken_at) FROM snapshots s WHERE s.workspace_id = ${workspaceId} AND ${retained(now)} AND s.taken_at < ${at}) AS before,
           (SELECT min(s.taken_at) FROM snapshots s WHERE s.workspace_id = ${workspaceId} AND ${retained(now)} AND s.taken_at > ${at}) AS after`.execute(db);
  return rows[0];
}

/** All the workspace's retained snapshots, newest first (a few hundred at most with the default schedule). */
export async function selectRetainedSnapshots(db: Db | Tx, workspaceId: string, now: Date): Promise<SnapshotRow[]> {
  return db
    .selectFrom('snapshots as s')
    .select(snapshotColumns)
    .where('s.workspace_id', '=', workspaceId)
    .where(retained(now))
    .orderBy('s.taken_at', 'desc')
    .orderBy('s.id', 'desc')
    .$narrowType<{ kind: SnapshotKind }>()
    .execute();
}

/** How far the workspace's history has been compacted, if ever. */
export async function selectCompactedThrough(db: Db | Tx, workspaceId: string): Promise<Date | null> {
  const row = await db.selectFrom('history_compactions').select('compacted_through').where('workspace_id', '=', workspaceId).executeTakeFirst();
  return row?.compacted_through ?? null;
}

/**
 * Workspaces whose history compaction is due, with the time it compacts through
 * (now − pitr_hours): those never compacted, those where a snapshot stopped pinning
 * since, and those last compacted an hour or more ago.
 */
export async function workspacesDueForCompaction(db: Db, workspaceId: string | null, now: Date): Promise<{ workspace_id: string; through: Date }[]> {
  const { rows } = await sql<{ workspace_id: string; through: Date }>`
    SELECT w.id AS workspace_id, ${now}::timestamptz - make_interval(hours => w.pitr_hours) AS through
    FROM workspaces w LEFT JOIN history_compactions c ON c.workspace_id = w.id
    WHERE (${workspaceId}::text IS NULL OR w.id = ${workspaceId})
      AND (c.workspace_id IS NULL OR c.released OR c.last_run_at <= ${now}::timestamptz - interval '1 hour')
    ORDER BY w.id`.execute(db);
  return rows;
}

/**
 * Records a compaction pass before it deletes anything, and says what it must examine.
 * From now on no point before `through` counts as recoverable (unless a snapshot pins
 * it), and no scheduled snapshot is taken before it.
 *
 * The pass examines only the rows written since the last complete pass (`since`: its
 * `through`) when that pass completed and no snapshot has stopped pinning since: an entry
 * kept then can only become unneeded when a later version of its row (or the entry
 * itself) leaves the window. Otherwise (`since` null) it examines all history. The pass
 * is marked incomplete (released) until completeCompaction.
 */
export async function startCompaction(tx: Tx, workspaceId: string, through: Date, now: Date): Promise<{ since: Date | null }> {
  const previous = await tx
    .selectFrom('history_compactions')
    .select(['compacted_through', 'released'])
    .where('workspace_id', '=', workspaceId)
    .forUpdate()
    .executeTakeFirst();
  await tx
    .insertInto('history_compactions')
    .values({ workspace_id: workspaceId, compacted_through: through, last_run_at: now, released: true })
    .onConflict((oc) =>
      oc.column('workspace_id').doUpdateSet((eb) => ({
        compacted_through: eb.fn<Date>('greatest', ['history_compactions.compacted_through', 'excluded.compacted_through']),
        last_run_at: eb.ref('excluded.last_run_at'),
        released: true,
      })),
    )
    .execute();
  return { since: previous && !previous.released ? previous.compacted_through : null };
}

/** A pass got to the end: the next one may be incremental, unless pins were released (or another pass started) meanwhile. */
export async function completeCompaction(tx: Tx, workspaceId: string, startedAt: Date): Promise<void> {
  await tx.updateTable('history_compactions').set({ released: false }).where('workspace_id', '=', workspaceId).where('last_run_at', '=', startedAt).execute();
}

/**
 * The two stores of history, compacted alike in batches: `history_entries` (every
 * captured table but contacts; each version keeps the row after the change) and
 * `contact_history` (each version keeps the contact as it was before the change).
 */
export type HistoryStore = 'history_entries' | 'contact_history';

/**
 * Deletes, of the candidate entries (a query over history_entries giving version,
 * table_name, row_key, at; all with at <= through), those no retained point needs.
 *
 * The state of a row as of T is its entry with the greatest version among those with
 * at <= T. So an entry e is needed at T exactly when e.at <= T < superseded_at(e), the
 * least `at` of the row's later versions (none: e is the row's latest entry, needed for
 * ever: it is the row as it is now). The retained points are every T >= through (the
 * PITR window) and the taken_at of each retained snapshot. An entry with at <= through
 * goes unless superseded_at > through (it is the row's state at the window's start) or a
 * retained snapshot falls in [e.at, superseded_at).
 *
 * Needs retrace.history_maintenance on in the transaction. Returns how many entries went.
 */
async function removeUnneededEntries(tx: Tx, workspaceId: string, through: Date, now: Date, candidates: RawBuilder<unknown>): Promise<number> {
  const { rows } = await sql<{ removed: number }>`
    WITH candidate AS (${candidates}), unneeded AS (
      SELECT c.version FROM candidate c
      CROSS JOIN LATERAL (
        SELECT min(n.at) AS superseded_at FROM history_entries n
        WHERE n.workspace_id = ${workspaceId} AND n.table_name = c.table_name AND n.row_key = c.row_key AND n.version > c.version
      ) later
      WHERE later.superseded_at <= ${through}
        AND NOT EXISTS (
          SELECT 1 FROM snapshots s
          WHERE s.workspace_id = ${workspaceId} AND ${retained(now)}
            AND s.taken_at >= c.at AND s.taken_at < later.superseded_at)
    ), removed AS (
      DELETE FROM history_entries h USING unneeded u
      WHERE h.workspace_id = ${workspaceId} AND h.version = u.version
      RETURNING h.version
    )
    SELECT count(*)::int AS removed FROM removed`.execute(tx);
  return rows[0].removed;
}

/**
 * Deletes, of the candidate contact versions (a query over contact_history giving
 * version, id, at; all with at <= through), those no retained point needs.
 *
 * A contact's state as of T is the `before` of its first version with at > T, or the
 * live row when there is none. So a version e is needed at T exactly when
 * since(e) <= T < e.at, where since(e) is the `at` of the contact's previous version
 * (none: from the beginning). Every T >= through is retained, and e.at <= through, so
 * e goes unless a retained snapshot falls in [since(e), e.at). The live row is the
 * latest state, so no version is kept for it. A version removed widens its successor's
 * interval only by times no retained snapshot falls in, so later passes agree.
 *
 * Needs retrace.history_maintenance on in the transaction. Returns how many versions went.
 */
async function removeUnneededContactVersions(tx: Tx, workspaceId: string, now: Date, candidates: RawBuilder<unknown>): Promise<number> {
  const { rows } = await sql<{ removed: number }>`
    WITH candidate AS (${candidates}), unneeded AS (
      SELECT c.version FROM candidate c
      CROSS JOIN LATERAL (
        SELECT max(p.at) AS since FROM contact_history p
        WHERE p.workspace_id = ${workspaceId} AND p.id = c.id AND p.version < c.version
      ) earlier
      WHERE NOT EXISTS (
        SELECT 1 FROM snapshots s
        WHERE s.workspace_id = ${workspaceId} AND ${retained(now)}
          AND s.taken_at < c.at AND (earlier.since IS NULL OR s.taken_at >= earlier.since))
    ), removed AS (
      DELETE FROM contact_history h USING unneeded u
      WHERE h.workspace_id = ${workspaceId} AND h.version = u.version
      RETURNING h.version
    )
    SELECT count(*)::int AS removed FROM removed`.execute(tx);
  return rows[0].removed;
}

/**
 * The version that ends the next batch of a full pass: `batchSize` versions of the
 * workspace in the store after `afterVersion`, or its last version; null when none is
 * left. Walks the primary key, so a batch reads that many entries whatever the table's
 * statistics say.
 */
export async function nextVersionBound(tx: Tx, store: HistoryStore, workspaceId: string, afterVersion: number, batchSize: number): Promise<number | null> {
  const { rows } = await sql<{ upper: number | null }>`
    SELECT coalesce(
      (SELECT version FROM ${sql.table(store)} WHERE workspace_id = ${workspaceId} AND version > ${afterVersion}
       ORDER BY version OFFSET ${batchSize - 1} LIMIT 1),
      (SELECT max(version) FROM ${sql.table(store)} WHERE workspace_id = ${workspaceId} AND version > ${afterVersion})) AS upper`.execute(tx);
  return rows[0].upper;
}

/**
 * The last version of the workspace in the store written at or before `through` (the
 * window's start), or null: where a full pass ends. Read down the (workspace, at) index
 * from `through`: a workspace whose history is all inside the window is done at once,
 * not walked version by version (a new workspace's first pass walked 480,000 versions of
 * a fresh import, 30 ms a batch, to remove nothing, while its user previewed an undo).
 */
export async function lastVersionThrough(tx: Tx, store: HistoryStore, workspaceId: string, through: Date): Promise<number | null> {
  // The latest time first, in the index's order: a bare max(version) is read down the
  // primary key from the newest version, every version of the window before one matches.
  const old = sql`${sql.table(store)} WHERE workspace_id = ${workspaceId} AND at <= ${through}`;
  const { rows } = await sql<{ last: string | null }>`
    SELECT CASE WHEN EXISTS (SELECT 1 FROM (SELECT at FROM ${old} ORDER BY at DESC LIMIT 1) latest)
      THEN (SELECT max(version) FROM (SELECT version FROM ${old} OFFSET 0) v) END AS last`.execute(tx);
  return rows[0].last === null ? null : Number(rows[0].last);
}

/** One batch of a full pass: the store's entries afterVersion < version <= upperVersion with at <= through. */
export async function compactVersionRange(
  tx: Tx,
  store: HistoryStore,
  workspaceId: string,
  through: Date,
  now: Date,
  afterVersion: number,
  upperVersion: number,
): Promise<number> {
  const inRange = sql`h.workspace_id = ${workspaceId} AND h.version > ${afterVersion} AND h.version <= ${upperVersion} AND h.at <= ${through}`;
  return store === 'contact_history'
    ? removeUnneededContactVersions(tx, workspaceId, now, sql`SELECT h.version, h.id, h.at FROM contact_history h WHERE ${inRange}`)
    : removeUnneededEntries(tx, workspaceId, through, now, sql`SELECT h.version, h.table_name, h.row_key, h.at FROM history_entries h WHERE ${inRange}`);
}

/**
 * The `at` (as text, to the microsecond) that ends the next batch of an incremental pass:
 * `batchSize` of the store's entries after `afterAt`, or `through` when fewer are left. A
 * batch holds whole instants, so one statement's entries (which share their `at`) are
 * never split.
 */
export async function nextInstantBound(tx: Tx, store: HistoryStore, workspaceId: string, afterAt: string, through: Date, batchSize: number): Promise<string | null> {
  const { rows } = await sql<{ bound: string | null }>`
    SELECT at::text AS bound FROM ${sql.table(store)}
    WHERE workspace_id = ${workspaceId} AND at > ${afterAt}::timestamptz AND at <= ${through}
    ORDER BY at OFFSET ${batchSize - 1} LIMIT 1`.execute(tx);
  return rows[0]?.bound ?? null;
}

/**
 * One batch of an incremental pass over what was written in (afterAt, upToAt]. In
 * history_entries, an entry kept by the last pass can only become unneeded when a later
 * version of its row leaves the window, so every entry (at <= through) of the rows
 * written then is examined. In contact_history, a version is needed only by points
 * before its own `at`, so the versions written then are the ones to examine.
 */
export async function compactWrittenBetween(
  tx: Tx,
  store: HistoryStore,
  workspaceId: string,
  through: Date,
  now: Date,
  afterAt: string,
  upToAt: string,
): Promise<number> {
  const written = (alias: string) => sql`${sql.ref(`${alias}.at`)} > ${afterAt}::timestamptz AND ${sql.ref(`${alias}.at`)} <= ${upToAt}::timestamptz`;
  if (store === 'contact_history') {
    return removeUnneededContactVersions(tx, workspaceId, now, sql`
      SELECT h.version, h.id, h.at FROM contact_history h WHERE h.workspace_id = ${workspaceId} AND ${written('h')}`);
  }
  return removeUnneededEntries(tx, workspaceId, through, now, sql`
    SELECT h.version, h.table_name, h.row_key, h.at
    FROM (SELECT DISTINCT w.table_name, w.row_key FROM history_entries w
          WHERE w.workspace_id = ${workspaceId} AND ${written('w')}) t
    JOIN history_entries h ON h.workspace_id = ${workspaceId} AND h.table_name = t.table_name AND h.row_key = t.row_key
    WHERE h.at <= ${through}`);
}
