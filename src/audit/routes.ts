import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
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

export const auditEntrySchema = z
  .object({
    id: z.string(),
    at: timestamp,
    actorId: z.string().nullable(),
    action: z.string(),
    targetType: z.string().nullable(),
    targetId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    hash: z.string(),
    prevHash: z.string().nullable(),
  })
  .meta({ id: 'AuditEntry' });

/** Whether the entries form an unbroken hash chain, and if not, the first entry that does not match. */
const chainVerdictSchema = z
  .discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), entries: z.number().int() }),
    z.object({ ok: z.literal(false), brokenAt: z.string(), entries: z.number().int() }),
  ])
  .meta({ id: 'ChainVerdict' });

export const auditRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'GET',
    url: '/audit-log',
    summary: 'Audit entries, newest first',
    tag: 'audit',
    response: pageOf(auditEntrySchema),
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
    response: chainVerdictSchema,
    access: { user: 'audit.read' },
    handler: async ({ principal }) => {
      const verdict = await verifyAuditChain(ctx.db, principal.workspaceId);
      return verdict.ok ? { ok: true as const, entries: verdict.entries } : { ok: false as const, brokenAt: verdict.brokenAt, entries: verdict.entries };
    },
  });
};
