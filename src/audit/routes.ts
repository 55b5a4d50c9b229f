import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute } from '../http/route.js';
import { pageQuery } from '../http/pagination.js';
import { rangeFrom, rangeTo } from '../http/time-range.js';
import { listAuditEntries, verifyAuditChain } from './service.js';

const auditQuery = z.object({
  action: z.string().optional(),
  actorId: z.string().optional(),
  targetId: z.string().optional(),
  from: rangeFrom.optional(),
  to: rangeTo.optional(),
  ...pageQuery,
});

export const auditRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'GET',
    url: '/audit-log',
    summary: 'Audit entries, newest first',
    tag: 'audit',
    access: { user: 'audit.read' },
    query: auditQuery,
    handler: ({ principal, query }) =>
      listAuditEntries(ctx.db, principal.workspaceId, {
        ...query,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
      }),
  });

  addRoute(app, ctx, {
    method: 'GET',
    url: '/audit-log/verify',
    summary: 'Verify the hash chain of the audit log',
    tag: 'audit',
    access: { user: 'audit.read' },
    handler: async ({ principal }) => {
      const verdict = await verifyAuditChain(ctx.db, principal.workspaceId);
      return verdict.ok ? { ok: true, entries: verdict.entries } : { ok: false, brokenAt: verdict.brokenAt, entries: verdict.entries };
    },
  });
};
