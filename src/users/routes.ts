import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { permissions } from './permissions.js';
import { getWorkspace } from '../workspaces/service.js';
import { addUser, changeUserRole, createRole, deactivateUser, listRoles, listUsers, signedInUser } from './service.js';
import { createIntegrationToken, listIntegrationTokens, revokeIntegrationToken } from './tokens.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';

export const permissionSchema = z.enum(permissions).meta({ id: 'Permission' });

/** A user of the workspace; `role` is the role's name. */
export const userSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    role: z.string(),
    createdAt: timestamp,
    deactivatedAt: timestamp.nullable().describe('When the user was deactivated: their tokens answer 401 from then on'),
  })
  .meta({ id: 'User' });

/** An integration's API token, never with its secret. */
export const tokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.string().describe('The name of the role the token acts with'),
    createdAt: timestamp,
    createdBy: z.string().describe('The user it belongs to: deactivating them revokes it'),
    lastUsedAt: timestamp.nullable().describe('Its last request, to the minute'),
    revokedAt: timestamp.nullable(),
  })
  .meta({ id: 'IntegrationToken' });

export const roleSchema = z
  .object({ id: z.string(), name: z.string(), permissions: z.array(permissionSchema), builtin: z.boolean() })
  .meta({ id: 'Role' });

/** Who holds the token (GET /me): what the web UI shows and hides by. */
const meSchema = z
  .object({
    user: z.object({ id: z.string(), email: z.string(), name: z.string().nullable() }),
    role: z.object({ id: z.string(), name: z.string() }),
    permissions: z.array(permissionSchema).describe('In the order of the contract’s list'),
    workspace: z.object({ id: z.string(), name: z.string() }),
  })
  .meta({ id: 'Me' });

/** A new user with their first API token (the token is shown once). */
export const newUserSchema = z.object({ user: userSchema, token: z.string() });

export const userRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'GET',
    url: '/me',
    summary: 'Who the token belongs to: user, role, permissions and workspace (what the web UI shows and hides)',
    tag: 'users',
    response: meSchema,
    access: { user: null },
    handler: async ({ principal }) => {
      const [me, workspace] = await Promise.all([
        signedInUser(ctx.db, principal),
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
    response: newUserSchema,
    access: { user: 'users.manage' },
    body: z.strictObject({ email: z.email(), name: z.string().trim().min(1).max(200).optional(), role: z.string().min(1) }),
    status: 201,
    handler: ({ body, change, principal }) => addUser(ctx.db, change, principal, body),
  });

  addRoute(app, ctx, {
    method: 'GET',
    url: '/users',
    summary: 'The workspace’s users',
    tag: 'users',
    response: pageOf(userSchema),
    access: { user: 'users.manage' },
    query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listUsers(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET',
    url: '/roles',
    summary: 'Roles and their permissions',
    tag: 'users',
    response: pageOf(roleSchema),
    access: { user: null },
    query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listRoles(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'POST',
    url: '/roles',
    summary: 'Create a custom role',
    tag: 'users',
    response: roleSchema,
    access: { user: 'users.manage' },
    body: z.strictObject({ name: z.string().trim().min(1).max(100), permissions: z.array(z.enum(permissions)).max(permissions.length * 2) }),
    status: 201,
    handler: ({ body, change, principal }) => createRole(ctx.db, change, principal, body),
  });

  addRoute(app, ctx, {
    method: 'POST',
    url: '/users/:id/deactivate',
    summary: 'Deactivate a user: their tokens, and the integration tokens they created, answer 401 from then on; their history stays theirs',
    tag: 'users',
    response: userSchema,
    access: { user: 'users.manage' },
    params: idParams('id'),
    handler: ({ params, change, principal }) => deactivateUser(ctx.db, change, principal, params.id),
  });

  addRoute(app, ctx, {
    method: 'PATCH',
    url: '/users/:id',
    summary: 'Give a user another role: only one you could grant, never your own, never the last admin’s away',
    tag: 'users',
    response: userSchema,
    access: { user: 'users.manage' },
    params: idParams('id'),
    body: z.strictObject({ role: z.string().min(1).max(200).describe('The role’s name (case-insensitive) or id') }),
    handler: ({ params, body, change, principal }) => changeUserRole(ctx.db, change, principal, params.id, body),
  });

  addRoute(app, ctx, {
    method: 'POST',
    url: '/tokens',
    summary: 'Create an integration’s API token with a name and a role; its secret is answered once',
    tag: 'users',
    response: z.object({ token: tokenSchema, secret: z.string().describe('The bearer token: shown only here') }),
    access: { user: 'users.manage' },
    body: z.strictObject({ name: z.string().trim().min(1).max(200), role: z.string().min(1).max(200) }),
    status: 201,
    handler: ({ body, change, principal }) => createIntegrationToken(ctx.db, change, principal, body),
  });

  addRoute(app, ctx, {
    method: 'GET',
    url: '/tokens',
    summary: 'The workspace’s integration tokens, revoked ones included, without secrets',
    tag: 'users',
    response: pageOf(tokenSchema),
    access: { user: 'users.manage' },
    query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listIntegrationTokens(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'DELETE',
    url: '/tokens/:id',
    summary: 'Revoke an integration’s token: its next request answers 401',
    tag: 'users',
    response: tokenSchema,
    access: { user: 'users.manage' },
    params: idParams('id'),
    handler: ({ params, change }) => revokeIntegrationToken(ctx.db, change, params.id),
  });
};
