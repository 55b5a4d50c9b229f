import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute } from '../http/route.js';
import { notFound } from '../http/errors.js';
import { TestClock } from '../clock.js';
import { createWorkspace, getWorkspace } from './service.js';

const newWorkspaceBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  adminEmail: z.email(),
  activeContactLimit: z.number().int().min(0).max(2_147_483_647).nullable().optional(),
});

export const workspaceRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'POST',
    url: '/workspaces',
    summary: 'Create a workspace and its first admin (operator)',
    tag: 'operator',
    access: { operator: true },
    body: newWorkspaceBody,
    status: 201,
    handler: ({ body }) => createWorkspace(ctx.db, ctx.clock, body),
  });

  addRoute(app, ctx, {
    method: 'GET',
    url: '/workspace',
    summary: 'The caller’s workspace, its usage and retention',
    tag: 'workspace',
    access: { user: null },
    handler: ({ principal }) => getWorkspace(ctx.db, principal.workspaceId),
  });

  const testClock = ctx.clock instanceof TestClock ? ctx.clock : null;
  addRoute(app, ctx, {
    method: 'GET',
    url: '/test-clock',
    summary: 'The test clock (only with RETRACE_TEST_CLOCK=1)',
    tag: 'operator',
    access: { operator: true },
    handler: async () => {
      if (!testClock) throw notFound('Test clock');
      return { now: testClock.now().toISOString() };
    },
  });

  addRoute(app, ctx, {
    method: 'POST',
    url: '/test-clock',
    summary: 'Move the test clock forward',
    tag: 'operator',
    access: { operator: true },
    body: z.strictObject({ advanceSeconds: z.number().int().min(0).max(10 * 365 * 86400) }),
    handler: async ({ body }) => {
      if (!testClock) throw notFound('Test clock');
      return { now: testClock.advance(body.advanceSeconds).toISOString() };
    },
  });
};
