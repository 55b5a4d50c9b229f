import type { AppContext } from '../context.js';
import type { ChangeContext, Db } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { recordAudit } from '../audit/service.js';
import { createBackup } from './service.js';
import { markExported, selectDueExports, selectExportKind, upsertExportKind, type ExportKind } from './queries.js';

/** Which scheduled snapshots go to the backup store on their own: one kind, or none. */
export interface BackupSchedule {
  export: ExportKind | 'off';
}

export async function getBackupSchedule(db: Db, workspaceId: string): Promise<BackupSchedule> {
  return { export: (await selectExportKind(db, workspaceId)) ?? 'off' };
}

export async function updateBackupSchedule(db: Db, change: ChangeContext, schedule: BackupSchedule): Promise<BackupSchedule> {
  const kind = schedule.export === 'off' ? null : schedule.export;
  await inTransaction(db, change, async (tx) => {
    const old = await upsertExportKind(tx, change.workspaceId, kind, change.at, change.actorId);
    await recordAudit(tx, change, {
      action: 'backup_schedule.updated',
      targetType: 'workspace',
      targetId: change.workspaceId,
      details: { before: old ?? 'off', after: schedule.export },
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
      await createBackup(ctx, change, { snapshotId: due.snapshot_id });
    } catch (error) {
      // The next pass tries again; other workspaces' backups go ahead meanwhile.
      console.error(`scheduled backup of workspace ${due.workspace_id} failed`, error);
      continue;
    }
    await markExported(ctx.db, due.workspace_id, due.taken_at);
    exported += 1;
  }
  return exported;
}
