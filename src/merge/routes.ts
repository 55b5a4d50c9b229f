import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute } from '../http/route.js';
import { contactSchema } from '../contacts/routes.js';
import { mergeContacts } from './service.js';

export const mergeRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/merge', summary: 'Merge contacts into a survivor (merged contacts can never be restored)', tag: 'contacts',
    response: contactSchema,
    access: { user: 'contacts.merge' },
    body: z.strictObject({ survivorId: z.string().min(1).max(100), mergedIds: z.array(z.string().min(1).max(100)).min(1).max(100) }),
    handler: ({ body, change }) => mergeContacts(ctx.db, change, body.survivorId, body.mergedIds),
  });
};
