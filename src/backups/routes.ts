import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageQuery } from '../http/pagination.js';
import { createBackup, deleteBackup, getBackup, listBackups, verifyBackup } from './service.js';
import { getBackupSchedule, updateBackupSchedule } from './schedule.js';

const newBackupBody = z.strictObject({ snapshotId: z.string().min(1).optional() }).optional();

export const backupRoutes: RouteModule = (app, ctx) => {
  const tag = 'backups';

  addRoute(app, ctx, {
    method: 'POST', url: '/backups', summary: 'Export the workspace as of a snapshot (a new one by default) to the backup store, then verify it', tag,
    access: { user: 'snapshots.manage' }, body: newBackupBody, status: 201,
    handler: ({ body, change }) => createBackup(ctx, change, body ?? {}),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/backups', summary: 'Exported backups, newest first', tag,
    access: { user: 'snapshots.manage' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listBackups(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/backups/schedule', summary: 'Which scheduled snapshots are exported to the backup store on their own', tag,
    access: { user: 'snapshots.manage' },
    handler: ({ principal }) => getBackupSchedule(ctx.db, principal.workspaceId),
  });

  addRoute(app, ctx, {
    method: 'PUT', url: '/backups/schedule', summary: 'Export each new scheduled snapshot of one kind (hourly, weekly, monthly) to the backup store, or none; keep its newest `keep` backups, or all', tag,
    access: { user: 'snapshots.manage' }, body: z.strictObject({ export: z.enum(['off', 'hourly', 'weekly', 'monthly']), keep: z.int().min(1).max(1000).nullable().optional() }),
    handler: ({ body, change }) => updateBackupSchedule(ctx.db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/backups/:id', summary: 'An exported backup', tag,
    access: { user: 'snapshots.manage' }, params: idParams('id'),
    handler: ({ principal, params }) => getBackup(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/backups/:id/verify', summary: 'Re-read a backup from the store and check it: verified, or failed with why', tag,
    access: { user: 'snapshots.manage' }, params: idParams('id'),
    handler: ({ params, change }) => verifyBackup(ctx, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/backups/:id', summary: 'Delete a backup: its file and its record', tag,
    access: { user: 'snapshots.manage' }, params: idParams('id'), status: 204,
    handler: ({ params, change }) => deleteBackup(ctx, change, params.id),
  });
};
