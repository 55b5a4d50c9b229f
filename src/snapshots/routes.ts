import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams, noContent } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import {
  deleteSnapshot,
  getSnapshot,
  getSnapshotSettings,
  listSnapshots,
  recoverableRange,
  takeSnapshot,
  updateSnapshotSettings,
} from './service.js';

/** How long a scheduled kind may be kept, and how long a label may be (GET /workspace shows them in `limits`). */
export const snapshotLimits = { keepHours: 366 * 24, keepDays: 3660, labelLength: 200 };

const newSnapshotBody = z.strictObject({ label: z.string().trim().min(1).max(snapshotLimits.labelLength).nullable().optional() }).optional();

const enabled = z.boolean();
const keepHours = z.number().int().min(1).max(snapshotLimits.keepHours);
const keepDays = z.number().int().min(1).max(snapshotLimits.keepDays);
const nonEmpty = (section: object) => Object.keys(section).length > 0;
const settingsPatch = z
  .strictObject({
    hourly: z.strictObject({ enabled: enabled.optional(), keepHours: keepHours.optional() }).refine(nonEmpty, 'Give enabled or keepHours').optional(),
    weekly: z.strictObject({ enabled: enabled.optional(), keepDays: keepDays.optional() }).refine(nonEmpty, 'Give enabled or keepDays').optional(),
    monthly: z.strictObject({ enabled: enabled.optional(), keepDays: keepDays.optional() }).refine(nonEmpty, 'Give enabled or keepDays').optional(),
  })
  .refine(nonEmpty, 'Give at least one of hourly, weekly, monthly');

const snapshotKind = z.enum(['hourly', 'weekly', 'monthly', 'manual']);

/** A retained point in time: rollbacks may go back to its takenAt exactly. */
const snapshotSchema = z
  .object({
    id: z.string(),
    takenAt: timestamp,
    kind: snapshotKind,
    label: z.string().nullable(),
    expiresAt: timestamp.nullable(),
    createdBy: z.string().nullable(),
    createdAt: timestamp,
  })
  .meta({ id: 'Snapshot' });

const settingsSchema = z
  .object({
    hourly: z.object({ enabled: z.boolean(), keepHours: z.number().int() }),
    weekly: z.object({ enabled: z.boolean(), keepDays: z.number().int() }),
    monthly: z.object({ enabled: z.boolean(), keepDays: z.number().int() }),
  })
  .meta({ id: 'SnapshotSettings' });

/** Every recoverable point: any instant from `from` to `to` (now), and each snapshot's exact takenAt. */
const recoverablePointsSchema = z
  .object({ from: timestamp, to: timestamp, snapshots: z.array(z.object({ id: z.string(), takenAt: timestamp, kind: snapshotKind })) })
  .meta({ id: 'RecoverablePoints' });

export const snapshotRoutes: RouteModule = (app, ctx) => {
  const tag = 'snapshots';

  addRoute(app, ctx, {
    method: 'GET', url: '/snapshots', summary: 'Retained snapshots (recoverable points), newest first', tag,
    response: pageOf(snapshotSchema),
    access: { user: 'contacts.read' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listSnapshots(ctx.db, principal.workspaceId, ctx.clock.now(), query),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/snapshots', summary: 'Take a snapshot now, kept a year unless deleted', tag,
    response: snapshotSchema,
    access: { user: 'snapshots.manage' }, body: newSnapshotBody, status: 201,
    handler: ({ body, change }) => takeSnapshot(ctx.db, change, body ?? {}),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/snapshots/settings', summary: 'The snapshot schedule: hourly, Saturdays, month ends, and how long each is kept', tag,
    response: settingsSchema,
    access: { user: 'contacts.read' },
    handler: ({ principal }) => getSnapshotSettings(ctx.db, principal.workspaceId),
  });

  addRoute(app, ctx, {
    method: 'PATCH', url: '/snapshots/settings', summary: 'Change the snapshot schedule', tag,
    response: settingsSchema,
    access: { user: 'snapshots.manage' }, body: settingsPatch,
    handler: ({ body, change }) => updateSnapshotSettings(ctx.db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/snapshots/recoverable', summary: 'Every recoverable point: the PITR window and the retained snapshots', tag,
    response: recoverablePointsSchema,
    access: { user: 'contacts.read' },
    handler: async ({ principal }) => {
      const range = await recoverableRange(ctx.db, principal.workspaceId, ctx.clock.now());
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        snapshots: range.snapshots.map((s) => ({ id: s.id, takenAt: s.takenAt.toISOString(), kind: s.kind })),
      };
    },
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/snapshots/:id', summary: 'A retained snapshot', tag,
    response: snapshotSchema,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ principal, params }) => getSnapshot(ctx.db, principal.workspaceId, params.id, ctx.clock.now()),
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/snapshots/:id', summary: 'Delete a snapshot: what only it pinned in history may then be compacted', tag,
    response: noContent,
    access: { user: 'snapshots.manage' }, params: idParams('id'), status: 204,
    handler: ({ params, change }) => deleteSnapshot(ctx.db, change, params.id),
  });
};
