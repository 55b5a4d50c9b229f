import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageOf, pageQuery } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { accountLinkSchema, contactSchema } from '../contacts/routes.js';
import { dealSchema } from '../deals/routes.js';
import { rangeFrom, rangeTo } from '../http/time-range.js';
import {
  countRemovedContacts,
  getRestoreJob,
  listArchivedContacts,
  listDeletedContacts,
  listRestoreJobSkips,
  listRestoreJobs,
  requestRestore,
  restorableAssociations,
} from './service.js';

const toDate = (value: string | undefined) => (value ? new Date(value) : undefined);

const restoreBody = z
  .strictObject({
    source: z.enum(['deleted', 'archived']),
    contactIds: z.array(z.string().min(1).max(100)).min(1).max(10_000).optional(),
    all: z.boolean().optional(),
    filter: z.strictObject({ q: z.string().max(200).optional(), from: rangeFrom.optional(), to: rangeTo.optional() }).optional(),
    confirmOverage: z.boolean().optional(),
    resumeAutomations: z.boolean().optional(),
  })
  .refine((b) => (b.contactIds !== undefined) !== (b.all === true), { message: 'Give either contactIds or all: true' })
  .refine((b) => b.filter === undefined || b.all === true, { message: 'filter goes with all: true' });

const archivedContactSchema = contactSchema
  .extend({
    restorableFrom: timestamp.describe('When its freeze ends: archivedAt + archiveFreezeDays'),
    restorableUntil: timestamp.describe('When it is purged: archivedAt + archiveDays'),
  })
  .meta({ id: 'ArchivedContact' });

const removedCountSchema = z.object({
  total: z.number().int().describe('Contacts matching, on every page'),
  frozen: z.number().int().optional().describe('Archived ones among them still frozen (archived contacts only)'),
});

const restorableAssociationsSchema = z
  // The statuses are kept as the rows hold them (the service reads them as text).
  .object({ lists: z.array(z.object({ listId: z.string(), status: z.string() })), accounts: z.array(accountLinkSchema), deals: z.array(dealSchema), tags: z.array(z.string()) })
  .meta({ id: 'RestorableAssociations' });

export const skippedContactSchema = z
  .object({
    contactId: z.string(),
    reason: z.string().describe('merged, purged, email_taken, frozen, not_deleted, not_archived or not_found'),
    takenBy: z.string().optional().describe('For email_taken: the contact holding the email'),
  })
  .meta({ id: 'RestoreSkip' });

export const restoreJobSchema = z
  .object({
    id: z.string(),
    source: z.enum(['deleted', 'archived']),
    status: z.enum(['awaiting_approval', 'queued', 'running', 'succeeded', 'failed']),
    requested: z.number().int(),
    restored: z.number().int(),
    skipped: z.array(skippedContactSchema).describe('The first skipped contacts (up to 500; 100 in a list of jobs), in the order the job met them'),
    skippedCount: z.number().int().describe('How many contacts the job skipped in all'),
    skippedNextCursor: z.string().nullable().describe('The cursor of GET /restore-jobs/:id/skipped for the skips after those shown'),
    resumeAutomations: z.boolean(),
    createdBy: z.string().nullable(),
    createdAt: timestamp,
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
    error: z.string().optional().describe('Why a failed job failed'),
  })
  .meta({ id: 'RestoreJob' });

export const recycleBinRoutes: RouteModule = (app, ctx) => {
  const tag = 'restore';

  addRoute(app, ctx, {
    method: 'GET', url: '/deleted-contacts', summary: 'Deleted contacts, newest deletion first, with who deleted them and when', tag,
    response: pageOf(contactSchema),
    access: { user: 'contacts.read' },
    query: z.object({ q: z.string().max(200).optional(), deletedFrom: rangeFrom.optional(), deletedTo: rangeTo.optional(), ...pageQuery }),
    handler: ({ principal, query }) =>
      listDeletedContacts(ctx.db, principal.workspaceId, { ...query, from: toDate(query.deletedFrom), to: toDate(query.deletedTo) }),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/deleted-contacts/count', summary: 'How many deleted contacts match the filter (what "restore all matching" takes)', tag,
    response: removedCountSchema,
    access: { user: 'contacts.read' },
    query: z.strictObject({ q: z.string().max(200).optional(), deletedFrom: rangeFrom.optional(), deletedTo: rangeTo.optional() }),
    handler: ({ principal, query }) =>
      countRemovedContacts(ctx.db, principal.workspaceId, 'deleted', { q: query.q, from: toDate(query.deletedFrom), to: toDate(query.deletedTo) }, ctx.clock.now()),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/archived-contacts/count', summary: 'How many archived contacts match the filter, and how many of them are still frozen', tag,
    response: removedCountSchema,
    access: { user: 'contacts.read' },
    query: z.strictObject({ q: z.string().max(200).optional(), archivedFrom: rangeFrom.optional(), archivedTo: rangeTo.optional() }),
    handler: ({ principal, query }) =>
      countRemovedContacts(ctx.db, principal.workspaceId, 'archived', { q: query.q, from: toDate(query.archivedFrom), to: toDate(query.archivedTo) }, ctx.clock.now()),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/archived-contacts', summary: 'Archived contacts with restorableFrom and restorableUntil', tag,
    response: pageOf(archivedContactSchema),
    access: { user: 'contacts.read' },
    query: z.object({ q: z.string().max(200).optional(), archivedFrom: rangeFrom.optional(), archivedTo: rangeTo.optional(), ...pageQuery }),
    handler: ({ principal, query }) =>
      listArchivedContacts(ctx.db, principal.workspaceId, { ...query, from: toDate(query.archivedFrom), to: toDate(query.archivedTo) }),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/restorable-associations',
    summary: 'What a restore brings back with a deleted or archived contact: its lists, accounts, live deals and tags, kept while it is away', tag,
    response: restorableAssociationsSchema,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ principal, params }) => restorableAssociations(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/restore-jobs', summary: 'Restore picked contacts (up to 100) or all matching a filter, as one background job', tag,
    response: restoreJobSchema,
    access: { user: 'contacts.restore' }, body: restoreBody, status: 202,
    handler: ({ body, change }) => requestRestore(ctx, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/restore-jobs', summary: 'Restore jobs, newest first', tag,
    response: pageOf(restoreJobSchema),
    access: { user: 'contacts.read' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listRestoreJobs(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/restore-jobs/:id', summary: 'A restore job: progress while running, skipped contacts at the end', tag,
    response: restoreJobSchema,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ principal, params }) => getRestoreJob(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/restore-jobs/:id/skipped', summary: 'The contacts a restore job skipped, with why, in the order it met them', tag,
    response: pageOf(skippedContactSchema),
    access: { user: 'contacts.read' }, params: idParams('id'), query: z.object({ ...pageQuery }),
    handler: ({ principal, params, query }) => listRestoreJobSkips(ctx.db, principal.workspaceId, params.id, query),
  });
};
