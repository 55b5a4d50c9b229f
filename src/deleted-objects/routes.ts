import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { rangeFrom, rangeTo } from '../http/time-range.js';
import { listDeletedObjects, objectTypes, restoreDeletedObjects } from './service.js';

const toDate = (value: string | undefined) => (value ? new Date(value) : undefined);

const deletedObjectSchema = z
  .object({
    type: z.enum(objectTypes),
    id: z.string(),
    name: z.string().describe('Its name (a deal’s title)'),
    deletedAt: timestamp,
    deletedBy: z.string().nullable().describe('The user or token that deleted it; null for a deal deleted by the system'),
  })
  .meta({ id: 'DeletedObject' });

const objectRestoreSchema = z
  .object({
    restored: z.array(z.string()),
    skipped: z.array(
      z.object({
        id: z.string(),
        reason: z.enum(['not_found', 'not_deleted', 'no_active_contact']).describe('not_found also for another workspace’s or a purged object'),
      }),
    ),
  })
  .meta({ id: 'ObjectRestore' });

/** Seed 002: picked records are restored up to 100 at a time. */
export const maxPickedObjects = 100;

/**
 * The recycle bin of lists, accounts, deals, tags, forms and automations: read with
 * contacts.read (as GET /deleted-contacts), restored with contacts.restore (as restore
 * jobs).
 */
export const deletedObjectRoutes: RouteModule = (app, ctx) => {
  const tag = 'restore';

  addRoute(app, ctx, {
    method: 'GET', url: '/deleted-objects', summary: 'Deleted lists, accounts, deals, tags, forms and automations, newest deletion first', tag,
    response: pageOf(deletedObjectSchema),
    access: { user: 'contacts.read' },
    query: z.object({ type: z.enum(objectTypes).optional(), q: z.string().max(200).optional(), from: rangeFrom.optional(), to: rangeTo.optional(), ...pageQuery }),
    handler: ({ principal, query }) =>
      listDeletedObjects(ctx.db, principal.workspaceId, { ...query, from: toDate(query.from), to: toDate(query.to) }),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/deleted-objects/restore', summary: 'Restore deleted objects of one type with what they held; an automation comes back paused', tag,
    response: objectRestoreSchema,
    access: { user: 'contacts.restore' },
    body: z.strictObject({ type: z.enum(objectTypes), ids: z.array(z.string().min(1).max(100)).min(1).max(maxPickedObjects) }),
    handler: ({ body, change }) => restoreDeletedObjects(ctx.db, change, body.type, body.ids),
  });
};
