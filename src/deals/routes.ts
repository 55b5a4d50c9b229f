import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { createDeal, deleteDeal, getDeal, listDeals, updateDeal } from './service.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';

/** A deal: its contacts in the order they were added, the primary one of them. */
export const dealSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    value: z.number().nullable(),
    stage: z.string().nullable(),
    contactIds: z.array(z.string()),
    primaryContactId: z.string().nullable(),
    createdAt: timestamp,
    deletedAt: timestamp.optional().describe('Once deleted'),
  })
  .meta({ id: 'Deal' });

const dealFields = {
  title: z.string().trim().min(1).max(200),
  value: z.number().finite().nullable().optional(),
  stage: z.string().trim().max(100).nullable().optional(),
  contactIds: z.array(z.string().min(1)).min(1).max(100),
  primaryContactId: z.string().min(1).optional(),
};

export const dealRoutes: RouteModule = (app, ctx) => {
  const tag = 'deals';
  addRoute(app, ctx, {
    method: 'POST', url: '/deals', summary: 'Create a deal with its contacts', tag, status: 201,
    response: dealSchema,
    access: { user: 'contacts.write' },
    body: z.strictObject(dealFields),
    handler: ({ body, change }) => createDeal(ctx.db, change, body),
  });
  addRoute(app, ctx, {
    method: 'PATCH', url: '/deals/:id', summary: 'Change a live deal: its title, value, stage, contacts (in order) or primary', tag,
    response: dealSchema,
    access: { user: 'contacts.write' }, params: idParams('id'),
    body: z.strictObject({ ...dealFields, title: dealFields.title.optional(), contactIds: dealFields.contactIds.optional() }),
    handler: ({ params, body, change }) => updateDeal(ctx.db, change, params.id, body),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/deals', summary: 'The workspace’s live deals', tag,
    response: pageOf(dealSchema),
    access: { user: 'contacts.read' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listDeals(ctx.db, principal.workspaceId, query),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/deals/:id', summary: 'A deal (deleted ones show deletedAt)', tag,
    response: dealSchema,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ params, principal }) => getDeal(ctx.db, principal.workspaceId, params.id),
  });
  addRoute(app, ctx, {
    method: 'DELETE', url: '/deals/:id', summary: 'Delete a deal (restorable from GET /deleted-objects with its contacts)', tag,
    response: dealSchema,
    access: { user: 'contacts.delete' }, params: idParams('id'),
    handler: ({ params, change }) => deleteDeal(ctx.db, change, params.id),
  });
};
