import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { dealSchema } from '../deals/routes.js';
import { membershipStatuses } from '../lists/service.js';
import { contactHistory } from '../history/service.js';
import { contactMemberships } from '../lists/service.js';
import { contactAccounts } from '../accounts/service.js';
import { contactDeals } from '../deals/service.js';
import { tagContact, untagContact } from '../tags/service.js';
import { removeContacts } from '../held-deletes/service.js';
import { createContact, getContact, listContacts, removedContact, updateContact } from './service.js';

const name = z.string().trim().max(200).nullable();
const email = z.email().max(320);
/**
 * A custom field's value: any JSON value. z.json() would do, but its recursion has no
 * name for the OpenAPI document to refer to; this one is the component JsonValue.
 */
const jsonValue: z.ZodType<z.core.util.JSONType> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);
z.globalRegistry.add(jsonValue, { id: 'JsonValue' });
const customFields = z.record(z.string().max(100), jsonValue);

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

/** The body of a bulk delete or archive: more contacts than the workspace's massDelete.maxContacts need `confirm`. */
const removalBody = z.strictObject({
  ids: z.array(z.string().min(1)).min(1).max(1000),
  confirm: z.boolean().optional().describe('Needed (true) when the request would remove more contacts than massDelete.maxContacts'),
});

const contactStatus = z.enum(['active', 'archived', 'deleted', 'merged']);

/** A contact as every route answers it (../shared/API.md, "Contacts"; docs/API-additions.md). */
export const contactSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    phone: z.string().nullable(),
    fields: z.record(z.string(), z.unknown()),
    tags: z.array(z.string()).describe('Tag ids (none while the contact is not active)'),
    createdAt: timestamp,
    updatedAt: timestamp,
    status: contactStatus,
    deletedAt: timestamp.optional().describe('While deleted'),
    deletedBy: z.string().nullable().optional().describe('While deleted'),
    archivedAt: timestamp.optional().describe('While archived'),
    archivedBy: z.string().nullable().optional().describe('While archived'),
    mergedInto: z.string().optional().describe('Once merged'),
  })
  .meta({ id: 'Contact' });

/** A contact a bulk delete or archive left as it was, and why (`not_found`, or its status). */
const skippedContact = z.object({ contactId: z.string(), reason: z.string() });

const fieldChange = z.object({ from: z.unknown(), to: z.unknown() });

/** One captured change of a contact or of a record beside it (GET /contacts/:id/history). */
const contactVersion = z
  .object({
    version: z.number().int(),
    at: timestamp,
    op: z.enum(['insert', 'update', 'delete']),
    entity: z.string().describe('contact, list_membership, account_contact, deal_contact, contact_tag, enrollment or message'),
    ref: z.record(z.string(), z.string()).describe('The ids naming the record beside the contact, e.g. {listId}; {} for the contact'),
    actorId: z.string().nullable(),
    origin: z.string(),
    changes: z.record(z.string(), fieldChange),
  })
  .meta({ id: 'ContactVersion' });

export const listMembershipSchema = z.object({ listId: z.string(), status: z.enum(membershipStatuses) });
export const accountLinkSchema = z.object({ accountId: z.string(), jobTitle: z.string().nullable() });

const contactParams = idParams('id');

export const contactRoutes: RouteModule = (app, ctx) => {
  const db = ctx.db;
  const tag = 'contacts';

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts', summary: 'Create a contact', tag, status: 201,
    response: contactSchema,
    access: { user: 'contacts.write' }, body: newContactBody,
    handler: ({ body, change }) => createContact(db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts', summary: 'Contacts of a status, newest first; q matches name or email', tag,
    response: pageOf(contactSchema),
    access: { user: 'contacts.read' },
    query: z.object({ q: z.string().max(200).optional(), status: contactStatus.default('active'), ...pageQuery }),
    handler: ({ query, principal }) => listContacts(db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id', summary: 'A contact of any status', tag,
    response: contactSchema,
    access: { user: 'contacts.read' }, params: contactParams,
    handler: ({ params, principal }) => getContact(db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'PATCH', url: '/contacts/:id', summary: 'Change an active contact', tag,
    response: contactSchema,
    access: { user: 'contacts.write' }, params: contactParams, body: contactPatchBody,
    handler: ({ params, body, change }) => updateContact(db, change, params.id, body),
  });

  // Deletes and archives go through the mass-delete guard (src/held-deletes): past the
  // actor's limit they are held, 409 mass_delete_held.
  addRoute(app, ctx, {
    method: 'DELETE', url: '/contacts/:id', summary: 'Move a contact to the recycle bin', tag,
    response: contactSchema,
    access: { user: 'contacts.delete' }, params: contactParams,
    handler: async ({ params, change }) => removedContact(db, change.workspaceId, 'delete', params.id, await removeContacts(db, change, 'delete', [params.id])),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/delete', summary: 'Move many contacts to the recycle bin', tag,
    response: z.object({ deleted: z.array(z.string()), skipped: z.array(skippedContact) }),
    access: { user: 'contacts.delete' }, body: removalBody,
    handler: async ({ body, change }) => {
      const { done, skipped } = await removeContacts(db, change, 'delete', body.ids, { confirm: body.confirm });
      return { deleted: done, skipped };
    },
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/:id/archive', summary: 'Archive a contact', tag,
    response: contactSchema,
    access: { user: 'contacts.archive' }, params: contactParams,
    handler: async ({ params, change }) => removedContact(db, change.workspaceId, 'archive', params.id, await removeContacts(db, change, 'archive', [params.id])),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/archive', summary: 'Archive many contacts', tag,
    response: z.object({ archived: z.array(z.string()), skipped: z.array(skippedContact) }),
    access: { user: 'contacts.archive' }, body: removalBody,
    handler: async ({ body, change }) => {
      const { done, skipped } = await removeContacts(db, change, 'archive', body.ids, { confirm: body.confirm });
      return { archived: done, skipped };
    },
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/history', summary: 'Every captured change of the contact, oldest first', tag,
    response: pageOf(contactVersion),
    access: { user: 'contacts.read' }, params: contactParams, query: z.object({ ...pageQuery }),
    handler: async ({ params, principal, query }) => {
      await getContact(db, principal.workspaceId, params.id);
      return contactHistory(db, principal.workspaceId, params.id, query);
    },
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/lists', summary: 'The contact’s lists with their status', tag,
    response: pageOf(listMembershipSchema),
    access: { user: 'contacts.read' }, params: contactParams, query: z.object({ ...pageQuery }),
    handler: async ({ params, principal, query }) => {
      await getContact(db, principal.workspaceId, params.id);
      return contactMemberships(db, principal.workspaceId, params.id, query);
    },
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/accounts', summary: 'The contact’s accounts with job titles', tag,
    response: pageOf(accountLinkSchema),
    access: { user: 'contacts.read' }, params: contactParams, query: z.object({ ...pageQuery }),
    handler: async ({ params, principal, query }) => {
      await getContact(db, principal.workspaceId, params.id);
      return contactAccounts(db, principal.workspaceId, params.id, query);
    },
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/deals', summary: 'The live deals the contact is on', tag,
    response: pageOf(dealSchema),
    access: { user: 'contacts.read' }, params: contactParams, query: z.object({ ...pageQuery }),
    handler: async ({ params, principal, query }) => {
      await getContact(db, principal.workspaceId, params.id);
      return contactDeals(db, principal.workspaceId, params.id, query);
    },
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/:id/tags', summary: 'Tag a contact', tag,
    response: contactSchema,
    access: { user: 'contacts.write' }, params: contactParams, body: z.strictObject({ tagId: z.string().min(1) }),
    handler: async ({ params, body, change }) => {
      await tagContact(db, change, params.id, body.tagId);
      return getContact(db, change.workspaceId, params.id);
    },
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/contacts/:id/tags/:tagId', summary: 'Remove a tag from a contact', tag,
    response: contactSchema,
    access: { user: 'contacts.write' }, params: idParams('id', 'tagId'),
    handler: async ({ params, change }) => {
      await untagContact(db, change, params.id, params.tagId);
      return getContact(db, change.workspaceId, params.id);
    },
  });
};
