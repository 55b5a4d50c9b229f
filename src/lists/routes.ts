import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams, noContent } from '../http/route.js';
import { createList, deleteList, getList, listLists, listMembers, membershipStatuses, putMembership, removeMembership, renameList } from './service.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';

const listName = z.string().trim().min(1).max(200);

const listSchema = z
  .object({ id: z.string(), name: z.string(), createdAt: timestamp, deletedAt: timestamp.nullable(), memberCount: z.number().int() })
  .meta({ id: 'List' });

export const listRoutes: RouteModule = (app, ctx) => {
  const tag = 'lists';
  addRoute(app, ctx, {
    method: 'POST', url: '/lists', summary: 'Create a list', tag, status: 201,
    response: listSchema,
    access: { user: 'contacts.write' }, body: z.strictObject({ name: listName }),
    handler: ({ body, change }) => createList(ctx.db, change, body.name),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/lists', summary: 'The workspace’s lists', tag,
    response: pageOf(listSchema),
    access: { user: 'contacts.read' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listLists(ctx.db, principal.workspaceId, query),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/lists/:id', summary: 'A list', tag,
    response: listSchema,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ params, principal }) => getList(ctx.db, principal.workspaceId, params.id),
  });
  addRoute(app, ctx, {
    method: 'DELETE', url: '/lists/:id', summary: 'Delete a list (its memberships are not restored with contacts)', tag,
    response: listSchema,
    access: { user: 'contacts.delete' }, params: idParams('id'),
    handler: async ({ params, change }) => {
      await deleteList(ctx.db, change, params.id);
      return getList(ctx.db, change.workspaceId, params.id);
    },
  });
  addRoute(app, ctx, {
    method: 'PUT', url: '/lists/:listId/contacts/:contactId', summary: 'Set a contact’s status on a list', tag,
    response: z.object({ listId: z.string(), contactId: z.string(), status: z.enum(membershipStatuses) }),
    access: { user: 'contacts.write' }, params: idParams('listId', 'contactId'),
    body: z.strictObject({ status: z.enum(membershipStatuses) }),
    handler: ({ params, body, change }) => putMembership(ctx.db, change, params.listId, params.contactId, body.status),
  });
  addRoute(app, ctx, {
    method: 'PATCH', url: '/lists/:id', summary: 'Rename a live list', tag,
    response: listSchema,
    access: { user: 'contacts.write' }, params: idParams('id'), body: z.strictObject({ name: listName }),
    handler: ({ params, body, change }) => renameList(ctx.db, change, params.id, body.name),
  });
  addRoute(app, ctx, {
    method: 'DELETE', url: '/lists/:listId/contacts/:contactId', summary: 'Take a contact off a list', tag,
    response: noContent, status: 204,
    access: { user: 'contacts.write' }, params: idParams('listId', 'contactId'),
    handler: ({ params, change }) => removeMembership(ctx.db, change, params.listId, params.contactId),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/lists/:id/contacts', summary: 'A list’s members (active contacts) with their status, by contact id', tag,
    response: pageOf(z.object({
      contactId: z.string(),
      email: z.string(),
      firstName: z.string().nullable(),
      lastName: z.string().nullable(),
      status: z.enum(membershipStatuses),
    })),
    access: { user: 'contacts.read' }, params: idParams('id'),
    query: z.object({ ...pageQuery, status: z.enum(membershipStatuses).optional() }),
    handler: ({ params, principal, query }) => listMembers(ctx.db, principal.workspaceId, params.id, query),
  });
};
