import type { AppContext } from '../context.js';
import type { ChangeContext, Db } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { recordAudit } from '../audit/service.js';
import { AppError } from '../http/errors.js';
import { createBackup, deleteBackup } from './service.js';
import { markExported, selectDueExports, selectExportSchedule, selectScheduledBackupsBeyond, upsertExportSchedule, type ExportKind } from './queries.js';

/**
 * Which scheduled snapshots go to the backup store on their own: one kind, or none; and
 * how many of the backups so made are kept (the oldest beyond go; null keeps them all).
 */
export interface BackupSchedule {
  export: ExportKind | 'off';
  keep: number | null;
}

export async function getBackupSchedule(db: Db, workspaceId: string): Promise<BackupSchedule> {
  const { kind, keep } = await selectExportSchedule(db, workspaceId);
  return { export: kind ?? 'off', keep };
}

export async function updateBackupSchedule(db: Db, change: ChangeContext, input: { export: ExportKind | 'off'; keep?: number | null }): Promise<BackupSchedule> {
  const schedule: BackupSchedule = { export: input.export, keep: input.keep ?? null };
  await inTransaction(db, change, async (tx) => {
    const old = await upsertExportSchedule(tx, change.workspaceId, { kind: schedule.export === 'off' ? null : schedule.export, keep: schedule.keep }, change.at, change.actorId);
    await recordAudit(tx, change, {
      action: 'backup_schedule.updated',
      targetType: 'workspace',
      targetId: change.workspaceId,
      details: { before: { export: old.kind ?? 'off', keep: old.keep }, after: schedule },
    });
  });
  return schedule;
}

/**
 * The maintenance pass's part: each workspace that exports a kind of scheduled snapshot
 * gets the newest one of that kind exported (and verified, as every backup is), when it is
 * newer than the last one exported. One a pass: a pass that missed several exports only
 * the newest. A failed export is logged and tried again at the next pass. Returns how
 * many backups it made.
 */
export async function exportScheduledSnapshots(ctx: AppContext, workspaceId: string | null): Promise<number> {
  let exported = 0;
  for (const due of await selectDueExports(ctx.db, workspaceId, ctx.clock.now())) {
    const change: ChangeContext = { workspaceId: due.workspace_id, actorId: null, origin: 'system', at: ctx.clock.now() };
    try {
      await createBackup(ctx, change, { snapshotId: due.snapshot_id, scheduled: true });
    } catch (error) {
      // The next pass tries again; other workspaces' backups go ahead meanwhile.
      ctx.log.error({ err: error, workspaceId: due.workspace_id, snapshotId: due.snapshot_id }, 'scheduled backup failed');
      continue;
    }
    await markExported(ctx.db, due.workspace_id, due.taken_at);
    exported += 1;
    if (due.keep_count !== null) await dropUnkeptBackups(ctx, change, due.keep_count);
  }
  return exported;
}

/**
 * Once a scheduled backup is made, the schedule's backups older than its newest `keep`
 * verified ones go, as a delete by hand would take them (file, then record; audit
 * `backup.deleted`). Backups made by hand are never counted or removed. One that cannot
 * be deleted now (its file will not go, or it went meanwhile) is logged and left to the
 * next pass; the pass goes on.
 */
async function dropUnkeptBackups(ctx: AppContext, change: ChangeContext, keep: number): Promise<void> {
  for (const id of await selectScheduledBackupsBeyond(ctx.db, change.workspaceId, keep)) {
    try {
      await deleteBackup(ctx, change, id);
    } catch (error) {
      if (error instanceof AppError && error.status === 404) continue;
      ctx.log.error({ err: error, workspaceId: change.workspaceId, backupId: id }, 'scheduled backup could not be deleted');
    }
  }
}
