import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageQuery } from '../http/pagination.js';
import { approveRollback, getRollback, listRollbacks, previewRollback, rejectRollback, requestRollback, undoRollback } from './service.js';

const scope = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('workspace') }),
  z.strictObject({ type: z.literal('contacts'), contactIds: z.array(z.string().min(1).max(100)).min(1).max(10_000) }),
]);

const point = { at: z.iso.datetime({ offset: true }), scope };

export const rollbackRoutes: RouteModule = (app, ctx) => {
  const tag = 'rollback';

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks/preview', summary: 'What a rollback to a point in time would change, changing nothing', tag,
    access: { user: 'rollbacks.request' }, body: z.strictObject(point),
    handler: ({ body, change }) => previewRollback(ctx, change, body),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks', summary: 'Roll contacts (at once) or the whole workspace (after a second admin approves) back to a point in time', tag,
    access: { user: 'rollbacks.request' }, body: z.strictObject({ ...point, resumeAutomations: z.boolean().optional() }), status: 202,
    handler: ({ body, change }) => requestRollback(ctx, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/rollbacks', summary: 'Rollbacks, newest first', tag,
    access: { user: 'rollbacks.request' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listRollbacks(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/rollbacks/:id', summary: 'A rollback: its status, what it changes and what it skipped', tag,
    access: { user: 'rollbacks.request' }, params: idParams('id'),
    handler: ({ principal, params }) => getRollback(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks/:id/approve', summary: 'Approve a full rollback requested by another user', tag,
    access: { user: 'rollbacks.approve' }, params: idParams('id'),
    handler: ({ params, change }) => approveRollback(ctx, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks/:id/reject', summary: 'Reject (or, as its requester, withdraw) a full rollback awaiting approval', tag,
    access: { user: 'rollbacks.approve' }, params: idParams('id'),
    handler: ({ params, change }) => rejectRollback(ctx, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks/:id/undo', summary: 'A new rollback that puts back exactly what this one changed', tag,
    access: { user: 'rollbacks.request' }, params: idParams('id'), status: 202,
    handler: ({ params, change }) => undoRollback(ctx, change, params.id),
  });
};
