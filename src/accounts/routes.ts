import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams, noContent } from '../http/route.js';
import { createAccount, deleteAccount, getAccount, linkContact, listAccounts, renameAccount, unlinkContact } from './service.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';

const accountName = z.string().trim().min(1).max(200);

const accountSchema = z.object({ id: z.string(), name: z.string(), createdAt: timestamp, deletedAt: timestamp.nullable() }).meta({ id: 'Account' });

export const accountRoutes: RouteModule = (app, ctx) => {
  const tag = 'accounts';
  addRoute(app, ctx, {
    method: 'POST', url: '/accounts', summary: 'Create an account (company)', tag, status: 201,
    response: accountSchema,
    access: { user: 'contacts.write' }, body: z.strictObject({ name: accountName }),
    handler: ({ body, change }) => createAccount(ctx.db, change, body.name),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/accounts', summary: 'The workspace’s accounts', tag,
    response: pageOf(accountSchema),
    access: { user: 'contacts.read' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listAccounts(ctx.db, principal.workspaceId, query),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/accounts/:id', summary: 'An account', tag,
    response: accountSchema,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ params, principal }) => getAccount(ctx.db, principal.workspaceId, params.id),
  });
  addRoute(app, ctx, {
    method: 'DELETE', url: '/accounts/:id', summary: 'Delete an account', tag,
    response: accountSchema,
    access: { user: 'contacts.delete' }, params: idParams('id'),
    handler: async ({ params, change }) => {
      await deleteAccount(ctx.db, change, params.id);
      return getAccount(ctx.db, change.workspaceId, params.id);
    },
  });
  addRoute(app, ctx, {
    method: 'PUT', url: '/accounts/:accountId/contacts/:contactId', summary: 'Link a contact to an account with a job title', tag,
    response: z.object({ accountId: z.string(), contactId: z.string(), jobTitle: z.string().nullable() }),
    access: { user: 'contacts.write' }, params: idParams('accountId', 'contactId'),
    body: z.strictObject({ jobTitle: z.string().trim().max(200).nullable().optional() }),
    handler: ({ params, body, change }) => linkContact(ctx.db, change, params.accountId, params.contactId, body.jobTitle ?? null),
  });
  addRoute(app, ctx, {
    method: 'PATCH', url: '/accounts/:id', summary: 'Rename a live account', tag,
    response: accountSchema,
    access: { user: 'contacts.write' }, params: idParams('id'), body: z.strictObject({ name: accountName }),
    handler: ({ params, body, change }) => renameAccount(ctx.db, change, params.id, body.name),
  });
  addRoute(app, ctx, {
    method: 'DELETE', url: '/accounts/:accountId/contacts/:contactId', summary: 'Unlink a contact from an account', tag,
    response: noContent, status: 204,
    access: { user: 'contacts.write' }, params: idParams('accountId', 'contactId'),
    handler: ({ params, change }) => unlinkContact(ctx.db, change, params.accountId, params.contactId),
  });
};
