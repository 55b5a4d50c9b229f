import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute } from '../http/route.js';
import { permissions } from './permissions.js';
import { getWorkspace } from '../workspaces/service.js';
import { addUser, createRole, listRoles, listUsers, signedInUser } from './service.js';
import { pageQuery } from '../http/pagination.js';

export const userRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'GET',
    url: '/me',
    summary: 'Who the token belongs to: user, role, permissions and workspace (what the web UI shows and hides)',
    tag: 'users',
    access: { user: null },
    handler: async ({ principal }) => {
      const [me, workspace] = await Promise.all([
        signedInUser(ctx.db, principal.workspaceId, principal.userId),
        getWorkspace(ctx.db, principal.workspaceId),
      ]);
      return { ...me, workspace: { id: workspace.id, name: workspace.name } };
    },
  });

  addRoute(app, ctx, {
    method: 'POST',
    url: '/users',
    summary: 'Add a user with a role; answers their first API token',
    tag: 'users',
    access: { user: 'users.manage' },
    body: z.strictObject({ email: z.email(), name: z.string().trim().min(1).max(200).optional(), role: z.string().min(1) }),
    status: 201,
    handler: ({ body, change }) => addUser(ctx.db, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET',
    url: '/users',
    summary: 'The workspace’s users',
    tag: 'users',
    access: { user: 'users.manage' },
    query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listUsers(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET',
    url: '/roles',
    summary: 'Roles and their permissions',
    tag: 'users',
    access: { user: null },
    query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listRoles(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'POST',
    url: '/roles',
    summary: 'Create a custom role',
    tag: 'users',
    access: { user: 'users.manage' },
    body: z.strictObject({ name: z.string().trim().min(1).max(100), permissions: z.array(z.enum(permissions)).max(permissions.length * 2) }),
    status: 201,
    handler: ({ body, change }) => createRole(ctx.db, change, body),
  });
};
