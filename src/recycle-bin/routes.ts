import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { pageQuery } from '../http/pagination.js';
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

export const recycleBinRoutes: RouteModule = (app, ctx) => {
  const tag = 'restore';

  addRoute(app, ctx, {
    method: 'GET', url: '/deleted-contacts', summary: 'Deleted contacts, newest deletion first, with who deleted them and when', tag,
    access: { user: 'contacts.read' },
    query: z.object({ q: z.string().max(200).optional(), deletedFrom: rangeFrom.optional(), deletedTo: rangeTo.optional(), ...pageQuery }),
    handler: ({ principal, query }) =>
      listDeletedContacts(ctx.db, principal.workspaceId, { ...query, from: toDate(query.deletedFrom), to: toDate(query.deletedTo) }),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/deleted-contacts/count', summary: 'How many deleted contacts match the filter (what "restore all matching" takes)', tag,
    access: { user: 'contacts.read' },
    query: z.strictObject({ q: z.string().max(200).optional(), deletedFrom: rangeFrom.optional(), deletedTo: rangeTo.optional() }),
    handler: ({ principal, query }) =>
      countRemovedContacts(ctx.db, principal.workspaceId, 'deleted', { q: query.q, from: toDate(query.deletedFrom), to: toDate(query.deletedTo) }, ctx.clock.now()),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/archived-contacts/count', summary: 'How many archived contacts match the filter, and how many of them are still frozen', tag,
    access: { user: 'contacts.read' },
    query: z.strictObject({ q: z.string().max(200).optional(), archivedFrom: rangeFrom.optional(), archivedTo: rangeTo.optional() }),
    handler: ({ principal, query }) =>
      countRemovedContacts(ctx.db, principal.workspaceId, 'archived', { q: query.q, from: toDate(query.archivedFrom), to: toDate(query.archivedTo) }, ctx.clock.now()),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/archived-contacts', summary: 'Archived contacts with restorableFrom and restorableUntil', tag,
    access: { user: 'contacts.read' },
    query: z.object({ q: z.string().max(200).optional(), archivedFrom: rangeFrom.optional(), archivedTo: rangeTo.optional(), ...pageQuery }),
    handler: ({ principal, query }) =>
      listArchivedContacts(ctx.db, principal.workspaceId, { ...query, from: toDate(query.archivedFrom), to: toDate(query.archivedTo) }),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/contacts/:id/restorable-associations',
    summary: 'What a restore brings back with a deleted or archived contact: its lists, accounts, live deals and tags, kept while it is away', tag,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ principal, params }) => restorableAssociations(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/restore-jobs', summary: 'Restore picked contacts (up to 100) or all matching a filter, as one background job', tag,
    access: { user: 'contacts.restore' }, body: restoreBody, status: 202,
    handler: ({ body, change }) => requestRestore(ctx, change, body),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/restore-jobs', summary: 'Restore jobs, newest first', tag,
    access: { user: 'contacts.read' }, query: z.object({ ...pageQuery }),
    handler: ({ principal, query }) => listRestoreJobs(ctx.db, principal.workspaceId, query),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/restore-jobs/:id', summary: 'A restore job: progress while running, skipped contacts at the end', tag,
    access: { user: 'contacts.read' }, params: idParams('id'),
    handler: ({ principal, params }) => getRestoreJob(ctx.db, principal.workspaceId, params.id),
  });

  addRoute(app, ctx, {
    method: 'GET', url: '/restore-jobs/:id/skipped', summary: 'The contacts a restore job skipped, with why, in the order it met them', tag,
    access: { user: 'contacts.read' }, params: idParams('id'), query: z.object({ ...pageQuery }),
    handler: ({ principal, params, query }) => listRestoreJobSkips(ctx.db, principal.workspaceId, params.id, query),
  });
};
