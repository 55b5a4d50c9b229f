import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { createDeal, getDeal, listDeals } from './service.js';
import { pageQuery } from '../http/pagination.js';

export const dealRoutes: RouteModule = (app, ctx) => {
  const tag = 'deals';
  addRoute(app, ctx, {
    method: 'POST', url: '/deals', summary: 'Create a deal with its contacts', tag, status: 201,
    access: { user: 'contacts.write' },
    body: z.strictObject({
      title: z.string().trim().min(1).max(200),
      value: z.number().finite().nullable().optional(),
      stage: z.string().trim().max(100).nullable().optional(),
      contactIds: z.array(z.string().min(1)).min(1).max(100),
      primaryContactId: z.string().min(1).optional(),
    }),
    handler: ({ body, change }) => createDeal(ctx.db, change, body),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/deals', summary: 'The workspace’s live deals', tag,
    access: { user: 'contacts.read' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listDeals(ctx.db, principal.workspaceId, query),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/deals/:id', summary: 'A deal (deleted ones show deletedAt)', tag,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ params, principal }) => getDeal(ctx.db, principal.workspaceId, params.id),
  });
};
