import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { membershipStatuses } from '../lists/service.js';
import { createAutomation, deleteAutomation, getAutomation, listAutomations, listEnrollments, setAutomationPaused } from './service.js';

const trigger = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('contact.created') }),
  z.strictObject({ type: z.literal('list.subscribed'), listId: z.string().min(1) }),
  z.strictObject({ type: z.literal('tag.added'), tagId: z.string().min(1) }),
]);

const step = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('send_email'), subject: z.string().trim().min(1).max(300) }),
  // Up to a year: a longer wait is more likely a mistake than a plan.
  z.strictObject({ type: z.literal('wait'), seconds: z.number().int().min(0).max(366 * 24 * 3600) }),
  z.strictObject({ type: z.literal('set_list_status'), listId: z.string().min(1), status: z.enum(membershipStatuses) }),
  z.strictObject({ type: z.literal('add_tag'), tagId: z.string().min(1) }),
  z.strictObject({ type: z.literal('remove_tag'), tagId: z.string().min(1) }),
  z.strictObject({
    type: z.literal('set_field'),
    field: z.string().trim().min(1).max(100).describe('A custom field'),
    value: z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]).describe('null removes the field'),
  }),
]);

const newAutomationBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  trigger,
  steps: z.array(step).min(1).max(100),
});

const automationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    trigger,
    steps: z.array(step),
    status: z.enum(['active', 'paused']).describe('A paused automation enrols nobody, sends nothing and advances no enrollment'),
    createdAt: timestamp,
    deletedAt: timestamp.nullable().describe('Once deleted (in GET /deleted-objects)'),
  })
  .meta({ id: 'Automation' });

const enrollmentSchema = z
  .object({
    contactId: z.string(),
    stepIndex: z.number().int(),
    status: z.enum(['active', 'waiting', 'completed', 'paused']),
    runAt: timestamp.nullable().describe('When a waiting enrollment runs its next step'),
  })
  .meta({ id: 'Enrollment' });

/**
 * Creating, pausing, resuming and deleting an automation need automations.manage;
 * reading automations and their enrollments needs contacts.read (they say what happens
 * to contacts).
 */
export const automationRoutes: RouteModule = (app, ctx) => {
  const tag = 'automations';

  addRoute(app, ctx, {
    method: 'POST', url: '/automations', summary: 'Create an automation: a trigger and its steps', tag, status: 201,
    response: automationSchema,
    access: { user: 'automations.manage' }, body: newAutomationBody,
    handler: ({ body, change }) => createAutomation(ctx.db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/automations', summary: 'The workspace’s automations, oldest first', tag,
    response: pageOf(automationSchema),
    access: { user: 'contacts.read' }, query: z.object(pageQuery),
    handler: ({ query, principal }) => listAutomations(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/automations/:id', summary: 'An automation', tag,
    response: automationSchema,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ params, principal }) => getAutomation(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/automations/:id/pause', summary: 'Pause an automation: it enrols nobody, sends nothing and advances no enrollment', tag,
    response: automationSchema,
    access: { user: 'automations.manage' }, params: idParams('id'),
    handler: ({ params, change }) => setAutomationPaused(ctx.db, change, params.id, true),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/automations/:id/resume', summary: 'Resume an automation: its enrollments continue at their saved step', tag,
    response: automationSchema,
    access: { user: 'automations.manage' }, params: idParams('id'),
    handler: ({ params, change }) => setAutomationPaused(ctx.db, change, params.id, false),
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/automations/:id', summary: 'Delete an automation (restorable from GET /deleted-objects, paused)', tag,
    response: automationSchema,
    access: { user: 'automations.manage' }, params: idParams('id'),
    handler: ({ params, change }) => deleteAutomation(ctx.db, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/automations/:id/enrollments', summary: 'Who is enrolled, at which step, with which status', tag,
    response: pageOf(enrollmentSchema),
    access: { user: 'contacts.read' }, params: idParams('id'), query: z.object(pageQuery),
    handler: ({ params, query, principal }) => listEnrollments(ctx.db, principal.workspaceId, params.id, query),
  });
};
