import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { eraseContact } from './service.js';

export const erasureRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'POST', url: '/contacts/:id/erase', summary: 'Erase a person: gone at once from live data, history and exported backups', tag: 'contacts',
    response: z.object({ id: z.string(), erased: z.literal(true) }),
    access: { user: 'contacts.erase' }, params: idParams('id'),
    handler: ({ params, change }) => eraseContact(ctx, change, params.id),
  });
};
