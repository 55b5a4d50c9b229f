import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageQuery } from '../http/pagination.js';
import { contactHistory } from '../history/service.js';
import { contactMemberships } from '../lists/service.js';
import { contactAccounts } from '../accounts/service.js';
import { contactDeals } from '../deals/service.js';
import { tagContact, untagContact } from '../tags/service.js';
import {
  archiveContact,
  archiveContacts,
  createContact,
  deleteContact,
  deleteContacts,
  getContact,
  listContacts,
  updateContact,
} from './service.js';

const name = z.string().trim().max(200).nullable();
const email = z.email().max(320);
const customFields = z.record(z.string().max(100), z.json());

const newContactBody = z.strictObject({
  email,
  firstName: name.optional(),
  lastName: name.optional(),
  phone: z.string().trim().max(50).nullable().optional(),
  fields: customFields.optional(),
  tags: z.array(z.string().min(1)).max(100).optional(),
});

const contactPatchBody = z
  .strictObject({
    email: email.optional(),
    firstName: name.optional(),
    lastName: name.optional(),
    phone: z.string().trim().max(50).nullable().optional(),
    fields: customFields.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, { message: 'Nothing to change' });

export const contactIdsBody = z.strictObject({ ids: z.array(z.string().min(1)).min(1).max(1000) });

const contactParams = idParams('id');

export const contactRoutes: RouteModule = (app, ctx) => {
  const db = ctx.db;
  const tag = 'contacts';

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts', summary: 'Create a contact', tag, status: 201,
    access: { user: 'contacts.write' }, body: newContactBody,
    handler: ({ body, change }) => createContact(db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts', summary: 'Contacts of a status, newest first; q matches name or email', tag,
    access: { user: 'contacts.read' },
    query: z.object({ q: z.string().max(200).optional(), status: z.enum(['active', 'archived', 'deleted', 'merged']).default('active'), ...pageQuery }),
    handler: ({ query, principal }) => listContacts(db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id', summary: 'A contact of any status', tag,
    access: { user: 'contacts.read' }, params: contactParams,
    handler: ({ params, principal }) => getContact(db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'PATCH', url: '/contacts/:id', summary: 'Change an active contact', tag,
    access: { user: 'contacts.write' }, params: contactParams, body: contactPatchBody,
    handler: ({ params, body, change }) => updateContact(db, change, params.id, body),
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/contacts/:id', summary: 'Move a contact to the recycle bin', tag,
    access: { user: 'contacts.delete' }, params: contactParams,
    handler: ({ params, change }) => deleteContact(db, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/delete', summary: 'Move many contacts to the recycle bin', tag,
    access: { user: 'contacts.delete' }, body: contactIdsBody,
    handler: ({ body, change }) => deleteContacts(db, change, body.ids),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/:id/archive', summary: 'Archive a contact', tag,
    access: { user: 'contacts.archive' }, params: contactParams,
    handler: ({ params, change }) => archiveContact(db, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/archive', summary: 'Archive many contacts', tag,
    access: { user: 'contacts.archive' }, body: contactIdsBody,
    handler: ({ body, change }) => archiveContacts(db, change, body.ids),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/history', summary: 'Every captured change of the contact, oldest first', tag,
    access: { user: 'contacts.read' }, params: contactParams, query: z.object({ ...pageQuery }),
    handler: async ({ params, principal, query }) => {
      await getContact(db, principal.workspaceId, params.id);
      return contactHistory(db, principal.workspaceId, params.id, query);
    },
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/lists', summary: 'The contact’s lists with their status', tag,
    access: { user: 'contacts.read' }, params: contactParams, query: z.object({ ...pageQuery }),
    handler: async ({ params, principal, query }) => {
      await getContact(db, principal.workspaceId, params.id);
      return contactMemberships(db, principal.workspaceId, params.id, query);
    },
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/accounts', summary: 'The contact’s accounts with job titles', tag,
    access: { user: 'contacts.read' }, params: contactParams, query: z.object({ ...pageQuery }),
    handler: async ({ params, principal, query }) => {
      await getContact(db, principal.workspaceId, params.id);
      return contactAccounts(db, principal.workspaceId, params.id, query);
    },
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/deals', summary: 'The live deals the contact is on', tag,
    access: { user: 'contacts.read' }, params: contactParams, query: z.object({ ...pageQuery }),
    handler: async ({ params, principal, query }) => {
      await getContact(db, principal.workspaceId, params.id);
      return contactDeals(db, principal.workspaceId, params.id, query);
    },
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/:id/tags', summary: 'Tag a contact', tag,
    access: { user: 'contacts.write' }, params: contactParams, body: z.strictObject({ tagId: z.string().min(1) }),
    handler: async ({ params, body, change }) => {
      await tagContact(db, change, params.id, body.tagId);
      return getContact(db, change.workspaceId, params.id);
    },
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/contacts/:id/tags/:tagId', summary: 'Remove a tag from a contact', tag,
    access: { user: 'contacts.write' }, params: idParams('id', 'tagId'),
    handler: async ({ params, change }) => {
      await untagContact(db, change, params.id, params.tagId);
      return getContact(db, change.workspaceId, params.id);
    },
  });
};
