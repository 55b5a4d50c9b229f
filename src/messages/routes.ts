import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { getContact } from '../contacts/service.js';
import { listMessages } from './service.js';

/** One message of the ledger: sent at most once per (automation, step, contact), ever. */
export const messageSchema = z
  .object({
    id: z.string(),
    contactId: z.string(),
    automationId: z.string(),
    stepIndex: z.number().int(),
    subject: z.string(),
    sentAt: timestamp,
    deliveryStatus: z.enum(['pending', 'delivered', 'failed']),
  })
  .meta({ id: 'Message' });

export const messageRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'GET', url: '/messages', summary: 'The message ledger, oldest first: every message sent, at most once per automation, step and contact', tag: 'automations',
    response: pageOf(messageSchema),
    access: { user: 'contacts.read' },
    query: z.object({ contactId: z.string().min(1).optional(), ...pageQuery }),
    handler: async ({ query, principal }) => {
      // A contact of another workspace (or none) is a 404, as in a path.
      if (query.contactId !== undefined) await getContact(ctx.db, principal.workspaceId, query.contactId);
      return listMessages(ctx.db, principal.workspaceId, query);
    },
  });
};
