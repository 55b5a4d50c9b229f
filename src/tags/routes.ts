import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { createTag, deleteTag, listTags, renameTag } from './service.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';

const tagName = z.string().trim().min(1).max(100);

const tagSchema = z.object({ id: z.string(), name: z.string(), createdAt: timestamp, deletedAt: timestamp.nullable() }).meta({ id: 'Tag' });

export const tagRoutes: RouteModule = (app, ctx) => {
  const tag = 'tags';
  addRoute(app, ctx, {
    method: 'POST', url: '/tags', summary: 'Create a tag', tag, status: 201,
    response: tagSchema,
    access: { user: 'contacts.write' }, body: z.strictObject({ name: tagName }),
    handler: ({ body, change }) => createTag(ctx.db, change, body.name),
  });
  addRoute(app, ctx, {
    method: 'GET', url: '/tags', summary: 'The workspace’s tags', tag,
    response: pageOf(tagSchema),
    access: { user: 'contacts.read' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listTags(ctx.db, principal.workspaceId, query),
  });
  addRoute(app, ctx, {
    method: 'DELETE', url: '/tags/:id', summary: 'Delete a tag', tag,
    response: z.object({ id: z.string(), deleted: z.literal(true) }),
    access: { user: 'contacts.delete' }, params: idParams('id'),
    handler: async ({ params, change }) => {
      await deleteTag(ctx.db, change, params.id);
      return { id: params.id, deleted: true as const };
    },
  });
  addRoute(app, ctx, {
    method: 'PATCH', url: '/tags/:id', summary: 'Rename a live tag', tag,
    response: tagSchema,
    access: { user: 'contacts.write' }, params: idParams('id'), body: z.strictObject({ name: tagName }),
    handler: ({ params, body, change }) => renameTag(ctx.db, change, params.id, body.name),
  });
};
