import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { getHeldDelete, heldDeletePermission, listHeldDeletes, rejectHeldDelete, releaseHeldDelete } from './service.js';

const count = z.number().int();
const heldStatus = z.enum(['pending', 'released', 'rejected']);

/** A held mass delete (docs/API-additions.md, "Mass deletes are held"). */
const heldDeleteSchema = z
  .object({
    id: z.string(),
    status: heldStatus,
    actorId: z.string().describe('The user, or the integration token, whose deletes and archives are held'),
    tokenId: z.string().nullable().describe('The API token they came through, if any'),
    heldAt: timestamp,
    deletedInWindow: count.describe('Contacts the actor had deleted or archived within the window when it was held'),
    limit: count.describe('The limit that held it'),
    limitBy: z.enum(['maxContacts', 'maxPercent']).describe('Which setting the limit came from'),
    windowMinutes: count,
    windowFrom: timestamp.describe('The window counted started after this; a rejection with undo restores what the actor removed since'),
    requests: count.describe('Requests held: the first, and every later one of the actor while this was pending'),
    contacts: z.object({ delete: count, archive: count }).describe('Contacts the held requests would delete and archive, as they were when held'),
    decidedBy: z.string().nullable(),
    decidedAt: timestamp.nullable(),
    undo: z.boolean().nullable().describe('Whether a rejection undid the window'),
    outcome: z
      .object({ deleted: count.optional(), archived: count.optional(), restored: count.optional(), skipped: count })
      .nullable()
      .describe('A release: contacts deleted, archived and skipped; a rejection with undo: contacts restored and skipped'),
  })
  .meta({ id: 'HeldDelete' });

export const heldDeleteRoutes: RouteModule = (app, ctx) => {
  const tag = 'held-deletes';
  const access = { user: heldDeletePermission };

  addRoute(app, ctx, {
    method: 'GET', url: '/held-deletes', summary: 'Mass deletes held by the guard, newest first (admins)', tag,
    response: pageOf(heldDeleteSchema),
    access, query: z.object({ status: heldStatus.optional(), ...pageQuery }),
    handler: ({ principal, query }) => listHeldDeletes(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/held-deletes/:id', summary: 'A held mass delete', tag,
    response: heldDeleteSchema,
    access, params: idParams('id'),
    handler: ({ principal, params }) => getHeldDelete(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/held-deletes/:id/release', summary: 'Run a held mass delete, as the user or token that asked for it', tag,
    response: heldDeleteSchema,
    access, params: idParams('id'),
    handler: ({ change, params }) => releaseHeldDelete(ctx.db, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/held-deletes/:id/reject', summary: 'Reject a held mass delete; with undo, what its actor removed in the window comes back', tag,
    response: heldDeleteSchema,
    access, params: idParams('id'),
    body: z.strictObject({ undo: z.boolean().optional().describe('Also restore what the actor deleted or archived in the window (needs contacts.restore)') }).optional(),
    handler: ({ change, params, body, principal }) => rejectHeldDelete(ctx.db, change, params.id, { undo: body?.undo, permissions: principal.permissions }),
  });
};
