import type { Readable } from 'node:stream';
import type { Clock } from '../clock.js';
import type { ChangeContext, Database } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { invalidState } from '../http/errors.js';
import { recordAudit } from '../audit/service.js';
import { readBackup, zeroCounts, type BackupTable, type Keyring, type KeyringRecord, type RowCounts } from './file.js';
import { readKeyring } from './keyring.js';
import { advanceSequences, insertRowImages, lockedTargetHoldsWorkspace, setAuditHead } from './queries.js';
import { mendDealsOfMissingContacts } from '../deals/service.js';

/** Row images inserted per statement during a restore. */
export const restoreBatchSize = 500;

export interface RestoreSummary {
  workspaceId: string;
  backupId: string;
  snapshotId: string;
  takenAt: string;
  /** Rows loaded per table. */
  restored: RowCounts;
  /** Rows left out per table: those of contacts whose keys are destroyed (purged or erased). */
  skipped: RowCounts;
  /** How many contacts were left out: shredded ones and, when allowed, those without their key. */
  skippedContacts: number;
  /**
   * The contacts left out whose keys the keyring lacks, or holds not as they sealed their
   * rows, with no mark of being shredded: only with `allowMissingKeys` (else a refusal).
   */
  missingKeys: { count: number; contactIds: string[] };
  /**
   * The keyring against the one the backup was made with: `same`, `other_generation`
   * (written since, or before), `altered` (the same generation with another digest: edited
   * by hand; restored only with `allowMissingKeys`), `not_recorded` (a format 1 backup).
   */
  keyring: KeyringComparison;
  /** Deals deleted because every contact they had was left out (seed 002's rule). */
  dealsDeleted: string[];
}

export type KeyringComparison = 'same' | 'other_generation' | 'altered' | 'not_recorded';

/**
 * A restore that would leave people out who were never erased: their keys are missing
 * from the keyring (or are not the keys that sealed them), or the keyring is not the one
 * written at its generation. Nothing was restored; `allowMissingKeys` restores the rest.
 */
export class MissingKeys extends Error {
  constructor(
    readonly contactIds: string[],
    readonly keyring: KeyringComparison,
    readonly keyringMarksShredded: boolean,
  ) {
    const reasons: string[] = [];
    if (contactIds.length > 0) {
      reasons.push(`the keyring has no key for ${contactIds.length === 1 ? '1 contact' : `${contactIds.length} contacts`} of the backup that it does not mark shredded (erased or purged): ${contactIds.join(', ')}`);
      if (!keyringMarksShredded) reasons.push('this keyring is of format version 1, which marks no one shredded: the missing keys may be of erased people, or lost');
    }
    if (keyring === 'altered') reasons.push('the keyring is not the one written at its generation: its digest differs from the one the backup recorded');
    super(`${reasons.join('; ')}; nothing was restored (--allow-missing-keys restores everyone else)`);
    this.name = 'MissingKeys';
  }
}

/** The keyring against the record of the backup's trailer. */
export function compareKeyring(keyring: Keyring, recorded: KeyringRecord | null): KeyringComparison {
  if (!recorded) return 'not_recorded';
  if (keyring.generation !== recorded.generation) return 'other_generation';
  return keyring.digest === recorded.sha256 ? 'same' : 'altered';
}

/**
 * Restores a backup file into an empty database (already migrated): the workspace as of
 * the backup's takenAt, table by table in foreign-key order, in one transaction, so a
 * file found damaged half-way leaves the database as empty as it was. Rows of a contact
 * the keyring marks shredded (purged or erased since) are left out, and deals are
 * mended as if that contact had left them. Restored rows are captured by history with
 * origin `backup`; the audit chain is restored whole and `backup.restored` appended to it.
 *
 * A contact whose key the keyring lacks without marking it shredded (or, format 2, holds
 * a key whose check value is not the row's) would be left out by mistake: the restore
 * refuses (MissingKeys, nothing changed) naming them, and so it does for a keyring that is
 * not the one written at its generation. With `allowMissingKeys` they are left out too and
 * named in the summary.
 *
 * Throws UnreadableBackup (nothing changed) when the file or the keyring cannot be read or
 * do not belong together, and 409 invalid_state when the database holds a workspace.
 *
 * @example
 * const summary = await restoreBackup(database, systemClock, { file: () => createReadStream(f), keyring: () => createReadStream(k) });
 */
export async function restoreBackup(
  database: Database,
  clock: Clock,
  input: { file: () => Readable; keyring: () => Readable },
  options: { batchSize?: number; allowMissingKeys?: boolean } = {},
): Promise<RestoreSummary> {
  const batchSize = options.batchSize ?? restoreBatchSize;
  const keyring = await readKeyring(input.keyring());
  const reading = await readBackup(input.file(), keyring);
  const { header } = reading;
  const change: ChangeContext = { workspaceId: header.workspaceId, actorId: null, origin: 'backup', at: clock.now() };
  try {
    return await inTransaction(database.db, change, async (tx) => {
      if (await lockedTargetHoldsWorkspace(tx)) {
        throw invalidState('The target database already holds a workspace: a backup is restored only into an empty database');
      }
      const restored = zeroCounts();
      const skipped = zeroCounts();
      const missingContacts = new Set<string>();
      const keyless = new Set<string>();
      let batchTable: BackupTable | undefined;
      let batch: Record<string, unknown>[] = [];
      const flush = async () => {
        if (batchTable) await insertRowImages(tx, batchTable.tableName, batch);
        batch = [];
      };
      for await (const entry of reading.entries) {
        if (entry.table !== batchTable || batch.length >= batchSize) {
          await flush();
          batchTable = entry.table;
        }
        if (entry.kind !== 'row') {
          skipped[entry.table.tableName] += 1;
          missingContacts.add(entry.contactId);
          if (entry.kind === 'keyless') keyless.add(entry.contactId);
          continue;
        }
        restored[entry.table.tableName] += 1;
        batch.push(entry.row);
      }
      await flush();
      const keyringState = compareKeyring(keyring, reading.keyring);
      const missingKeys = [...keyless].sort();
      if ((missingKeys.length > 0 || keyringState === 'altered') && !options.allowMissingKeys) {
        throw new MissingKeys(missingKeys, keyringState, keyring.marksShredded);
      }
      const dealsDeleted = await mendDealsOfMissingContacts(tx, header.workspaceId, [...missingContacts], change.at);
      await advanceSequences(tx);
      await setAuditHead(tx, header.workspaceId);
      const summary: RestoreSummary = {
        workspaceId: header.workspaceId,
        backupId: header.backupId,
        snapshotId: header.snapshotId,
        takenAt: header.takenAt,
        restored,
        skipped,
        skippedContacts: missingContacts.size,
        missingKeys: { count: missingKeys.length, contactIds: missingKeys },
        keyring: keyringState,
        dealsDeleted,
      };
      // The workspace is its own subject: the audit entry says the rest.
      const { workspaceId: _workspace, backupId: _backup, ...details } = summary;
      await recordAudit(tx, change, { action: 'backup.restored', targetType: 'backup', targetId: header.backupId, details });
      return summary;
    });
  } finally {
    // A refusal before the rows were read would leave the file open.
    await reading.close();
  }
}
