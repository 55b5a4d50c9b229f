import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { approveRollback, getRollback, listJobSkips, listRollbacks, previewRollback, rejectRollback, requestRollback, undoRollback } from './service.js';

const scope = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('workspace') }),
  z.strictObject({ type: z.literal('contacts'), contactIds: z.array(z.string().min(1).max(100)).min(1).max(10_000) }),
]);

const point = { at: z.iso.datetime({ offset: true }), scope };

const count = z.number().int();

/**
 * What a rollback does, by kind of row: `contacts` `{revive, revert, remove}`;
 * `listMemberships`, `accountLinks`, `dealContacts`, `contactTags`, `lists`, `accounts`,
 * `deals` and `tags` `{add, change, remove}`; `skipped` `{contacts}`. A record, as the plan
 * keeps them (plan.ts, RollbackCounts): a kind added there is answered as it is.
 */
export const countsSchema = z.record(z.string(), z.record(z.string(), count)).meta({
  id: 'RollbackCounts',
  description:
    'By kind: contacts {revive, revert, remove}; listMemberships, accountLinks, dealContacts, contactTags, lists, accounts, deals, tags {add, change, remove} ' +
    '(a full rollback writes lists, accounts, deals and tags back; a partial one mends the deals its contacts leave); skipped {contacts}',
});

export const skippedContact = z
  .object({
    contactId: z.string(),
    reason: z.string().describe('merged, email_taken, or changed_since_plan (changed after the plan was made: the later change is kept)'),
    takenBy: z.string().optional().describe('For email_taken: the contact that holds the email'),
  })
  .meta({ id: 'SkippedContact' });

/** One row a rollback or an undo left alone, as GET /rollbacks/:id/skipped pages them. */
export const rollbackSkipSchema = z
  .object({
    contactId: z.string().nullable().describe('The contact, or null for a list, account, deal or tag'),
    reason: z.string().describe('merged, email_taken, or changed_since_plan'),
    takenBy: z.string().optional().describe('For email_taken: the contact that holds the email'),
    record: z.object({ table: z.string(), key: z.string() }).optional().describe('A row that is not the contact itself: its table and key'),
    changedAt: timestamp.optional().describe('For changed_since_plan: when the row was last changed'),
    changedBy: z.string().nullable().optional().describe('For changed_since_plan: who changed it (a user id; null for a system change)'),
    changedOrigin: z.string().optional().describe('For changed_since_plan: how (user, integration, import, …)'),
  })
  .meta({ id: 'RollbackSkip' });

const rollbackScope = z
  .discriminatedUnion('type', [z.object({ type: z.literal('workspace') }), z.object({ type: z.literal('contacts'), contactIds: z.array(z.string()) })])
  .meta({ id: 'RollbackScope' });

export const sampleSchema = z
  .object({
    contactId: z.string(),
    email: z.string().nullable().describe('Who it is: now, or at the point when it is gone now'),
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    change: z.enum(['revive', 'revert', 'remove']),
    differences: z.array(z.object({ field: z.string(), now: z.unknown(), then: z.unknown() })).describe('The value now and the value written back'),
    lastChange: z.object({ at: timestamp, actorId: z.string().nullable(), origin: z.string() }).nullable().describe('The latest change after the point'),
    skipped: skippedContact.optional(),
  })
  .meta({ id: 'RollbackSample' });

const previewSchema = z
  .object({ at: timestamp, scope: rollbackScope, counts: countsSchema, sample: z.array(sampleSchema), skipped: z.array(skippedContact) })
  .meta({ id: 'RollbackPreview' });

export const rollbackSchema = z
  .object({
    id: z.string(),
    at: timestamp,
    scope: rollbackScope,
    status: z.enum(['awaiting_approval', 'queued', 'running', 'succeeded', 'failed']),
    resumeAutomations: z.boolean(),
    undoOf: z.string().nullable(),
    undoneBy: z.string().nullable().describe('The undo that put back what this rollback wrote'),
    phase: z.string().describe('Where the job is: plan, parents, release, contacts, done'),
    counts: countsSchema.nullable(),
    skipped: z.array(skippedContact),
    progress: z.object({ contactsDone: count, contactsTotal: count }),
    error: z.string().nullable(),
    requestedBy: z.string().nullable(),
    approvedBy: z.string().nullable(),
    createdAt: timestamp,
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
  })
  .meta({ id: 'Rollback' });

export const rollbackRoutes: RouteModule = (app, ctx) => {
  const tag = 'rollback';

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks/preview', summary: 'What a rollback to a point in time would change, changing nothing', tag,
    response: previewSchema,
    access: { user: 'rollbacks.request' }, body: z.strictObject(point),
    handler: ({ body, change }) => previewRollback(ctx, change, body),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks', summary: 'Roll contacts (at once) or the whole workspace (after a second admin approves) back to a point in time', tag,
    response: rollbackSchema,
    access: { user: 'rollbacks.request' }, body: z.strictObject({ ...point, resumeAutomations: z.boolean().optional() }), status: 202,
    handler: ({ body, change }) => requestRollback(ctx, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/rollbacks', summary: 'Rollbacks, newest first', tag,
    response: pageOf(rollbackSchema),
    access: { user: 'rollbacks.request' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listRollbacks(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/rollbacks/:id', summary: 'A rollback: its status, what it changes and what it skipped', tag,
    response: rollbackSchema,
    access: { user: 'rollbacks.request' }, params: idParams('id'),
    handler: ({ principal, params }) => getRollback(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/rollbacks/:id/skipped', summary: 'What a rollback left alone, with why (a row changed after its plan: who and when), in the order met', tag,
    response: pageOf(rollbackSkipSchema),
    access: { user: 'rollbacks.request' }, params: idParams('id'), query: z.object({ ...pageQuery }),
    handler: ({ principal, params, query }) => listJobSkips(ctx.db, principal.workspaceId, params.id, 'rollback', query),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks/:id/approve', summary: 'Approve a full rollback requested by another user', tag,
    response: rollbackSchema,
    access: { user: 'rollbacks.approve' }, params: idParams('id'),
    handler: ({ params, change }) => approveRollback(ctx, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks/:id/reject', summary: 'Reject (or, as its requester, withdraw) a full rollback awaiting approval', tag,
    response: rollbackSchema,
    access: { user: 'rollbacks.approve' }, params: idParams('id'),
    handler: ({ params, change }) => rejectRollback(ctx, change, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/rollbacks/:id/undo', summary: 'A new rollback that puts back exactly what this one changed', tag,
    response: rollbackSchema,
    access: { user: 'rollbacks.request' }, params: idParams('id'), status: 202,
    handler: ({ params, change }) => undoRollback(ctx, change, params.id),
  });
};
