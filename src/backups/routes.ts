import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams, noContent } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { createBackup, deleteBackup, getBackup, listBackups, verifyBackup } from './service.js';
import { getBackupSchedule, updateBackupSchedule } from './schedule.js';

const newBackupBody = z.strictObject({ snapshotId: z.string().min(1).optional() }).optional();

/** The most backups a schedule keeps when told a number (GET /workspace shows it in `limits`). */
export const maxBackupsKept = 1000;

const namedContacts = z.object({ count: z.number().int(), contactIds: z.array(z.string()).describe('The first 100, in id order') });

const verificationSchema = z
  .object({
    keysChecked: z.boolean().describe('False for a format 1 backup: no check values, a key it lacks counts as shredded, as before'),
    shreddedContacts: z.number().int().describe('Contacts whose keys an erasure or a purge destroyed: their rows can no longer be read, as intended'),
    missingKeys: namedContacts.describe('Contacts whose keys the keyring lacks though they were never destroyed: a failure'),
    mismatchedKeys: namedContacts.describe('Contacts whose keys in the keyring are not the ones that sealed their rows: a failure'),
    keyring: z
      .enum(['same', 'other_generation', 'altered', 'not_recorded'])
      .describe('The keyring against the one written with the backup; altered (same generation, another digest) is a failure'),
  })
  .meta({ id: 'BackupVerification' });

/** An exported backup: the workspace as of a snapshot, one file in the backup store. */
export const backupSchema = z
  .object({
    id: z.string(),
    snapshotId: z.string(),
    takenAt: timestamp,
    fileName: z.string(),
    byteSize: z.number().int(),
    sha256: z.string(),
    rowCounts: z.record(z.string(), z.number().int()).describe('Rows per table in the file, every table named (zeros included)'),
    status: z.enum(['exported', 'verified', 'failed']),
    verifiedAt: timestamp.nullable(),
    error: z.string().nullable().describe('Why the last verification failed'),
    createdBy: z.string().nullable(),
    createdAt: timestamp,
    scheduled: z.boolean().describe('Made by the backup schedule, not by hand'),
    formatVersion: z.number().int().describe('The file format: 1 holds no key check values and records no keyring'),
    keyring: z
      .object({ generation: z.number().int(), sha256: z.string() })
      .nullable()
      .describe('The keyring written with the backup: its generation and content digest (null: format 1)'),
    verification: verificationSchema.nullable().describe('What the last verification found of the keyring against the backup (null: not recorded)'),
  })
  .meta({ id: 'Backup' });

const exportKind = z.enum(['off', 'hourly', 'weekly', 'monthly']);

const scheduleSchema = z.object({ export: exportKind, keep: z.number().int().nullable() }).meta({ id: 'BackupSchedule' });

export const backupRoutes: RouteModule = (app, ctx) => {
  const tag = 'backups';

  addRoute(app, ctx, {
    method: 'POST', url: '/backups', summary: 'Export the workspace as of a snapshot (a new one by default) to the backup store, then verify it', tag,
    response: backupSchema,
    access: { user: 'snapshots.manage' }, body: newBackupBody, status: 201,
    handler: ({ body, change }) => createBackup(ctx, change, body ?? {}),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/backups', summary: 'Exported backups, newest first', tag,
    response: pageOf(backupSchema),
    access: { user: 'snapshots.manage' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listBackups(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/backups/schedule', summary: 'Which scheduled snapshots are exported to the backup store on their own', tag,
    response: scheduleSchema,
    access: { user: 'snapshots.manage' },
    handler: ({ principal }) => getBackupSchedule(ctx.db, principal.workspaceId),
  });

  addRoute(app, ctx, {
    method: 'PUT', url: '/backups/schedule', summary: 'Export each new scheduled snapshot of one kind (hourly, weekly, monthly) to the backup store, or none; keep its newest `keep` backups, or all', tag,
    response: scheduleSchema,
    access: { user: 'snapshots.manage' }, body: z.strictObject({ export: exportKind, keep: z.int().min(1).max(maxBackupsKept).nullable().optional() }),
    handler: ({ body, change }) => updateBackupSchedule(ctx.db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/backups/:id', summary: 'An exported backup', tag,
    response: backupSchema,
    access: { user: 'snapshots.manage' }, params: idParams('id'),
    handler: ({ principal, params }) => getBackup(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/backups/:id/verify', summary: 'Re-read a backup from the store and check it: verified, or failed with why', tag,
    response: backupSchema,
    access: { user: 'snapshots.manage' }, params: idParams('id'),
    handler: ({ params, change }) => verifyBackup(ctx, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/backups/:id', summary: 'Delete a backup: its file and its record', tag,
    response: noContent,
    access: { user: 'snapshots.manage' }, params: idParams('id'), status: 204,
    handler: ({ params, change }) => deleteBackup(ctx, change, params.id),
  });
};
