import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { countsSchema, rollbackSkipSchema, sampleSchema, skippedContact } from '../rollbacks/routes.js';
import { listJobSkips } from '../rollbacks/service.js';
import { getUndo, listUndoConflicts, listUndos, previewUndo, requestUndo } from './service.js';

const id = z.string().min(1).max(200);
const time = z.iso.datetime({ offset: true });

/** API.md: `cause` is one of these. A range is inclusive; its end must not come before its start. */
export const causeSchema = z.union([
  z.strictObject({ importId: id }),
  z.strictObject({ tokenId: id, from: time, to: time }),
  z.strictObject({ actorId: id, from: time, to: time }),
  z.strictObject({ automationId: id, from: time, to: time }),
  z.strictObject({ mergeId: id }),
  z.strictObject({ undoId: id }),
]);

const undoBody = z
  .strictObject({ cause: causeSchema, onConflict: z.enum(['keep_later', 'undo_anyway']).optional() })
  .refine((b) => !('from' in b.cause) || Date.parse(b.cause.from) <= Date.parse(b.cause.to), { message: 'cause.from must not be after cause.to', path: ['cause', 'to'] });

export const conflictSchema = z
  .object({
    contactId: z.string().nullable(),
    field: z.string().describe('A contact’s field (firstName, status, …), another record’s as listMemberships.status, or * for a row made or removed'),
    causeValue: z.unknown().describe('What the cause wrote'),
    laterValue: z.unknown().describe('What is there now'),
    laterBy: z.string().nullable().describe('Who made the latest change since'),
    laterAt: timestamp.nullable(),
    record: z.object({ kind: z.string(), key: z.string() }).optional().describe('The record, when it is not the contact itself'),
    overridden: z.boolean().describe('Undone all the same (onConflict undo_anyway)'),
  })
  .meta({ id: 'UndoConflict' });

export const previewSchema = z.object({
  cause: causeSchema,
  onConflict: z.enum(['keep_later', 'undo_anyway']),
  counts: countsSchema,
  conflicts: z.array(conflictSchema).describe('The first 500 conflicts'),
  conflictCount: z.number().int(),
  sample: z.array(sampleSchema),
  skipped: z.array(skippedContact),
});

export const undoSchema = z
  .object({
    id: z.string(),
    cause: causeSchema,
    onConflict: z.enum(['keep_later', 'undo_anyway']),
    status: z.enum(['awaiting_approval', 'queued', 'running', 'succeeded', 'failed']),
    phase: z.string(),
    counts: countsSchema.nullable(),
    conflicts: z.array(conflictSchema).describe('The first 500 conflicts (GET /undos/:id/conflicts pages them all)'),
    conflictCount: z.number().int(),
    skipped: z.array(skippedContact),
    progress: z.object({ contactsDone: z.number().int(), contactsTotal: z.number().int() }),
    error: z.string().nullable(),
    createdBy: z.string().nullable(),
    createdAt: timestamp,
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
  })
  .meta({ id: 'Undo' });

export const undoRoutes: RouteModule = (app, ctx) => {
  const tag = 'undo';

  addRoute(app, ctx, {
    method: 'POST', url: '/undos/preview', summary: 'What undoing one cause would do, field by field, and what it would leave as others changed it, changing nothing', tag,
    access: { user: 'rollbacks.request' }, body: undoBody, response: previewSchema,
    handler: ({ body, change }) => previewUndo(ctx, change, body),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/undos', summary: 'Undo exactly what one cause did, keeping later changes by others, as a background job', tag,
    access: { user: 'rollbacks.request' }, body: undoBody, status: 202, response: undoSchema,
    handler: ({ body, change }) => requestUndo(ctx, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/undos', summary: 'Undos, newest first', tag,
    access: { user: 'rollbacks.request' }, query: z.object({ ...pageQuery }), response: pageOf(undoSchema),
    handler: ({ principal, query }) => listUndos(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/undos/:id', summary: 'An undo: its progress, what it did and the conflicts it met', tag,
    access: { user: 'rollbacks.request' }, params: idParams('id'), response: undoSchema,
    handler: ({ principal, params }) => getUndo(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/undos/:id/conflicts', summary: 'Every conflict an undo met, a page at a time', tag,
    access: { user: 'rollbacks.request' }, params: idParams('id'), query: z.object({ ...pageQuery }), response: pageOf(conflictSchema),
    handler: ({ principal, params, query }) => listUndoConflicts(ctx.db, principal.workspaceId, params.id, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/undos/:id/skipped', summary: 'What an undo left alone, with why (a row changed after its plan: who and when), in the order met', tag,
    access: { user: 'rollbacks.request' }, params: idParams('id'), query: z.object({ ...pageQuery }), response: pageOf(rollbackSkipSchema),
    handler: ({ principal, params, query }) => listJobSkips(ctx.db, principal.workspaceId, params.id, 'undo', query),
  });
};
