import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute } from '../http/route.js';
import { pageQuery } from '../http/pagination.js';
import { getContact } from '../contacts/service.js';
import { listMessages } from './service.js';

export const messageRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'GET', url: '/messages', summary: 'The message ledger, oldest first: every message sent, at most once per automation, step and contact', tag: 'automations',
    access: { user: 'contacts.read' },
    query: z.object({ contactId: z.string().min(1).optional(), ...pageQuery }),
    handler: async ({ query, principal }) => {
      // A contact of another workspace (or none) is a 404, as in a path.
      if (query.contactId !== undefined) await getContact(ctx.db, principal.workspaceId, query.contactId);
      return listMessages(ctx.db, principal.workspaceId, query);
    },
  });
};
