import { createReadStream } from 'node:fs';
import type { Clock } from '../clock.js';
import type { AppContext } from '../context.js';
import type { ChangeContext } from '../db/database.js';
import { openDatabase } from '../app.js';
import { AppError } from '../http/errors.js';
import { getWorkspace } from '../workspaces/service.js';
import { backupStore, createBackup, keyStore, verifyBackup, type Backup } from '../backups/service.js';
import { keyringFileName } from '../backups/keyring.js';
import { UnreadableBackup } from '../backups/file.js';
import { MissingKeys, restoreBackup } from '../backups/restore.js';

export interface BackupCreateCommand {
  workspace: string;
  snapshot?: string;
}

export interface BackupVerifyCommand {
  workspace: string;
  id: string;
}

export interface BackupRestoreCommand {
  file: string;
  keyring: string;
  /** The target: a PostgreSQL server's database, or a PGlite directory. */
  databaseUrl?: string;
  dataDir?: string;
  /** Restore everyone else when contacts' keys are missing (they are named in the summary). */
  allowMissingKeys?: boolean;
}

/** The operator's change context: no actor, as the CLI runs with the machine's authority. */
const operatorChange = (ctx: AppContext, workspaceId: string): ChangeContext => ({ workspaceId, actorId: null, origin: 'user', at: ctx.clock.now() });

/** The backup as the API shows it, with where its file and the workspace's keyring are (what a restore takes). */
function printBackup(ctx: AppContext, backup: Backup, workspaceId: string): void {
  const file = backupStore(ctx.config).locate(backup.fileName);
  const keyring = keyStore(ctx.config).locate(keyringFileName(workspaceId));
  console.log(JSON.stringify({ ...backup, file, keyring }, null, 2));
  if (backup.status === 'failed') process.exitCode = 1;
}

async function reportingRefusals(exitCode: number, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof AppError) {
      console.error(`${error.code}: ${error.message} ${JSON.stringify(error.details)}`);
    } else if (error instanceof UnreadableBackup) {
      console.error(`backup_unreadable: ${error.message}`);
    } else if (error instanceof MissingKeys) {
      console.error(`missing_keys: ${error.message}`);
    } else {
      throw error;
    }
    process.exitCode = exitCode;
  }
}

/** `retrace backup create`: exports and verifies a backup; exit 1 when refused or when it fails verification. */
export async function createBackupFromCli(ctx: AppContext, command: BackupCreateCommand): Promise<void> {
  await reportingRefusals(1, async () => {
    await getWorkspace(ctx.db, command.workspace);
    const backup = await createBackup(ctx, operatorChange(ctx, command.workspace), { snapshotId: command.snapshot });
    printBackup(ctx, backup, command.workspace);
  });
}

/** `retrace backup verify`: re-reads a backup from the store; exit 1 when it fails. */
export async function verifyBackupFromCli(ctx: AppContext, command: BackupVerifyCommand): Promise<void> {
  await reportingRefusals(1, async () => {
    const backup = await verifyBackup(ctx, operatorChange(ctx, command.workspace), command.id);
    printBackup(ctx, backup, command.workspace);
  });
}

/**
 * `retrace backup restore`: opens (and migrates) the target database, restores the file
 * into it and prints what was restored and left out. A refusal (the target holds a
 * workspace; the file or keyring is unreadable, damaged or of another workspace; contacts
 * that were not erased have no key, unless `--allow-missing-keys`) changes nothing and
 * exits 2.
 */
export async function restoreBackupFromCli(clock: Clock, command: BackupRestoreCommand): Promise<void> {
  const database = await openDatabase({ databaseUrl: command.databaseUrl, dataDir: command.dataDir ?? '' });
  try {
    await reportingRefusals(2, async () => {
      const summary = await restoreBackup(
        database,
        clock,
        { file: () => createReadStream(command.file), keyring: () => createReadStream(command.keyring) },
        { allowMissingKeys: command.allowMissingKeys ?? false },
      );
      console.log(JSON.stringify(summary, null, 2));
    });
  } finally {
    await database.close();
  }
}
