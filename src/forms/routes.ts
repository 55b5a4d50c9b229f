import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { notFound } from '../http/errors.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { formSubmissionLimit, routeRateLimit } from '../http/rate-limits.js';
import { createForm, deleteForm, findPublicForm, getForm, listForms, submitForm } from './service.js';

const name = z.string().trim().max(200).nullable();

const formSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    listId: z.string().nullable(),
    createdAt: timestamp,
    deletedAt: timestamp.nullable().describe('Once deleted (in GET /deleted-objects); a deleted form takes no submissions'),
  })
  .meta({ id: 'Form' });

/**
 * Per form and client address (formSubmissionLimit), counted as a submission arrives,
 * whatever becomes of it: an unknown form's id counts too. Ids are cut to 64 characters
 * for the key (real ones are 36): a longer id names no form, and its bucket need not be
 * its own.
 */
const submissionRateLimit = routeRateLimit(formSubmissionLimit, 'Too many submissions to this form from this address; try again later', (request) =>
  `form\u0000${String((request.params as { id?: unknown }).id ?? '').slice(0, 64)}`,
);

/**
 * Forms are managed (created, deleted) with automations.manage: a form is a public entry point that
 * subscribes people to lists and so starts automations, the same power as an
 * automation. Submitting is public.
 */
export const formRoutes: RouteModule = (app, ctx) => {
  const tag = 'forms';

  addRoute(app, ctx, {
    method: 'POST', url: '/forms', summary: 'Create a form; its submissions subscribe to listId', tag, status: 201,
    response: formSchema,
    access: { user: 'automations.manage' },
    body: z.strictObject({ name: z.string().trim().min(1).max(200), listId: z.string().min(1).optional() }),
    handler: ({ body, change }) => createForm(ctx.db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/forms', summary: 'The workspace’s forms, oldest first', tag,
    response: pageOf(formSchema),
    access: { user: 'contacts.read' }, query: z.object(pageQuery),
    handler: ({ query, principal }) => listForms(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/forms/:id', summary: 'A form', tag,
    response: formSchema,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ params, principal }) => getForm(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/forms/:id', summary: 'Delete a form: it takes no submissions (restorable from GET /deleted-objects)', tag,
    response: formSchema,
    access: { user: 'automations.manage' }, params: idParams('id'),
    handler: ({ params, change }) => deleteForm(ctx.db, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/forms/:id/submissions', summary: 'Submit a form (public): updates or creates the contact and subscribes it', tag,
    status: 201, response: z.object({ accepted: z.literal(true) }), access: { public: true }, params: idParams('id'),
    rateLimit: submissionRateLimit,
    body: z.strictObject({ email: z.email().max(320), firstName: name.optional(), lastName: name.optional() }),
    handler: async ({ params, body }) => {
      const form = await findPublicForm(ctx.db, params.id);
      if (!form) throw notFound('Form');
      await submitForm(ctx.db, { ...form, formId: params.id }, ctx.clock.now(), body);
      // Says nothing of the contact: an anonymous caller must not learn who is on file.
      return { accepted: true as const };
    },
  });
};
