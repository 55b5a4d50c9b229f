import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams, noContent } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { notificationEvents } from './events.js';
import { createWebhook, deleteWebhook, getWebhook, listNotificationEmails, listWebhookDeliveries, listWebhooks, webhookUrlProblem } from './service.js';

const webhookUrl = z
  .string()
  .max(2048)
  .superRefine((value, check) => {
    const problem = webhookUrlProblem(value);
    if (problem) check.addIssue({ code: 'custom', message: problem });
  });

const newWebhookBody = z.strictObject({
  url: webhookUrl,
  events: z.array(z.enum(notificationEvents)).min(1).max(100),
});

const eventName = z.enum(notificationEvents);

const webhookSchema = z
  .object({ id: z.string(), url: z.string(), events: z.array(eventName), createdBy: z.string().nullable(), createdAt: timestamp })
  .meta({ id: 'Webhook' });

const attemptSchema = z.object({
  attempt: z.number().int(),
  at: timestamp,
  durationMs: z.number(),
  statusCode: z.number().int().nullable().describe('The receiver’s HTTP status, or the SMTP server’s reply code; null when none answered'),
  error: z.string().nullable(),
  outcome: z.enum(['delivered', 'retrying', 'failed']),
  nextAttemptAt: timestamp.nullable(),
});

const deliveryFields = {
  id: z.string().describe('The x-retrace-delivery header (an email’s Message-ID): the same on every attempt'),
  eventId: z.string(),
  event: eventName,
  eventAt: timestamp,
  status: z.enum(['pending', 'delivered', 'failed']),
  attemptCount: z.number().int(),
  attempts: z.array(attemptSchema),
  nextAttemptAt: timestamp.nullable(),
  deliveredAt: timestamp.nullable(),
  lastError: z.string().nullable(),
  createdAt: timestamp,
};

const webhookDeliverySchema = z.object({ ...deliveryFields, webhookId: z.string() }).meta({ id: 'WebhookDelivery' });
const emailDeliverySchema = z.object({ ...deliveryFields, to: z.string(), userId: z.string().nullable() }).meta({ id: 'NotificationEmail' });

// Every route needs users.manage, reading too: a webhook's URL may hold its receiver's token.
export const notificationRoutes: RouteModule = (app, ctx) => {
  const tag = 'notifications';
  const access = { user: 'users.manage' } as const;

  addRoute(app, ctx, {
    method: 'POST', url: '/webhooks', summary: 'Send these events to a URL, signed; answers the signing secret, once', tag,
    access, body: newWebhookBody, status: 201, response: webhookSchema.extend({ secret: z.string().describe('The signing secret: shown once') }),
    handler: ({ body, change }) => createWebhook(ctx.db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/webhooks', summary: 'The workspace’s webhooks, oldest first (without their secrets)', tag, response: pageOf(webhookSchema),
    access, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listWebhooks(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/webhooks/:id', summary: 'A webhook (without its secret)', tag, response: webhookSchema,
    access, params: idParams('id'),
    handler: ({ principal, params }) => getWebhook(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/webhooks/:id', summary: 'Stop sending to a webhook; its pending deliveries and log go with it', tag,
    access, params: idParams('id'), status: 204, response: noContent,
    handler: ({ params, change }) => deleteWebhook(ctx.db, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/webhooks/:id/deliveries', summary: 'A webhook’s deliveries, newest first, with every attempt', tag, response: pageOf(webhookDeliverySchema),
    access, params: idParams('id'), query: z.object({ ...pageQuery }),
    handler: ({ principal, params, query }) => listWebhookDeliveries(ctx.db, principal.workspaceId, params.id, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/notification-emails', summary: 'The notification emails sent (or not) to the workspace’s admins, newest first, with every attempt', tag,
    response: pageOf(emailDeliverySchema),
    access, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listNotificationEmails(ctx.db, principal.workspaceId, query),
  });
};
