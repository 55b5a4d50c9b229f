import type { z } from 'zod';
import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import type { AppContext } from '../context.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction, withTransaction } from '../db/database.js';
import { AppError, invalidState, notFound } from '../http/errors.js';
import { decodeCursor, toPage, type Page } from '../http/pagination.js';
import { chainPendingEntries, recordAudit } from '../audit/service.js';
import { getSnapshot, listSnapshots, takeSnapshot } from '../snapshots/service.js';
import { notify } from '../notifications/service.js';
import {
  backupFormat,
  backupFormatVersion,
  backupTables,
  gzipped,
  headerLine,
  keyCheck,
  newDataKey,
  readBackup,
  rowLine,
  sealRow,
  sealedLine,
  trailerLine,
  UnreadableBackup,
  zeroCounts,
  type BackupHeader,
  type Keyring,
  type KeyringRecord,
  type RowCounts,
} from './file.js';
import { keyringFileName, keyringLines, readKeyring } from './keyring.js';
import { DirectoryStore, type FileStore } from './store.js';
import {
  deleteBackupRow,
  deleteContactKeys,
  ensureContactKeys,
  insertBackup,
  keyringIsStale,
  lockContactsOfKeys,
  lockKeyring,
  markKeyringUnwritten,
  markKeyringWritten,
  selectDestroyedKeyPage,
  selectDestroyedKeysAmong,
  selectAuditPage,
  selectBackup,
  selectBackups,
  selectKeyPage,
  selectLastAuditSeqAsOf,
  selectRowsAsOf,
  selectSnapshotSettingsRow,
  selectStaleKeyrings,
  updateVerification,
  type BackupRow,
  type VerificationFindings,
} from './queries.js';
import type { backupSchema } from './routes.js';

/** Rows read from history (or the audit log, or keys) per statement while exporting. */
export const exportPageSize = 1000;

/** A backup as GET /backups/:id answers it (routes.ts backupSchema). */
export type Backup = z.output<typeof backupSchema>;

function presentBackup(row: BackupRow): Backup {
  return {
    id: row.id,
    snapshotId: row.snapshot_id,
    takenAt: row.taken_at.toISOString(),
    fileName: row.file_name,
    byteSize: row.byte_size,
    sha256: row.sha256,
    rowCounts: row.row_counts,
    status: row.status,
    verifiedAt: row.verified_at?.toISOString() ?? null,
    error: row.error,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    scheduled: row.scheduled,
    formatVersion: row.format_version,
    keyring: row.keyring_generation === null || row.keyring_sha256 === null ? null : { generation: row.keyring_generation, sha256: row.keyring_sha256 },
    verification: row.verification,
  };
}

/** Where the backup files are (RETRACE_BACKUP_DIR). */
export const backupStore = (config: Pick<Config, 'backupDir'>): FileStore => new DirectoryStore(config.backupDir);

/** Where the keyrings are (RETRACE_BACKUP_KEY_DIR): apart from the backups, so one copy of the files opens nothing. */
export const keyStore = (config: Pick<Config, 'backupKeyDir'>): FileStore => new DirectoryStore(config.backupKeyDir);

const backupFileName = (workspaceId: string, backupId: string) => `${workspaceId}.${backupId}.ndjson.gz`;

// ---------------------------------------------------------------- reading the record

/** The workspace's backups, newest first. */
export async function listBackups(db: Db, workspaceId: string, page: { limit: number; cursor?: string }): Promise<Page<Backup>> {
  const after = decodeCursor(page.cursor, ['timestamp', 'text']);
  const rows = await selectBackups(db, workspaceId, page.limit + 1, after);
  return toPage(rows, page.limit, (r) => [r.created_key, r.id], presentBackup);
}

export async function getBackup(db: Db, workspaceId: string, id: string): Promise<Backup> {
  const row = await selectBackup(db, workspaceId, id);
  if (!row) throw notFound('Backup');
  return presentBackup(row);
}

// ---------------------------------------------------------------- export

/**
 * Exports the workspace as of a retained snapshot's takenAt (or of a manual snapshot taken
 * now, when none is given) to the backup store, records it, rewrites the workspace's
 * keyring and verifies the file. Runs in the caller (the request): the file is streamed
 * page by page, so memory stays flat however large the workspace; time grows with it.
 *
 * A snapshot id that is no retained snapshot of the workspace is 422 point_not_recoverable
 * (details.nearest: the newest retained snapshots' takenAt). If the snapshot is deleted
 * while the file is written (compaction may then drop what it pinned), the file is thrown
 * away and the answer is 409 invalid_state.
 *
 * @example
 * const backup = await createBackup(ctx, change, {}); // backup.status: 'verified'
 */
export async function createBackup(
  ctx: AppContext,
  change: ChangeContext,
  /** `scheduled`: made by the backup schedule, which may later remove it (keep). */
  input: { snapshotId?: string; scheduled?: boolean },
  options: { pageSize?: number } = {},
): Promise<Backup> {
  const ws = change.workspaceId;
  const snapshot = input.snapshotId
    ? await retainedSnapshot(ctx, ws, input.snapshotId, change.at)
    : await takeSnapshot(ctx.db, change, { label: 'Taken for a backup' });
  const id = randomUUID();
  const fileName = backupFileName(ws, id);
  const header: BackupHeader = {
    format: backupFormat,
    version: backupFormatVersion,
    backupId: id,
    workspaceId: ws,
    snapshotId: snapshot.id,
    takenAt: snapshot.takenAt,
    createdAt: change.at.toISOString(),
    tables: backupTables.map((t) => t.tableName),
  };
  const store = backupStore(ctx.config);
  const counts = zeroCounts();
  const written: { keyring?: KeyringRecord } = {};
  const failed = { snapshotId: snapshot.id, takenAt: snapshot.takenAt, scheduled: input.scheduled ?? false };
  const stored = await store.write(fileName, gzipped(exportLines(ctx, change, header, counts, written, options.pageSize ?? exportPageSize))).catch(async (error: unknown) => {
    await notifyExportFailed(ctx, change, failed, error);
    throw error;
  });
  let row: BackupRow;
  try {
    const keyring = written.keyring;
    if (!keyring) throw new Error('the backup file was written without its trailer');
    if (!(await isRetained(ctx, ws, snapshot.id, change.at))) {
      throw invalidState('The snapshot was deleted while the backup was written; nothing was kept', { snapshotId: snapshot.id });
    }
    row = await inTransaction(ctx.db, change, async (tx) => {
      const inserted = await insertBackup(tx, ws, {
        id,
        snapshotId: snapshot.id,
        takenAt: new Date(snapshot.takenAt),
        fileName,
        byteSize: stored.byteSize,
        sha256: stored.sha256,
        rowCounts: counts,
        createdBy: change.actorId,
        createdAt: change.at,
        scheduled: input.scheduled ?? false,
        formatVersion: backupFormatVersion,
        keyring,
      });
      await recordAudit(tx, change, {
        action: 'backup.created',
        targetType: 'backup',
        targetId: id,
        details: { snapshotId: snapshot.id, takenAt: snapshot.takenAt, byteSize: stored.byteSize, sha256: stored.sha256, rowCounts: counts },
      });
      return inserted;
    });
  } catch (error) {
    await store.remove(fileName);
    await notifyExportFailed(ctx, change, failed, error);
    throw error;
  }
  return presentBackup(await recordVerification(ctx, change, row, { finishing: true }));
}

/**
 * Tells admins a backup could not be made (the store refused the file, the snapshot went
 * meanwhile): `backup.finished` with status `failed`, in a transaction of its own, since
 * nothing else of the backup committed. A scheduled one is tried again at every pass:
 * its failure is told once per snapshot, not every 30 seconds.
 */
async function notifyExportFailed(ctx: AppContext, change: ChangeContext, of: { snapshotId: string; takenAt: string; scheduled: boolean }, error: unknown): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  try {
    await inTransaction(ctx.db, change, (tx) =>
      notify(tx, change, 'backup.finished', { backupId: null, ...of, status: 'failed', byteSize: null, error: message, createdBy: change.actorId }, of.scheduled ? { once: `scheduled-backup-failed:${of.snapshotId}` } : {}),
    );
  } catch (notifyError) {
    // Through the log, which shows an error without the values it carries (loggableError).
    ctx.log.error({ err: notifyError, workspaceId: change.workspaceId }, 'the failure of a backup could not be notified');
  }
}

async function retainedSnapshot(ctx: AppContext, workspaceId: string, snapshotId: string, now: Date): Promise<{ id: string; takenAt: string }> {
  try {
    return await getSnapshot(ctx.db, workspaceId, snapshotId, now);
  } catch (error) {
    if (!(error instanceof AppError) || error.status !== 404) throw error;
    const newest = await listSnapshots(ctx.db, workspaceId, now, { limit: 5 });
    throw new AppError(422, 'point_not_recoverable', 'No retained snapshot of this workspace has this id: a backup is of a retained snapshot', {
      snapshotId,
      nearest: newest.data.map((s) => s.takenAt).reverse(),
    });
  }
}

async function isRetained(ctx: AppContext, workspaceId: string, snapshotId: string, now: Date): Promise<boolean> {
  try {
    await getSnapshot(ctx.db, workspaceId, snapshotId, now);
    return true;
  } catch (error) {
    if (error instanceof AppError && error.status === 404) return false;
    throw error;
  }
}

/**
 * The backup file's lines: the header, then every table as of takenAt, a page at a time
 * (one short statement each, so other work goes on in between, on PGlite too), then the
 * trailer. Counts what it writes into `counts`.
 *
 * A captured table's rows are its rows' latest history versions at or before takenAt,
 * deletes left out; compaction keeps exactly those for a retained snapshot. A contact's
 * row is sealed with the contact's key, made here if it has none; a contact removed for
 * good meanwhile has no key and its rows are left out (they are being erased anyway).
 * Before the trailer, the keyring is rewritten (the keys this backup made must be in it
 * before anyone can open the backup), and the trailer records its generation and digest
 * (also put in `written`, for the record).
 */
async function* exportLines(
  ctx: AppContext,
  change: ChangeContext,
  header: BackupHeader,
  counts: RowCounts,
  written: { keyring?: KeyringRecord },
  pageSize: number,
): AsyncGenerator<string> {
  const ws = header.workspaceId;
  const at = new Date(header.takenAt);
  yield headerLine(header);
  for (const table of backupTables) {
    if (table.tableName === 'snapshot_settings') {
      const settings = await selectSnapshotSettingsRow(ctx.db, ws);
      if (settings) {
        counts[table.tableName] += 1;
        yield rowLine(table.tableName, settings);
      }
      continue;
    }
    if (table.tableName === 'audit_log') {
      await chainPendingEntries(ctx.db, ws);
      const lastSeq = await selectLastAuditSeqAsOf(ctx.db, ws, at);
      for (let afterSeq = 0; lastSeq !== null; ) {
        const page = await selectAuditPage(ctx.db, ws, afterSeq, lastSeq, pageSize);
        if (page.length === 0) break;
        counts[table.tableName] += page.length;
        yield page.map((entry) => rowLine(table.tableName, entry.row)).join('');
        afterSeq = page[page.length - 1].seq;
      }
      continue;
    }
    for (let beforeKey: string | null = null; ; ) {
      const page = await selectRowsAsOf(ctx.db, ws, table.tableName, at, beforeKey, pageSize);
      if (page.length === 0) break;
      beforeKey = page[page.length - 1].row_key;
      const present = page.filter((r) => r.op !== 'delete' && r.after !== null);
      let lines: string[];
      if (table.person) {
        const keys = await keysOf(ctx, change, present.map((r) => ownerOf(table.tableName, r.contact_id)));
        lines = present.flatMap((r) => {
          const contactId = ownerOf(table.tableName, r.contact_id);
          const key = keys.get(contactId);
          return key ? [sealedLine(table.tableName, contactId, keyCheck(ws, contactId, key), sealRow(key, ws, table.tableName, contactId, r.after))] : [];
        });
      } else {
        lines = present.map((r) => rowLine(table.tableName, r.after));
      }
      counts[table.tableName] += lines.length;
      yield lines.join('');
      if (page.length < pageSize) break;
    }
  }
  const keyring = await rewriteKeyring(ctx, ws);
  written.keyring = { generation: keyring.generation, sha256: keyring.sha256 };
  yield trailerLine(counts, written.keyring);
}

function ownerOf(table: string, contactId: string | null): string {
  if (contactId === null) throw new Error(`history of ${table} names no contact for one of its rows`);
  return contactId;
}

/** The data keys of these contacts, each made (in one statement for the page) if it has none yet. */
async function keysOf(ctx: AppContext, change: ChangeContext, contactIds: string[]): Promise<Map<string, Buffer>> {
  const unique = [...new Set(contactIds)];
  if (unique.length === 0) return new Map();
  return inTransaction(ctx.db, change, (tx) =>
    ensureContactKeys(tx, change.workspaceId, unique.map((contactId) => ({ contactId, key: newDataKey() }))),
  );
}

// ---------------------------------------------------------------- verification

type Verdict =
  | { ok: true; shreddedRows: number; findings: VerificationFindings | null }
  | { ok: false; error: string; findings: VerificationFindings | null };

/** How many contact ids a verification result names at most (the count is always whole). */
export const namedContactsLimit = 100;

/**
 * Re-reads a backup from the store and records the verdict: `verified`, or `failed` with
 * why. It checks the file's size and SHA-256 against the record, that every line parses,
 * that every contact row opens with its key from the workspace's keyring, that the file
 * is complete, and that its rows per table are the record's.
 *
 * And the keyring against the backup (format 2): every sealed row's contact has its key
 * in the keyring, with the check value the row records, or its key was destroyed (the
 * database records every key an erasure or a purge destroyed; such rows count as
 * shredded, not as failures). A key missing for a contact whose key was never destroyed,
 * a key whose check value differs, or a keyring of the generation the backup recorded
 * whose digest is not the recorded one fails the backup, naming the contacts and how
 * many. A format 1 backup has no check values: a key it lacks counts as shredded, as it
 * always did, and `verification.keysChecked` is false.
 *
 * Audit `backup.verified` with `details.ok` (and `details.error`) and the findings.
 */
export async function verifyBackup(ctx: AppContext, change: ChangeContext, id: string): Promise<Backup> {
  const row = await selectBackup(ctx.db, change.workspaceId, id);
  if (!row) throw notFound('Backup');
  return presentBackup(await recordVerification(ctx, change, row, { finishing: false }));
}

/**
 * Checks the file and records the verdict. Admins are told of a failed verification
 * (`backup.verification_failed`) and, when this ends the making of a backup (`finishing`),
 * of the backup itself (`backup.finished`, verified or failed).
 */
async function recordVerification(ctx: AppContext, change: ChangeContext, row: BackupRow, { finishing }: { finishing: boolean }): Promise<BackupRow> {
  const verdict = await checkBackupFile(ctx, change.workspaceId, row);
  return inTransaction(ctx.db, change, async (tx) => {
    const updated = await updateVerification(tx, change.workspaceId, row.id, {
      ok: verdict.ok,
      error: verdict.ok ? null : verdict.error,
      at: change.at,
      findings: verdict.findings,
    });
    // Deleted meanwhile: nothing to record.
    if (!updated) throw notFound('Backup');
    const told = { backupId: updated.id, snapshotId: updated.snapshot_id, takenAt: updated.taken_at.toISOString(), scheduled: updated.scheduled };
    if (finishing) {
      await notify(tx, change, 'backup.finished', { ...told, status: updated.status, byteSize: updated.byte_size, error: updated.error, createdBy: updated.created_by });
    }
    if (!verdict.ok) await notify(tx, change, 'backup.verification_failed', { ...told, error: verdict.error });
    const found = verdict.findings ?? {};
    await recordAudit(tx, change, {
      action: 'backup.verified',
      targetType: 'backup',
      targetId: row.id,
      details: verdict.ok ? { ok: true, shreddedRows: verdict.shreddedRows, ...found } : { ok: false, error: verdict.error, ...found },
    });
    return updated;
  });
}

/** Contact ids gathered while reading: how many, and the first ones in id order. */
function named(ids: Set<string>): { count: number; contactIds: string[] } {
  return { count: ids.size, contactIds: [...ids].sort().slice(0, namedContactsLimit) };
}

const listed = (ids: { count: number; contactIds: string[] }) =>
  `${ids.contactIds.join(', ')}${ids.count > ids.contactIds.length ? ` and ${ids.count - ids.contactIds.length} more` : ''}`;

const contacts = (n: number) => (n === 1 ? '1 contact' : `${n} contacts`);

async function checkBackupFile(ctx: AppContext, workspaceId: string, row: BackupRow): Promise<Verdict> {
  const store = backupStore(ctx.config);
  try {
    if (!(await store.exists(row.file_name))) return { ok: false, error: 'the file is missing from the backup store', findings: null };
    const actual = await digestOf(store, row.file_name);
    if (actual.byteSize !== row.byte_size || actual.sha256 !== row.sha256) {
      return {
        ok: false,
        error: `the file is not the one written: ${actual.byteSize} bytes with SHA-256 ${actual.sha256}, recorded ${row.byte_size} bytes with ${row.sha256}`,
        findings: null,
      };
    }
    const keyring = await workspaceKeyring(ctx, workspaceId);
    const reading = await readBackup(store.read(row.file_name), keyring);
    const shredded = new Set<string>();
    let shreddedRows = 0;
    /** Rows per contact the keyring has no key for (marked shredded or not). */
    const keyless = new Map<string, number>();
    const mismatched = new Set<string>();
    try {
      const h = reading.header;
      if (h.backupId !== row.id || h.snapshotId !== row.snapshot_id || new Date(h.takenAt).getTime() !== row.taken_at.getTime()) {
        return { ok: false, error: 'the file is of another backup', findings: null };
      }
      for await (const entry of reading.entries) {
        // A shredded mark counts only as far as the database confirms it (a key line
        // turned into a mark would otherwise hide a person), so it is a key the keyring lacks.
        if (entry.kind === 'shredded' || (entry.kind === 'keyless' && entry.why === 'missing')) {
          keyless.set(entry.contactId, (keyless.get(entry.contactId) ?? 0) + 1);
        } else if (entry.kind === 'keyless') {
          mismatched.add(entry.contactId);
        }
      }
    } finally {
      await reading.close();
    }
    for (const table of backupTables) {
      if (reading.counts[table.tableName] !== (row.row_counts[table.tableName] ?? 0)) {
        return { ok: false, error: `the file holds ${reading.counts[table.tableName]} ${table.tableName} rows, the record says ${row.row_counts[table.tableName] ?? 0}`, findings: null };
      }
    }
    const keysChecked = reading.keyring !== null;
    // A key the keyring lacks is a shredded person's only if the database destroyed it;
    // in a format 1 backup, as before, it always counts as shredded.
    const destroyed = keysChecked ? await withTransaction(ctx.db, (tx) => selectDestroyedKeysAmong(tx, workspaceId, [...keyless.keys()])) : new Set(keyless.keys());
    const missing = new Set([...keyless.keys()].filter((id) => !destroyed.has(id)));
    for (const id of destroyed) {
      shredded.add(id);
      shreddedRows += keyless.get(id) ?? 0;
    }
    const keyringState: VerificationFindings['keyring'] = !reading.keyring
      ? 'not_recorded'
      : keyring.generation !== reading.keyring.generation
        ? 'other_generation'
        : keyring.digest === reading.keyring.sha256
          ? 'same'
          : 'altered';
    const findings: VerificationFindings = { keysChecked, shreddedContacts: shredded.size, missingKeys: named(missing), mismatchedKeys: named(mismatched), keyring: keyringState };
    const reasons: string[] = [];
    if (missing.size > 0) reasons.push(`the keyring lacks the keys of ${contacts(missing.size)} whose keys were never destroyed: ${listed(findings.missingKeys)}`);
    if (mismatched.size > 0) reasons.push(`the keyring's keys of ${contacts(mismatched.size)} are not the ones that sealed their rows: ${listed(findings.mismatchedKeys)}`);
    if (keyringState === 'altered') {
      reasons.push(`the keyring of generation ${keyring.generation} is not the one written with the backup: its digest is ${keyring.digest}, recorded ${reading.keyring?.sha256}`);
    }
    if (reasons.length > 0) return { ok: false, error: reasons.join('; '), findings };
    return { ok: true, shreddedRows, findings };
  } catch (error) {
    if (error instanceof UnreadableBackup) return { ok: false, error: error.message, findings: null };
    throw error;
  }
}

async function digestOf(store: FileStore, name: string): Promise<{ byteSize: number; sha256: string }> {
  const hash = createHash('sha256');
  let byteSize = 0;
  for await (const chunk of store.read(name) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    byteSize += chunk.byteLength;
  }
  return { byteSize, sha256: hash.digest('hex') };
}

/** The workspace's keyring as the key store holds it. */
async function workspaceKeyring(ctx: AppContext, workspaceId: string): Promise<Keyring> {
  const keys = keyStore(ctx.config);
  const name = keyringFileName(workspaceId);
  if (!(await keys.exists(name))) throw new UnreadableBackup("the workspace's keyring is missing from the key store");
  const keyring = await readKeyring(keys.read(name));
  if (keyring.workspaceId !== workspaceId) throw new UnreadableBackup("the key store's keyring is of another workspace");
  return keyring;
}

// ---------------------------------------------------------------- deletion

/** Removes a backup: its file from the store, then its record. Audit `backup.deleted`. */
export async function deleteBackup(ctx: AppContext, change: ChangeContext, id: string): Promise<void> {
  await inTransaction(ctx.db, change, async (tx) => {
    const row = await deleteBackupRow(tx, change.workspaceId, id);
    if (!row) throw notFound('Backup');
    // Inside the transaction: if the file cannot be removed, the record stays.
    await backupStore(ctx.config).remove(row.file_name);
    await recordAudit(tx, change, {
      action: 'backup.deleted',
      targetType: 'backup',
      targetId: row.id,
      details: { snapshotId: row.snapshot_id, takenAt: row.taken_at.toISOString(), fileName: row.file_name },
    });
  });
}

// ---------------------------------------------------------------- keys and keyrings

/**
 * Crypto-shredding, inside the transaction that removes contacts for good (purge,
 * erasure): destroys their data keys, so no backup can give them back once the keyring
 * is rewritten (rewriteStaleKeyrings, right after the commit; the maintenance pass
 * catches any rewrite that failed).
 */
export async function destroyBackupKeys(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  if (contactIds.length === 0) return;
  await lockContactsOfKeys(tx, workspaceId, contactIds);
  await deleteContactKeys(tx, workspaceId, contactIds);
}

/** What a keyring rewrite did: whether it wrote the file, and the generation and digest the file holds. */
export interface KeyringState extends KeyringRecord {
  written: boolean;
}

/**
 * Rewrites the workspace's keyring file from its keys and the ids of contacts whose keys
 * were destroyed, unless the file exists and holds the current generation. The keyring
 * row stays locked meanwhile, so a key destroyed during the rewrite waits for it and then
 * marks the file stale again.
 */
export async function rewriteKeyring(ctx: AppContext, workspaceId: string): Promise<KeyringState> {
  const change: ChangeContext = { workspaceId, actorId: null, origin: 'system', at: ctx.clock.now() };
  return inTransaction(ctx.db, change, (tx) => writeKeyringIn(ctx, tx, workspaceId, false));
}

/**
 * The keyring rewrite, in the caller's transaction (its view of the keys is what the file
 * holds; written_generation is set in it, so it counts only if that commits). `always`:
 * even if the row says the file is current.
 */
async function writeKeyringIn(ctx: AppContext, tx: Tx, workspaceId: string, always: boolean): Promise<KeyringState> {
  const now = ctx.clock.now();
  const store = keyStore(ctx.config);
  const name = keyringFileName(workspaceId);
  const state = await lockKeyring(tx, workspaceId);
  if (!always && state.written_generation === state.generation && state.written_sha256 !== null && (await store.exists(name))) {
    return { written: false, generation: state.generation, sha256: state.written_sha256 };
  }
  let sha256 = '';
  const lines = keyringLines(
    { workspaceId, generation: state.generation, writtenAt: now.toISOString() },
    keyPages(tx, workspaceId),
    destroyedKeyPages(tx, workspaceId),
    (digest) => (sha256 = digest),
  );
  await store.write(name, lines);
  await markKeyringWritten(tx, workspaceId, state.generation, sha256, now);
  return { written: true, generation: state.generation, sha256 };
}

async function* keyPages(tx: Tx, workspaceId: string): AsyncGenerator<{ contact_id: string; key: Buffer }[]> {
  for (let after: string | null = null; ; ) {
    const page = await selectKeyPage(tx, workspaceId, after, exportPageSize);
    if (page.length > 0) yield page;
    if (page.length < exportPageSize) return;
    after = page[page.length - 1].contact_id;
  }
}

async function* destroyedKeyPages(tx: Tx, workspaceId: string): AsyncGenerator<string[]> {
  for (let after: string | null = null; ; ) {
    const page = await selectDestroyedKeyPage(tx, workspaceId, after, exportPageSize);
    if (page.length > 0) yield page;
    if (page.length < exportPageSize) return;
    after = page[page.length - 1];
  }
}

/**
 * Before a transaction that destroys these contacts' keys and writes the keyring itself
 * (shredKeysNow): if any of them has a key, marks the keyring stale, committed on its
 * own, so a crash between the file's rename and that transaction's commit leaves it for
 * the maintenance pass to rewrite from the database. (A key made in between, by a backup,
 * is destroyed and written all the same, only without this mark.)
 */
export async function prepareKeyringRewrite(ctx: AppContext, workspaceId: string, contactIds: string[]): Promise<void> {
  await markKeyringUnwritten(ctx.db, workspaceId, contactIds);
}

/**
 * Inside a transaction that just destroyed keys (an erasure): writes the keyring file
 * without them before the transaction commits, so the destruction and the file go
 * together. A key store that cannot be written is 503 key_store_unavailable, which
 * rolls the whole transaction back: nothing of it happened. Nothing is written when the
 * keyring is current (no key was destroyed: the person was never in a backup).
 */
export async function shredKeysNow(ctx: AppContext, tx: Tx, workspaceId: string): Promise<void> {
  if (!(await keyringIsStale(tx, workspaceId))) return;
  try {
    await writeKeyringIn(ctx, tx, workspaceId, true);
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    ctx.log.error({ err: error, workspaceId }, 'the backup keyring could not be written');
    throw new AppError(503, 'key_store_unavailable', 'The backup key store cannot be written, so the keys cannot be destroyed in the keyring: nothing was changed; try again once it is writable', {
      ...(typeof code === 'string' ? { reason: code } : {}),
    });
  }
}

/**
 * Rewrites every stale keyring (of one workspace, or all when null): those whose keys
 * changed since the file was written. Called right after keys are destroyed, and by the
 * maintenance pass. Returns how many were rewritten.
 */
export async function rewriteStaleKeyrings(ctx: AppContext, workspaceId: string | null): Promise<number> {
  let rewritten = 0;
  for (const ws of await selectStaleKeyrings(ctx.db, workspaceId)) {
    if ((await rewriteKeyring(ctx, ws)).written) rewritten += 1;
  }
  return rewritten;
}
