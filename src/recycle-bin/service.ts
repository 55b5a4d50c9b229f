import type { z } from 'zod';
import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { AppError, invalidState, notFound } from '../http/errors.js';
import { cursorTime, decodeCursor, encodeCursor, toPage, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { resumeEnrollments } from '../automations/enrollments.js';
import { contactColumns, countActiveContacts, getContact, isEmailHeldViolation, presentContact, reactivateContacts, searchContacts, type Contact, type ContactRow } from '../contacts/service.js';
import { liveDealsWithIds, type Deal } from '../deals/service.js';
import { getRetention } from '../workspaces/service.js';
import { findJob, insertJob, listJobs, withOneActiveJob, type Job, type JobHandler } from '../jobs/service.js';
import { notify } from '../notifications/service.js';
import {
  advanceRestoreJob,
  candidates,
  countMatching,
  dropRowsOfDeletedParents,
  fixMatchingContacts,
  fixPickedContacts,
  forgetJobContacts,
  inSource,
  insertRestoreJob,
  insertSkips,
  jobContacts,
  keptAssociations,
  markContactsFixed,
  selectRestoreJob,
  selectRestoreJobs,
  selectSkipPage,
  selectSkips,
  type Candidate,
  type KeptAssociations,
  type RemovedFilter,
  type RestoreJobRow,
  type RestoreSource,
} from './queries.js';
import type { restoreJobSchema, skippedContactSchema } from './routes.js';

export type { RestoreSource } from './queries.js';
// Purge and erasure leave a contact's tombstone, which the bin's restores read.
export { leaveTombstones } from './queries.js';

const dayMs = 86_400_000;

export interface BinQuery {
  q?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

/** Deleted or archived contacts, most recently removed first. */
async function listRemoved(db: Db, workspaceId: string, source: RestoreSource, query: BinQuery): Promise<Page<Contact & { at: string }>> {
  const after = decodeCursor(query.cursor, ['timestamp', 'text']);
  const column = source === 'deleted' ? 'c.deleted_at' : 'c.archived_at';
  const rows = await searchContacts<ContactRow & { removed_key: string; removed_at: Date }>(db, {
    workspaceId,
    q: query.q,
    columns: sql`${contactColumns(workspaceId)}, ${sql.ref(column)} AS removed_at, ${cursorTime(column)} AS removed_key`,
    // After the cursor as a plain row comparison, so that the index starts there.
    scope: sql`${inSource(source, { from: query.from, to: query.to })}
      AND ${after ? sql`(${sql.ref(column)}, c.id) < (${after[0]}::timestamptz, ${after[1]}::text)` : sql`true`}`,
    order: sql`${sql.ref(column)} DESC, c.id DESC`,
    limit: query.limit + 1,
  });
  return toPage(rows, query.limit, (r) => [r.removed_key, r.id], (r) => ({ ...presentContact(r), at: r.removed_at.toISOString() }));
}

export async function listDeletedContacts(db: Db, workspaceId: string, query: BinQuery): Promise<Page<Contact>> {
  const page = await listRemoved(db, workspaceId, 'deleted', query);
  return { data: page.data.map(({ at: _at, ...contact }) => contact), nextCursor: page.nextCursor };
}

export interface RemovedCount {
  /** Contacts of the source matching the filter, on every page. */
  total: number;
  /** Archived ones among them still frozen (seed 004): "Restore all" skips them. */
  frozen?: number;
}

/** How many contacts "restore all matching" would take, without paging through them. */
export async function countRemovedContacts(db: Db, workspaceId: string, source: RestoreSource, filter: Omit<BinQuery, 'limit' | 'cursor'>, now: Date): Promise<RemovedCount> {
  const { archiveFreezeDays } = await getRetention(db, workspaceId);
  const frozenSince = new Date(now.getTime() - archiveFreezeDays * dayMs);
  const { rows } = await sql<{ total: number; frozen: number }>`
    SELECT count(*)::int AS total, count(*) FILTER (WHERE c.archived_at > ${frozenSince})::int AS frozen FROM contacts c
    WHERE c.workspace_id = ${workspaceId} AND ${inSource(source, filter)}`.execute(db);
  return source === 'archived' ? rows[0] : { total: rows[0].total };
}

export interface ArchivedContact extends Contact {
  restorableFrom: string;
  restorableUntil: string;
}

/** Archived contacts with the window in which a manual restore is allowed (seed 004). */
export async function listArchivedContacts(db: Db, workspaceId: string, query: BinQuery): Promise<Page<ArchivedContact>> {
  const retention = await getRetention(db, workspaceId);
  const page = await listRemoved(db, workspaceId, 'archived', query);
  return {
    data: page.data.map(({ at, ...contact }) => ({
      ...contact,
      archivedAt: at,
      restorableFrom: new Date(Date.parse(at) + retention.archiveFreezeDays * dayMs).toISOString(),
      restorableUntil: new Date(Date.parse(at) + retention.archiveDays * dayMs).toISOString(),
    })),
    nextCursor: page.nextCursor,
  };
}

export interface RestorableAssociations extends Omit<KeptAssociations, 'dealIds'> {
  deals: Deal[];
}

/**
 * What a restore would bring back with a deleted or archived contact: the lists (with
 * status), accounts (with job title), live deals and tags it kept while away. Other
 * contacts have nothing set aside: 409 invalid_state.
 */
export async function restorableAssociations(db: Db, workspaceId: string, contactId: string): Promise<RestorableAssociations> {
  const contact = await getContact(db, workspaceId, contactId);
  if (contact.status !== 'deleted' && contact.status !== 'archived') {
    throw invalidState(`Only a deleted or archived contact has associations to restore; this one is ${contact.status}`, { status: contact.status });
  }
  const { dealIds, ...kept } = await keptAssociations(db, workspaceId, contactId);
  return { ...kept, deals: await liveDealsWithIds(db, workspaceId, dealIds) };
}

export interface RestoreRequest {
  source: RestoreSource;
  contactIds?: string[];
  all?: boolean;
  filter?: { q?: string; from?: string; to?: string };
  confirmOverage?: boolean;
  resumeAutomations?: boolean;
}

/** A contact a restore job skipped, and why (routes.ts skippedContactSchema). */
export type SkippedContact = z.output<typeof skippedContactSchema>;

/** A restore job as GET /restore-jobs/:id answers it (routes.ts restoreJobSchema). */
export type RestoreJobView = z.output<typeof restoreJobSchema>;

export const restoreBatchSize = 5000;

/** Seed 002: up to 100 picked contacts at a time; "restore all" has no limit. */
export const maxPickedContacts = 100;

/** How many skipped contacts a restore job shows: on its own, and in a list of jobs. */
const skipsShown = { job: 500, inList: 100 };

function presentJob(job: Job, row: RestoreJobRow, skips: SkippedContact[], shown: number): RestoreJobView {
  const firstShown = skips.slice(0, shown);
  return {
    id: job.id,
    source: row.source,
    status: job.status,
    requested: row.requested,
    restored: row.restored,
    skipped: firstShown,
    skippedCount: row.skipped,
    skippedNextCursor: row.skipped > firstShown.length ? encodeCursor([firstShown.length - 1]) : null,
    resumeAutomations: row.resume_automations,
    createdBy: job.createdBy,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    ...(job.error ? { error: job.error } : {}),
  };
}

/**
 * Queues a restore job (seed 002: one at a time per workspace, admins only). Picked
 * contacts are fixed now; with `all`, the job's first step fixes every contact of the
 * source matching the filter that was removed by now, so the request answers at once
 * whatever their number (it only counts them, for the contact limit).
 */
export async function requestRestore(ctx: AppContext, change: ChangeContext, input: RestoreRequest): Promise<RestoreJobView> {
  // Counted as given: 150 entries are more than 100 ids, even if some repeat.
  const picked = input.contactIds?.length ?? 0;
  if (picked > maxPickedContacts) {
    throw new AppError(422, 'too_many_contacts', `Pick at most ${maxPickedContacts} contacts, or restore all matching a filter`, {
      max: maxPickedContacts,
      given: picked,
    });
  }
  const ws = change.workspaceId;
  const filter = filterOf(input);
  const { job, row } = await withOneActiveJob(ctx.db, ws, () =>
    inTransaction(ctx.db, change, async (tx) => {
      const queued = await insertJob(tx, change, { kind: 'restore', status: 'queued', params: {}, progress: {} });
      const { archiveFreezeDays } = await getRetention(tx, ws);
      // Seed 004: archived contacts still in their freeze will be skipped.
      const frozenSince = new Date(change.at.getTime() - archiveFreezeDays * dayMs);
      const figures = input.contactIds
        ? await fixPickedContacts(tx, ws, queued.id, input.contactIds, input.source, frozenSince)
        : await countMatching(tx, ws, input.source, filter, frozenSince);
      await checkContactLimit(tx, ws, figures.restorable, input.confirmOverage ?? false);
      const row = await insertRestoreJob(tx, ws, queued.id, {
        source: input.source,
        resumeAutomations: input.resumeAutomations ?? false,
        matchAll: input.contactIds === undefined,
        filter,
        removedUntil: change.at,
        contactsFixed: input.contactIds !== undefined,
        requested: figures.requested,
      });
      await recordAudit(tx, change, {
        action: 'restore_job.created',
        targetType: 'restore_job',
        targetId: queued.id,
        details: { source: input.source, requested: figures.requested, all: input.all ?? false, resumeAutomations: row.resume_automations },
      });
      return { job: queued, row };
    }),
  );
  ctx.kickJobs();
  return presentJob(job, row, [], 0);
}

const filterOf = (input: RestoreRequest): RemovedFilter => ({
  q: input.filter?.q,
  from: input.filter?.from ? new Date(input.filter.from) : undefined,
  to: input.filter?.to ? new Date(input.filter.to) : undefined,
});

/**
 * Seed 004: restoring counts against the active limit at once; going over needs
 * confirmation. Archived contacts still in their freeze will be skipped, so they do not
 * count, nor does a restore that would bring nobody back.
 */
async function checkContactLimit(tx: Tx, workspaceId: string, restorable: number, confirmed: boolean): Promise<void> {
  if (restorable === 0 || confirmed) return;
  const { activeContactLimit } = await getRetention(tx, workspaceId);
  if (activeContactLimit === null) return;
  const active = await countActiveContacts(tx, workspaceId);
  if (active + restorable > activeContactLimit) {
    throw new AppError(409, 'contact_limit_exceeded', 'Restoring these contacts would take the workspace over its active contact limit; confirm the overage to go ahead', {
      active,
      limit: activeContactLimit,
      wouldBe: active + restorable,
    });
  }
}

async function findRestoreJob(db: Db | Tx, workspaceId: string, jobId: string): Promise<{ job: Job; row: RestoreJobRow }> {
  const job = await findJob(db, workspaceId, jobId);
  const row = job?.kind === 'restore' ? await selectRestoreJob(db, workspaceId, jobId) : undefined;
  if (!job || !row) throw notFound('Restore job');
  return { job, row };
}

export async function getRestoreJob(db: Db, workspaceId: string, jobId: string): Promise<RestoreJobView> {
  const { job, row } = await findRestoreJob(db, workspaceId, jobId);
  const skips = await selectSkips(db, workspaceId, [jobId], skipsShown.job);
  return presentJob(job, row, skips.get(jobId) ?? [], skipsShown.job);
}

/** The contacts a restore job skipped, in the order it met them, a page at a time. */
export async function listRestoreJobSkips(db: Db, workspaceId: string, jobId: string, page: PageRequest): Promise<Page<SkippedContact>> {
  await findRestoreJob(db, workspaceId, jobId);
  const after = decodeCursor(page.cursor, ['integer']);
  const rows = await selectSkipPage(db, workspaceId, jobId, after ? Number(after[0]) : -1, page.limit + 1);
  return toPage(rows, page.limit, (r) => [r.position], ({ position: _position, ...skip }) => skip);
}

export async function listRestoreJobs(db: Db, workspaceId: string, page: { limit: number; cursor?: string }): Promise<Page<RestoreJobView>> {
  const jobs = await listJobs(db, workspaceId, 'restore', page);
  const ids = jobs.data.map((j) => j.id);
  const rows = await selectRestoreJobs(db, workspaceId, ids);
  const skips = await selectSkips(db, workspaceId, ids, skipsShown.inList);
  return {
    data: jobs.data.flatMap((j) => {
      const row = rows.get(j.id);
      return row ? [presentJob(j, row, skips.get(j.id) ?? [], skipsShown.inList)] : [];
    }),
    nextCursor: jobs.nextCursor,
  };
}

/** Why a candidate cannot be restored from `source`, or null if it can. */
function skipReason(c: Candidate, source: RestoreSource, now: Date, freezeDays: number): string | null {
  if (c.status === null) return c.tombstone ? 'purged' : 'not_found';
  if (c.status === 'merged') return 'merged';
  if (c.status !== source) return source === 'deleted' ? 'not_deleted' : 'not_archived';
  if (source === 'archived' && c.archived_at && now.getTime() - c.archived_at.getTime() < freezeDays * dayMs) return 'frozen';
  if (c.taken_by) return 'email_taken';
  return null;
}

type BatchOptions = { source: RestoreSource; ignoreFreeze: boolean; resumeAutomations: boolean };

/**
 * Restores a batch: classifies and reactivates the eligible contacts, whose associations
 * come back with them (those of deleted lists, accounts, deals and tags dropped), in the
 * caller's transaction. Two contacts of one batch sharing an email:
 * the first comes back, the second is skipped as email_taken.
 *
 * A contact created with one of the batch's emails after the batch looked (committed while
 * the batch waits on the unique email index) makes the batch's write fail; the batch is
 * then taken back to its savepoint and classified again, and now sees that contact: the
 * one it would have restored is skipped as email_taken instead of the job failing.
 */
async function restoreBatch(tx: Tx, change: ChangeContext, ids: string[], options: BatchOptions): Promise<{ restored: string[]; skipped: RestoreJobView['skipped'] }> {
  // A batch reads and writes a few thousand contacts by key: with the default cost of a
  // random read, the planner scans the whole workspace instead once it has ~100,000
  // contacts (50 ms a statement, where the index lookups take 6).
  await sql`SET LOCAL random_page_cost = 1.1`.execute(tx);
  for (let attempt = 1; ; attempt += 1) {
    const batchStart = await tx.savepoint('restore_batch').execute();
    try {
      const outcome = await classifyAndReactivate(tx, change, ids, options);
      await batchStart.releaseSavepoint('restore_batch').execute();
      return outcome;
    } catch (error) {
      if (!isEmailHeldViolation(error) || attempt === 3) throw error;
      await batchStart.rollbackToSavepoint('restore_batch').execute();
    }
  }
}

async function classifyAndReactivate(tx: Tx, change: ChangeContext, ids: string[], options: BatchOptions): Promise<{ restored: string[]; skipped: RestoreJobView['skipped'] }> {
  const ws = change.workspaceId;
  const { archiveFreezeDays } = await getRetention(tx, ws);
  const restored: string[] = [];
  const skipped: RestoreJobView['skipped'] = [];
  const claimedEmails = new Map<string, string>();
  for (const c of await candidates(tx, ws, ids)) {
    const reason = skipReason(c, options.source, change.at, options.ignoreFreeze ? 0 : archiveFreezeDays);
    const email = c.email?.toLowerCase() ?? '';
    if (reason === 'email_taken') skipped.push({ contactId: c.id, reason, takenBy: c.taken_by ?? undefined });
    else if (reason) skipped.push({ contactId: c.id, reason });
    else if (claimedEmails.has(email)) skipped.push({ contactId: c.id, reason: 'email_taken', takenBy: claimedEmails.get(email) });
    else {
      claimedEmails.set(email, c.id);
      restored.push(c.id);
    }
  }
  if (restored.length > 0) {
    await reactivateContacts(tx, ws, restored, change.at);
    await dropRowsOfDeletedParents(tx, ws, restored);
    // Seed 002: restoring triggers no automation; only an explicit request resumes them.
    if (options.resumeAutomations) await resumeEnrollments(tx, ws, restored, change.at);
    await recordAudit(
      tx,
      change,
      ...restored.map((id) => ({ action: 'contact.restored', targetType: 'contact', targetId: id, details: { source: options.source } })),
    );
  }
  return { restored, skipped };
}

export const restoreJobHandler: JobHandler = {
  kind: 'restore',
  origin: 'restore',
  cause: 'restore',
  async step(tx, job, change, ctx) {
    const ws = job.workspaceId;
    const row = await selectRestoreJob(tx, ws, job.id);
    if (!row) throw new Error(`restore job ${job.id} has no restore_jobs row`);
    if (!row.contacts_fixed) {
      // "Restore all matching": the contacts are fixed in this first step, as they were
      // when the job was requested (removed by then and still in the source).
      const requested = await fixMatchingContacts(tx, ws, job.id, row);
      await markContactsFixed(tx, ws, job.id, requested);
      const done = requested === 0;
      return { progress: {}, done, result: done ? { restored: 0, skipped: 0 } : undefined };
    }
    const batch = await jobContacts(tx, ws, job.id, row.next_position, row.batch_size ?? ctx.config.jobBatchSize ?? restoreBatchSize);
    const outcome = await restoreBatch(tx, change, batch, {
      source: row.source,
      ignoreFreeze: false,
      resumeAutomations: row.resume_automations,
    });
    await insertSkips(tx, ws, job.id, row.skipped, outcome.skipped);
    const next = await advanceRestoreJob(tx, ws, job.id, batch.length, outcome.restored.length, outcome.skipped.length);
    const done = next.next_position >= next.requested;
    if (done) await forgetJobContacts(tx, ws, job.id);
    return { progress: {}, done, result: done ? { restored: next.restored, skipped: next.skipped } : undefined };
  },
  async cleanUp(tx, job) {
    await forgetJobContacts(tx, job.workspaceId, job.id);
  },
  async finished(tx, job, change) {
    const row = await selectRestoreJob(tx, job.workspaceId, job.id);
    if (!row) return;
    const view = presentJob(job, row, [], 0);
    await notify(tx, change, 'restore_job.finished', {
      jobId: view.id,
      status: view.status,
      source: view.source,
      requested: view.requested,
      restored: view.restored,
      skipped: view.skippedCount,
      error: job.error,
      createdBy: view.createdBy,
      finishedAt: view.finishedAt,
    });
  },
};

/**
 * Restores any number of deleted or archived contacts of one source at once, in the
 * caller's transaction, a batch of restoreBatchSize at a time, with the associations they
 * kept; automations stay paused (seed 002). This is the system restoring (a held mass
 * delete undone, a form submission), not a person: seed 002's limit of 100 picked
 * contacts is the HTTP route's (requestRestore), and there is no job. With `ignoreFreeze`,
 * archived contacts come back whatever their freeze (seed 004).
 */
export async function restoreContactsNow(
  tx: Tx,
  change: ChangeContext,
  source: RestoreSource,
  ids: string[],
  options: { ignoreFreeze: boolean },
): Promise<{ restored: string[]; skipped: SkippedContact[] }> {
  const restored: string[] = [];
  const skipped: SkippedContact[] = [];
  // Batches of a restore job's size, as one job's steps would take them (db/keys.ts).
  for (let start = 0; start < ids.length; start += restoreBatchSize) {
    const batch = await restoreBatch(tx, change, ids.slice(start, start + restoreBatchSize), { source, ignoreFreeze: options.ignoreFreeze, resumeAutomations: false });
    restored.push(...batch.restored);
    skipped.push(...batch.skipped);
  }
  return { restored, skipped };
}

/**
 * Seed 004: a form submission from an archived contact restores it at once, freeze or
 * not, with its associations, inside the caller's transaction.
 */
export async function restoreArchivedContactNow(tx: Tx, change: ChangeContext, contactId: string): Promise<void> {
  await restoreContactsNow(tx, change, 'archived', [contactId], { ignoreFreeze: true });
}
