import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, idParams } from '../http/route.js';
import { notFound } from '../http/errors.js';
import { TestClock } from '../clock.js';
import { maxPageSize } from '../http/pagination.js';
import { timestamp } from '../http/responses.js';
import { maxPickedContacts } from '../recycle-bin/service.js';
import { snapshotLimits } from '../snapshots/routes.js';
import { maxBackupsKept } from '../backups/routes.js';
import { maxPickedObjects } from '../deleted-objects/routes.js';
import { userSchema } from '../users/routes.js';
import { createWorkspace, getWorkspace, massDeleteRanges, minPercentLimit, retentionRanges, updateWorkspaceLimits, updateWorkspaceSettings } from './service.js';

const activeContactLimit = z.number().int().min(0).max(2_147_483_647).nullable();

const newWorkspaceBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  adminEmail: z.email(),
  activeContactLimit: activeContactLimit.optional(),
});

/** A whole number within one of the ranges of retentionRanges or massDeleteRanges. */
const within = (range: { min: number; max: number }, whole = true) => (whole ? z.number().int() : z.number()).min(range.min).max(range.max);

const settingsBody = z.strictObject({
  retention: z
    .strictObject({
      deletedDays: within(retentionRanges.deletedDays).optional(),
      archiveFreezeDays: within(retentionRanges.archiveFreezeDays).optional(),
      archiveDays: within(retentionRanges.archiveDays).optional(),
      pitrHours: within(retentionRanges.pitrHours).optional(),
    })
    .optional(),
  massDelete: z
    .strictObject({
      maxContacts: within(massDeleteRanges.maxContacts).optional(),
      maxPercent: within(massDeleteRanges.maxPercent, false).optional(),
      windowMinutes: within(massDeleteRanges.windowMinutes).optional(),
    })
    .optional(),
});

const limitsBody = z.strictObject({
  activeContactLimit: activeContactLimit.optional(),
  maxRetention: z
    .strictObject({
      deletedDays: within(retentionRanges.deletedDays).nullable().optional(),
      archiveDays: within(retentionRanges.archiveDays).nullable().optional(),
      pitrHours: within(retentionRanges.pitrHours).nullable().optional(),
    })
    .optional(),
});

/**
 * Limits the server sets on input, for clients to show and keep to rather than learn them
 * from a 400 (GET /limits, docs/API-additions.md): the web UI reads them there. Each is
 * the constant its own module validates with.
 */
const limits = {
  pickedContacts: maxPickedContacts,
  pickedObjects: maxPickedObjects,
  pageSize: maxPageSize,
  snapshotKeepHours: snapshotLimits.keepHours,
  snapshotKeepDays: snapshotLimits.keepDays,
  snapshotLabelLength: snapshotLimits.labelLength,
  backupsKept: maxBackupsKept,
  retentionRanges,
  massDeleteRanges,
  massDeleteMinPercentContacts: minPercentLimit,
};

const count = z.number().int();
const range = z.object({ min: z.number(), max: z.number() });

/** A workspace: its limit of active contacts, usage and retention. */
const workspaceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    activeContactLimit: count.nullable(),
    usage: z.object({ active: count, archived: count, deleted: count }),
    retention: z.object({ deletedDays: count, archiveFreezeDays: count, archiveDays: count, pitrHours: count }),
    massDelete: z
      .object({ maxContacts: count, maxPercent: z.number(), windowMinutes: count })
      .describe(`The mass-delete guard: more than maxContacts (or maxPercent of the contacts, where that is at least ${minPercentLimit}) deleted or archived by one actor within windowMinutes is held`),
    maxRetention: z
      .object({ deletedDays: count, archiveDays: count, pitrHours: count })
      .describe('The longest retention the workspace may choose: the operator’s limits, else the server’s ranges'),
    createdAt: timestamp,
  })
  .meta({ id: 'Workspace' });

/** The limits the server sets on input (GET /limits). */
const limitsSchema = z
  .object({
    pickedContacts: count.describe('Contacts one restore may pick by id (POST /restore-jobs contactIds)'),
    pickedObjects: count.describe('Deleted objects of one type one restore may pick (POST /deleted-objects/restore ids)'),
    pageSize: count.describe('Items a page may hold (?limit=)'),
    snapshotKeepHours: count.describe('The longest keepHours of hourly snapshots'),
    snapshotKeepDays: count.describe('The longest keepDays of weekly and monthly snapshots'),
    snapshotLabelLength: count.describe('The longest label of a snapshot'),
    backupsKept: count.describe('The largest keep of the backup schedule'),
    retentionRanges: z
      .object({ deletedDays: range, archiveFreezeDays: range, archiveDays: range, pitrHours: range })
      .describe('The ranges of PATCH /workspace {retention}; the operator may allow less (GET /workspace maxRetention)'),
    massDeleteRanges: z.object({ maxContacts: range, maxPercent: range, windowMinutes: range }).describe('The ranges of PATCH /workspace {massDelete}'),
    massDeleteMinPercentContacts: count.describe('The fewest contacts the mass-delete guard’s maxPercent counts at: where the share comes to fewer, maxContacts is the limit'),
  })
  .meta({ id: 'Limits' });

export const workspaceRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'POST',
    url: '/workspaces',
    summary: 'Create a workspace and its first admin (operator)',
    tag: 'operator',
    access: { operator: true },
    body: newWorkspaceBody,
    status: 201,
    response: z.object({ workspace: workspaceSchema, user: userSchema, token: z.string() }),
    handler: ({ body }) => createWorkspace(ctx.db, ctx.clock, body),
  });

  addRoute(app, ctx, {
    method: 'GET',
    url: '/workspace',
    summary: 'The caller’s workspace, its usage and retention',
    tag: 'workspace',
    access: { user: null },
    response: workspaceSchema,
    handler: ({ principal }) => getWorkspace(ctx.db, principal.workspaceId),
  });

  addRoute(app, ctx, {
    method: 'PATCH',
    url: '/workspace',
    summary: 'Change the workspace’s retention and mass-delete settings, within the operator’s limits',
    tag: 'workspace',
    access: { user: 'users.manage' },
    body: settingsBody,
    response: workspaceSchema,
    handler: ({ body, change }) => updateWorkspaceSettings(ctx.db, change, body),
  });

  addRoute(app, ctx, {
    method: 'PATCH',
    url: '/workspaces/:id',
    summary: 'Change a workspace’s contact limit and the longest retention its admins may choose (operator)',
    tag: 'operator',
    access: { operator: true },
    params: idParams('id'),
    body: limitsBody,
    response: workspaceSchema,
    handler: ({ params, body }) => updateWorkspaceLimits(ctx.db, ctx.clock, params.id, body),
  });

  addRoute(app, ctx, {
    method: 'GET',
    url: '/limits',
    summary: 'The limits the server sets on input (how many contacts a restore may pick, a page may hold, …), for clients to keep to',
    tag: 'workspace',
    access: { user: null },
    response: limitsSchema,
    handler: async () => limits,
  });

  const testClock = ctx.clock instanceof TestClock ? ctx.clock : null;
  const clockSchema = z.object({ now: timestamp });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/test-clock',
    summary: 'The test clock (only with RETRACE_TEST_CLOCK=1)',
    tag: 'operator',
    access: { operator: true },
    response: clockSchema,
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
    response: clockSchema,
    handler: async ({ body }) => {
      if (!testClock) throw notFound('Test clock');
      return { now: (await testClock.advanceAndKeep(body.advanceSeconds)).toISOString() };
    },
  });
};
