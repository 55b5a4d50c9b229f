import type { Readable } from 'node:stream';
import type { Clock } from '../clock.js';
import type { ChangeContext, Database } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { invalidState } from '../http/errors.js';
import { recordAudit } from '../audit/service.js';
import { readBackup, zeroCounts, type BackupTable, type RowCounts } from './file.js';
import { readKeyring } from './keyring.js';
import { advanceSequences, insertRowImages, lockedTargetHoldsWorkspace, repointDealsOfMissingContacts, setAuditHead } from './queries.js';

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
  /** How many contacts were left out. */
  skippedContacts: number;
  /** Deals deleted because every contact they had was left out (seed 002's rule). */
  dealsDeleted: string[];
}

/**
 * Restores a backup file into an empty database (already migrated): the workspace as of
 * the backup's takenAt, table by table in foreign-key order, in one transaction, so a
 * file found damaged half-way leaves the database as empty as it was. Rows of a contact
 * whose key is not in the keyring (purged or erased since) are left out, and deals are
 * mended as if that contact had left them. Restored rows are captured by history with
 * origin `backup`; the audit chain is restored whole and `backup.restored` appended to it.
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
  options: { batchSize?: number } = {},
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
      let batchTable: BackupTable | undefined;
      let batch: Record<string, unknown>[] = [];
      const flush = async () => {
        if (batchTable) await insertRowImages(tx, batchTable.name, batch);
        batch = [];
      };
      for await (const entry of reading.entries) {
        if (entry.table !== batchTable || batch.length >= batchSize) {
          await flush();
          batchTable = entry.table;
        }
        if (entry.kind === 'shredded') {
          skipped[entry.table.name] += 1;
          missingContacts.add(entry.contactId);
          continue;
        }
        restored[entry.table.name] += 1;
        batch.push(entry.row);
      }
      await flush();
      const dealsDeleted = await repointDealsOfMissingContacts(tx, header.workspaceId, [...missingContacts], change.at);
      await advanceSequences(tx);
      await setAuditHead(tx, header.workspaceId);
      await recordAudit(tx, change, {
        action: 'backup.restored',
        targetType: 'backup',
        targetId: header.backupId,
        details: { snapshotId: header.snapshotId, takenAt: header.takenAt, restored, skipped, skippedContacts: missingContacts.size, dealsDeleted },
      });
      return {
        workspaceId: header.workspaceId,
        backupId: header.backupId,
        snapshotId: header.snapshotId,
        takenAt: header.takenAt,
        restored,
        skipped,
        skippedContacts: missingContacts.size,
        dealsDeleted,
      };
    });
  } finally {
    // A refusal before the rows were read would leave the file open.
    await reading.close();
  }
}
