import { sql, type Selectable, type SqlBool } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import type { Backups } from '../db/schema.js';
import { batchOf, byKeys } from '../db/keys.js';
import { cursorTime, type CursorKey } from '../http/pagination.js';
import { lockContactStatuses } from '../contacts/service.js';
import { anyWorkspace } from '../workspaces/service.js';

export type BackupStatus = 'exported' | 'verified' | 'failed';

/**
 * What the last verification found of the keyring against the backup (see verifyBackup).
 * A type alias, not an interface: only an alias is a Json value, which $narrowType needs.
 */
export type VerificationFindings = {
  keysChecked: boolean;
  shreddedContacts: number;
  missingKeys: { count: number; contactIds: string[] };
  mismatchedKeys: { count: number; contactIds: string[] };
  keyring: 'same' | 'other_generation' | 'altered' | 'not_recorded';
};

/** The jsonb columns as insertBackup and updateVerification write them, the status one the CHECK allows. */
type BackupShape = { row_counts: Record<string, number>; status: BackupStatus; verification: VerificationFindings | null };

/** A backup as its functions return it (backupColumns). */
export type BackupRow = Omit<Selectable<Backups>, 'workspace_id' | keyof BackupShape> & BackupShape;

/** A backup of a page of them: with created_at to the microsecond, for cursors. */
export type ListedBackupRow = BackupRow & { created_key: string };

/** Plain columns only: Citus refuses a function that is not IMMUTABLE, such as the cursor's to_char, in a RETURNING. */
const backupColumns = [
  'id', 'snapshot_id', 'taken_at', 'file_name', 'byte_size', 'sha256', 'row_counts', 'status', 'verified_at', 'error', 'created_by', 'created_at',
  'scheduled', 'format_version', 'keyring_generation', 'keyring_sha256', 'verification',
] as const;

// ---------------------------------------------------------------- the backups record

export async function insertBackup(
  tx: Tx,
  workspaceId: string,
  input: {
    id: string;
    snapshotId: string;
    takenAt: Date;
    fileName: string;
    byteSize: number;
    sha256: string;
    rowCounts: Record<string, number>;
    createdBy: string | null;
    createdAt: Date;
    scheduled: boolean;
    formatVersion: number;
    keyring: { generation: number; sha256: string };
  },
): Promise<BackupRow> {
  return tx
    .insertInto('backups')
    .values({
      workspace_id: workspaceId,
      id: input.id,
      snapshot_id: input.snapshotId,
      taken_at: input.takenAt,
      file_name: input.fileName,
      byte_size: input.byteSize,
      sha256: input.sha256,
      row_counts: JSON.stringify(input.rowCounts),
      status: 'exported',
      created_by: input.createdBy,
      created_at: input.createdAt,
      scheduled: input.scheduled,
      format_version: input.formatVersion,
      keyring_generation: input.keyring.generation,
      keyring_sha256: input.keyring.sha256,
    })
    .returning(backupColumns)
    .$narrowType<BackupShape>()
    .executeTakeFirstOrThrow();
}

/** One page of the workspace's backups, newest first. */
export async function selectBackups(db: Db, workspaceId: string, limit: number, after: CursorKey | undefined): Promise<ListedBackupRow[]> {
  let query = db.selectFrom('backups as b').select([...backupColumns, cursorTime('created_at').as('created_key')]).where('b.workspace_id', '=', workspaceId);
  if (after) query = query.where(sql<SqlBool>`(b.created_at, b.id) < (${after[0]}::timestamptz, ${after[1]}::text)`);
  return query.orderBy('b.created_at', 'desc').orderBy('b.id', 'desc').limit(limit).$narrowType<BackupShape>().execute();
}

export async function selectBackup(db: Db | Tx, workspaceId: string, id: string): Promise<BackupRow | undefined> {
  return db.selectFrom('backups').select(backupColumns).where('workspace_id', '=', workspaceId).where('id', '=', id).$narrowType<BackupShape>().executeTakeFirst();
}

/** The verdict of a verification: verified (error cleared) or failed with why, and what it found of the keyring. */
export async function updateVerification(
  tx: Tx,
  workspaceId: string,
  id: string,
  verdict: { ok: boolean; error: string | null; at: Date; findings: VerificationFindings | null },
): Promise<BackupRow | undefined> {
  return tx
    .updateTable('backups')
    .set({
      status: verdict.ok ? 'verified' : 'failed',
      verified_at: verdict.at,
      error: verdict.error,
      verification: verdict.findings === null ? null : JSON.stringify(verdict.findings),
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returning(backupColumns)
    .$narrowType<BackupShape>()
    .executeTakeFirst();
}

export async function deleteBackupRow(tx: Tx, workspaceId: string, id: string): Promise<BackupRow | undefined> {
  return tx.deleteFrom('backups').where('workspace_id', '=', workspaceId).where('id', '=', id).returning(backupColumns).$narrowType<BackupShape>().executeTakeFirst();
}

// ---------------------------------------------------------------- the workspace as of T

/** A row's state as of T, as history holds it: its image, unless its latest version at or before T is a delete. */
export interface RowAsOf {
  row_key: string;
  op: 'insert' | 'update' | 'delete';
  contact_id: string | null;
  after: Record<string, unknown> | null;
}

/**
 * One page of a captured table as of `at`: for each row (by history's row_key, walking
 * down from `beforeKey`), its latest version at or before `at`. Deletes are returned too,
 * so the caller's keyset position moves past them; the caller drops them. The walk goes
 * down the history_row index backwards (row_key DESC, version DESC), so each page reads
 * about its own rows, however large the table.
 */
export async function selectRowsAsOf(db: Db, workspaceId: string, table: string, at: Date, beforeKey: string | null, limit: number): Promise<RowAsOf[]> {
  if (table === 'contacts') return selectContactsAsOf(db, workspaceId, at, beforeKey, limit);
  const { rows } = await sql<RowAsOf>`
    SELECT DISTINCT ON (h.row_key) h.row_key, h.op, h.contact_id, h.after
    FROM history_entries h
    WHERE h.workspace_id = ${workspaceId} AND h.table_name = ${table} AND h.at <= ${at}
      AND (${beforeKey}::text IS NULL OR h.row_key < ${beforeKey})
    ORDER BY h.row_key DESC, h.version DESC
    LIMIT ${limit}`.execute(db);
  return rows;
}

/**
 * One page of contacts as of `at` (contact_history keeps each version's row as it was
 * before the change): each contact's `before` of its first change after `at` (none: it
 * did not exist yet), or, with no change since, the live row. The walk goes down the
 * contacts' primary key from `beforeKey`. A contact removed outright since is left out:
 * its rows are sealed with its own key, which went with it.
 */
async function selectContactsAsOf(db: Db, workspaceId: string, at: Date, beforeKey: string | null, limit: number): Promise<RowAsOf[]> {
  const { rows } = await sql<{ row_key: string; after: Record<string, unknown> | null }>`
    SELECT p.id AS row_key, CASE WHEN f.changed THEN to_jsonb(f.before) ELSE to_jsonb(p) END AS after
    FROM (
      SELECT c.* FROM contacts c
      WHERE c.workspace_id = ${workspaceId} AND (${beforeKey}::text IS NULL OR c.id < ${beforeKey})
      ORDER BY c.id DESC LIMIT ${limit}) p
    LEFT JOIN LATERAL (
      SELECT true AS changed, h.before FROM contact_history h
      WHERE h.workspace_id = ${workspaceId} AND h.id = p.id AND h.at > ${at}
      ORDER BY h.version LIMIT 1) f ON true
    ORDER BY p.id DESC`.execute(db);
  return rows.map((r) => ({ row_key: r.row_key, contact_id: r.row_key, op: r.after === null ? 'delete' : 'update', after: r.after }));
}

/**
 * The last audit entry a backup as of `at` holds, by its place in the chain: the furthest
 * among entries at or before `at`. The chain follows commits, and a transaction that
 * began before `at` may commit after a later one, so the backup takes every entry up to
 * it (a chain prefix, verifiable after restore), even one whose `at` is a little later.
 * The caller chains what is pending first.
 */
export async function selectLastAuditSeqAsOf(db: Db, workspaceId: string, at: Date): Promise<number | null> {
  const { rows } = await sql<{ last_seq: number | null }>`
    SELECT max(chain_seq) AS last_seq FROM audit_log WHERE workspace_id = ${workspaceId} AND at <= ${at} AND chain_seq IS NOT NULL`.execute(db);
  return rows[0].last_seq;
}

/** One page of the audit chain (chain order) after `afterSeq`, up to `lastSeq`, as row images. */
export async function selectAuditPage(db: Db, workspaceId: string, afterSeq: number, lastSeq: number, limit: number): Promise<{ seq: number; row: Record<string, unknown> }[]> {
  const { rows } = await sql<{ seq: number; row: Record<string, unknown> }>`
    SELECT a.chain_seq AS seq, to_jsonb(a) AS row FROM audit_log a
    WHERE a.workspace_id = ${workspaceId} AND a.chain_seq > ${afterSeq} AND a.chain_seq <= ${lastSeq}
    ORDER BY a.chain_seq
    LIMIT ${limit}`.execute(db);
  return rows;
}

/** The workspace's snapshot schedule as a row image, if it is not the defaults. */
export async function selectSnapshotSettingsRow(db: Db, workspaceId: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await sql<{ row: Record<string, unknown> }>`
    SELECT to_jsonb(s) AS row FROM snapshot_settings s WHERE s.workspace_id = ${workspaceId}`.execute(db);
  return rows[0]?.row;
}

// ---------------------------------------------------------------- data keys

/**
 * Gives every listed contact that still exists a data key, unless it has one (the keys
 * offered are used for those that have none), and returns the keys of all listed contacts
 * that have one now. The contacts are locked FOR KEY SHARE first, in id order: a contact
 * being removed for good (whose transaction locks it before its keys, see
 * lockContactsOfKeys) is waited for and then left out, so no key is ever made for a
 * person who is gone.
 */
export async function ensureContactKeys(tx: Tx, workspaceId: string, offered: { contactId: string; key: Buffer }[]): Promise<Map<string, Buffer>> {
  const ids = offered.map((o) => o.contactId);
  await byKeys(tx, sql`
    WITH live AS (
      SELECT c.id FROM ${batchOf(workspaceId, ids)} JOIN contacts c ON c.workspace_id = k.workspace_id AND c.id = k.key
      ORDER BY c.id
      FOR KEY SHARE OF c
    )
    INSERT INTO backup_keys (workspace_id, contact_id, key)
    SELECT ${workspaceId}, o.contact_id, decode(o.key, 'base64')
    FROM unnest(${ids}::text[], ${offered.map((o) => o.key.toString('base64'))}::text[]) AS o(contact_id, key)
    JOIN live ON live.id = o.contact_id
    ON CONFLICT (workspace_id, contact_id) DO NOTHING`);
  const { rows } = await byKeys(tx, sql<{ contact_id: string; key: Buffer | Uint8Array }>`
    SELECT b.contact_id, b.key FROM ${batchOf(workspaceId, ids)} JOIN backup_keys b ON b.workspace_id = k.workspace_id AND b.contact_id = k.key`);
  return new Map(rows.map((r) => [r.contact_id, Buffer.from(r.key)]));
}

/**
 * Locks the contacts whose keys are about to be destroyed, in id order, before the keys:
 * the same order as ensureContactKeys (contacts, then the keyring row its insert
 * touches), so the two never deadlock.
 */
export async function lockContactsOfKeys(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await lockContactStatuses(tx, workspaceId, contactIds);
}

/** Destroys the contacts' data keys; the trigger marks the workspace's keyring stale. */
export async function deleteContactKeys(tx: Tx, workspaceId: string, contactIds: string[]): Promise<number> {
  const { rows } = await byKeys(tx, sql<{ contact_id: string }>`
    DELETE FROM backup_keys b USING ${batchOf(workspaceId, contactIds)} WHERE b.workspace_id = k.workspace_id AND b.contact_id = k.key
    RETURNING b.contact_id`);
  return rows.length;
}

/** Of these contacts, those whose keys were destroyed (by an erasure, a purge, any removal for good). */
export async function selectDestroyedKeysAmong(tx: Tx, workspaceId: string, contactIds: string[]): Promise<Set<string>> {
  if (contactIds.length === 0) return new Set();
  const { rows } = await byKeys(tx, sql<{ contact_id: string }>`
    SELECT d.contact_id FROM ${batchOf(workspaceId, contactIds)} JOIN backup_destroyed_keys d ON d.workspace_id = k.workspace_id AND d.contact_id = k.key`);
  return new Set(rows.map((r) => r.contact_id));
}

/** One page of the ids of contacts whose keys were destroyed, in id order after `afterContactId`. */
export async function selectDestroyedKeyPage(tx: Tx, workspaceId: string, afterContactId: string | null, limit: number): Promise<string[]> {
  let query = tx.selectFrom('backup_destroyed_keys').select('contact_id').where('workspace_id', '=', workspaceId);
  if (afterContactId !== null) query = query.where('contact_id', '>', afterContactId);
  const rows = await query.orderBy('contact_id').limit(limit).execute();
  return rows.map((r) => r.contact_id);
}

/** One page of the workspace's keys, in contact id order after `afterContactId`. */
export async function selectKeyPage(tx: Tx, workspaceId: string, afterContactId: string | null, limit: number): Promise<{ contact_id: string; key: Buffer }[]> {
  let query = tx.selectFrom('backup_keys').select(['contact_id', 'key']).where('workspace_id', '=', workspaceId);
  if (afterContactId !== null) query = query.where('contact_id', '>', afterContactId);
  const rows = await query.orderBy('contact_id').limit(limit).execute();
  // PGlite reads bytea as a Uint8Array, the pg driver as a Buffer.
  return rows.map((r) => ({ contact_id: r.contact_id, key: Buffer.from(r.key) }));
}

// ---------------------------------------------------------------- keyrings

/**
 * Locks the workspace's keyring row (made if the workspace never had a key): the mutex
 * between a rewrite of its file and any change of its keys, whose trigger updates this
 * row. Says which generation of the keys the file will hold.
 */
export async function lockKeyring(tx: Tx, workspaceId: string): Promise<{ generation: number; written_generation: number | null; written_sha256: string | null }> {
  await tx.insertInto('backup_keyrings').values({ workspace_id: workspaceId }).onConflict((oc) => oc.column('workspace_id').doNothing()).execute();
  return tx.selectFrom('backup_keyrings')
    .select(['generation', 'written_generation', 'written_sha256'])
    .where('workspace_id', '=', workspaceId)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

export async function markKeyringWritten(tx: Tx, workspaceId: string, generation: number, sha256: string, at: Date): Promise<void> {
  await tx.updateTable('backup_keyrings')
    .set({ written_generation: generation, written_sha256: sha256, written_at: at })
    .where('workspace_id', '=', workspaceId)
    .execute();
}

/**
 * Marks the workspace's keyring stale if any of these contacts has a key, committed on its
 * own before a transaction that writes the file before it commits (an erasure): should the process die between the
 * file's rename and that commit, the maintenance pass still rewrites the file from the
 * database, never trusting one that holds what did not commit.
 */
export async function markKeyringUnwritten(db: Db, workspaceId: string, ofContacts: string[]): Promise<void> {
  await sql`UPDATE backup_keyrings SET written_generation = NULL
            WHERE workspace_id = ${workspaceId}
              AND EXISTS (SELECT 1 FROM backup_keys b WHERE b.workspace_id = ${workspaceId} AND b.contact_id = ANY(${ofContacts}::text[]))`.execute(db);
}

/** Whether the workspace's keyring row says its file is older than its keys (in this transaction's view). */
export async function keyringIsStale(tx: Tx, workspaceId: string): Promise<boolean> {
  const row = await tx
    .selectFrom('backup_keyrings')
    .select((eb) => eb('written_generation', 'is distinct from', eb.ref('generation')).$castTo<boolean>().as('stale'))
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return row?.stale ?? false;
}

/** Workspaces (one, or all when null) whose keyring file is older than their keys. */
export async function selectStaleKeyrings(db: Db, workspaceId: string | null): Promise<string[]> {
  let query = db.selectFrom('backup_keyrings').select('workspace_id');
  if (workspaceId !== null) query = query.where('workspace_id', '=', workspaceId);
  const rows = await query.whereRef('written_generation', 'is distinct from', 'generation').orderBy('workspace_id').execute();
  return rows.map((r) => r.workspace_id);
}

// ---------------------------------------------------------------- restore into an empty database

/**
 * Whether the database holds any workspace; a restore goes only into one that holds none.
 * Takes a transaction-scoped advisory lock first, so two restores into one database take
 * turns and the second sees the first's workspace.
 */
export async function lockedTargetHoldsWorkspace(tx: Tx): Promise<boolean> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('retrace.backup_restore'))`.execute(tx);
  return anyWorkspace(tx);
}

/**
 * Inserts row images (as the backup holds them: to_jsonb of the row) into their table,
 * one statement per batch. A column an image lacks is null.
 */
export async function insertRowImages(tx: Tx, table: string, images: Record<string, unknown>[]): Promise<void> {
  if (images.length === 0) return;
  await sql`
    INSERT INTO ${sql.table(table)}
    SELECT r.* FROM jsonb_array_elements(${JSON.stringify(images)}::jsonb) AS e(image)
    CROSS JOIN LATERAL jsonb_populate_record(NULL::${sql.table(table)}, e.image) AS r`.execute(tx);
}

/**
 * Moves the sequences past the restored values: deal_contacts.added_seq (a deal's contacts
 * in the order added) and audit_log.id (the chain's order), so what is written next comes
 * after them.
 */
export async function advanceSequences(tx: Tx): Promise<void> {
  await sql`SELECT setval('deal_contacts_added_seq', greatest((SELECT max(added_seq) FROM deal_contacts), 1))`.execute(tx);
  await sql`SELECT setval(pg_get_serial_sequence('audit_log', 'id'), greatest((SELECT max(id) FROM audit_log), 1))`.execute(tx);
}

/**
 * Points the workspace's audit chain head at its last restored entry, so new entries
 * chain on. Entries of a backup made before the chain had its order column have none:
 * the head then starts empty, and they are chained again in id order, which was their
 * order, to the same hashes.
 */
export async function setAuditHead(tx: Tx, workspaceId: string): Promise<void> {
  await sql`
    INSERT INTO audit_heads (workspace_id, last_id, hash, last_seq)
    SELECT ${workspaceId}, last.id, last.hash, coalesce(last.chain_seq, 0)
    FROM (SELECT NULL::bigint AS id, NULL::text AS hash, NULL::bigint AS chain_seq) none
    LEFT JOIN LATERAL (SELECT id, hash, chain_seq FROM audit_log WHERE workspace_id = ${workspaceId} AND chain_seq IS NOT NULL
                       ORDER BY chain_seq DESC LIMIT 1) last ON true
    ON CONFLICT (workspace_id) DO UPDATE SET last_id = EXCLUDED.last_id, hash = EXCLUDED.hash, last_seq = EXCLUDED.last_seq`.execute(tx);
}

// ---------------------------------------------------------------- the export schedule

export type ExportKind = 'hourly' | 'weekly' | 'monthly';

export interface ExportSchedule {
  kind: ExportKind | null;
  /** How many of the schedule's backups to keep, newest first; null: all. */
  keep: number | null;
}

export async function selectExportSchedule(db: Db | Tx, workspaceId: string): Promise<ExportSchedule> {
  const row = await db.selectFrom('backup_schedules')
    .select(['export_kind', 'keep_count'])
    .where('workspace_id', '=', workspaceId)
    .$narrowType<{ export_kind: ExportKind | null }>()
    .executeTakeFirst();
  return { kind: row?.export_kind ?? null, keep: row?.keep_count ?? null };
}

/** Sets the schedule; a change of kind starts again from that kind's newest snapshot. Returns the one before. */
export async function upsertExportSchedule(tx: Tx, workspaceId: string, schedule: ExportSchedule, at: Date, by: string | null): Promise<ExportSchedule> {
  const row = await tx.selectFrom('backup_schedules')
    .select(['export_kind', 'keep_count'])
    .where('workspace_id', '=', workspaceId)
    .forUpdate()
    .$narrowType<{ export_kind: ExportKind | null }>()
    .executeTakeFirst();
  const old = { kind: row?.export_kind ?? null, keep: row?.keep_count ?? null };
  await tx
    .insertInto('backup_schedules')
    .values({ workspace_id: workspaceId, export_kind: schedule.kind, keep_count: schedule.keep, exported_through: null, updated_at: at, updated_by: by })
    .onConflict((oc) =>
      oc.column('workspace_id').doUpdateSet((eb) => ({
        export_kind: eb.ref('excluded.export_kind'),
        keep_count: eb.ref('excluded.keep_count'),
        updated_at: eb.ref('excluded.updated_at'),
        updated_by: eb.ref('excluded.updated_by'),
        exported_through: eb
          .case()
          .when('backup_schedules.export_kind', 'is not distinct from', eb.ref('excluded.export_kind'))
          .then(eb.ref('backup_schedules.exported_through'))
          .end(),
      })),
    )
    .execute();
  return old;
}

/**
 * The schedule's backups it no longer keeps, oldest first: those made before the newest
 * `keep` verified ones (by when they were made: a backup of an older snapshot, after a
 * change of kind, is still the newest). None while fewer than `keep` are verified, so a
 * backup that failed its verification never pushes out a good one.
 */
export async function selectScheduledBackupsBeyond(db: Db, workspaceId: string, keep: number): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    WITH oldest_kept AS (
      SELECT created_at, id FROM backups
      WHERE workspace_id = ${workspaceId} AND scheduled AND status = 'verified'
      ORDER BY created_at DESC, id DESC OFFSET ${keep - 1} LIMIT 1)
    SELECT b.id FROM backups b, oldest_kept k
    WHERE b.workspace_id = ${workspaceId} AND b.scheduled AND (b.created_at, b.id) < (k.created_at, k.id)
    ORDER BY b.created_at, b.id`.execute(db);
  return rows.map((r) => r.id);
}

/**
 * For each workspace that exports a kind (all, or the one given): its newest retained
 * snapshot of that kind, when newer than the last one exported, and how many to keep.
 */
export async function selectDueExports(
  db: Db,
  workspaceId: string | null,
  now: Date,
): Promise<{ workspace_id: string; snapshot_id: string; taken_at: Date; keep_count: number | null }[]> {
  const { rows } = await sql<{ workspace_id: string; snapshot_id: string; taken_at: Date; keep_count: number | null }>`
    SELECT DISTINCT ON (bs.workspace_id) bs.workspace_id, s.id AS snapshot_id, s.taken_at, bs.keep_count
    FROM backup_schedules bs
    JOIN snapshots s ON s.workspace_id = bs.workspace_id AND s.kind = bs.export_kind
      AND s.deleted_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > ${now})
      AND (bs.exported_through IS NULL OR s.taken_at > bs.exported_through)
    WHERE bs.export_kind IS NOT NULL AND (${workspaceId}::text IS NULL OR bs.workspace_id = ${workspaceId})
    ORDER BY bs.workspace_id, s.taken_at DESC`.execute(db);
  return rows;
}

export async function markExported(db: Db, workspaceId: string, takenAt: Date): Promise<void> {
  await db
    .updateTable('backup_schedules')
    .set((eb) => ({ exported_through: eb.fn<Date>('greatest', ['exported_through', eb.val(takenAt)]) }))
    .where('workspace_id', '=', workspaceId)
    .execute();
}
