import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageQuery } from '../http/pagination.js';
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

// Every route needs users.manage, reading too: a webhook's URL may hold its receiver's token.
export const notificationRoutes: RouteModule = (app, ctx) => {
  const tag = 'notifications';
  const access = { user: 'users.manage' } as const;

  addRoute(app, ctx, {
    method: 'POST', url: '/webhooks', summary: 'Send these events to a URL, signed; answers the signing secret, once', tag,
    access, body: newWebhookBody, status: 201,
    handler: ({ body, change }) => createWebhook(ctx.db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/webhooks', summary: 'The workspace’s webhooks, oldest first (without their secrets)', tag,
    access, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listWebhooks(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/webhooks/:id', summary: 'A webhook (without its secret)', tag,
    access, params: idParams('id'),
    handler: ({ principal, params }) => getWebhook(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'DELETE', url: '/webhooks/:id', summary: 'Stop sending to a webhook; its pending deliveries and log go with it', tag,
    access, params: idParams('id'), status: 204,
    handler: ({ params, change }) => deleteWebhook(ctx.db, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/webhooks/:id/deliveries', summary: 'A webhook’s deliveries, newest first, with every attempt', tag,
    access, params: idParams('id'), query: z.object({ ...pageQuery }),
    handler: ({ principal, params, query }) => listWebhookDeliveries(ctx.db, principal.workspaceId, params.id, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/notification-emails', summary: 'The notification emails sent (or not) to the workspace’s admins, newest first, with every attempt', tag,
    access, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listNotificationEmails(ctx.db, principal.workspaceId, query),
  });
};
