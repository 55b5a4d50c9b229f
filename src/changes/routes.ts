import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { rangeFrom, rangeTo } from '../http/time-range.js';
import { changeActivity, listChanges } from './service.js';

const causeKinds = ['user', 'integration', 'import', 'automation', 'form', 'merge', 'restore', 'rollback', 'undo', 'system', 'sql'] as const;

const toDate = (value: string | undefined) => (value ? new Date(value) : undefined);

const causeFilter = {
  actorId: z.string().min(1).max(200).optional(),
  tokenId: z.string().min(1).max(200).optional(),
  importId: z.string().min(1).max(200).optional(),
  automationId: z.string().min(1).max(200).optional(),
  kind: z.enum(causeKinds).optional().describe('The kind of cause'),
  from: rangeFrom.optional(),
  to: rangeTo.optional(),
};

const countsSchema = z
  .record(z.string(), z.record(z.string(), z.number().int()))
  .describe('By kind of record (contacts, lists, listMemberships, …), how many were created, updated, deleted (archived, restored, merged, purged)');

const causeSummarySchema = z
  .object({
    cause: z.object({
      kind: z.string(),
      id: z.string().nullable(),
      actorId: z.string().optional(),
      tokenId: z.string().optional(),
      name: z.string().optional().describe('What the cause is called: the user, token, import file, automation or form'),
    }),
    from: timestamp,
    to: timestamp,
    counts: countsSchema,
    changeSets: z.number().int().describe('Transactions it wrote'),
  })
  .meta({ id: 'CauseSummary' });

const activitySchema = z.object({
  buckets: z.array(z.object({ at: timestamp, created: z.number().int(), updated: z.number().int(), deleted: z.number().int() })),
});

export const changeRoutes: RouteModule = (app, ctx) => {
  const tag = 'changes';

  addRoute(app, ctx, {
    method: 'GET', url: '/changes', summary: 'Who and what changed the workspace: each cause with what it did, newest first', tag,
    access: { user: 'audit.read' }, query: z.object({ ...causeFilter, ...pageQuery }), response: pageOf(causeSummarySchema),
    handler: ({ principal, query }) => listChanges(ctx, principal.workspaceId, { ...query, from: toDate(query.from), to: toDate(query.to) }),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/changes/activity', summary: 'Records created, updated and deleted per bucket of time, for a chart', tag,
    access: { user: 'audit.read' },
    query: z.object({ ...causeFilter, bucket: z.enum(['minute', 'hour', 'day']).default('hour') }),
    response: activitySchema,
    handler: ({ principal, query }) => changeActivity(ctx, principal.workspaceId, { ...query, from: toDate(query.from), to: toDate(query.to) }),
  });
};
