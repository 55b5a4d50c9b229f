import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { AppError, invalidState, notFound } from '../http/errors.js';
import { cursorTime, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { resumeEnrollments } from '../automations/enrollments.js';
import { contactColumns, getContact, isEmailHeldViolation, nameOrEmailMatches, presentContact, type Contact, type ContactRow } from '../contacts/service.js';
import { liveDealsWithIds, type Deal } from '../deals/service.js';
import { getRetention } from '../workspaces/service.js';
import { findJob, insertJob, listJobs, withOneActiveJob, type Job, type JobHandler } from '../jobs/service.js';
import { notify } from '../notifications/service.js';
import { candidates, dropRowsOfDeletedParents, keptAssociations, reactivate, type Candidate, type KeptAssociations } from './queries.js';

export type RestoreSource = 'deleted' | 'archived';

const dayMs = 86_400_000;

export interface BinQuery {
  q?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

/** The condition "in this source and matching the filter", over `contacts c`. */
function inSource(source: RestoreSource, filter: { q?: string; from?: Date; to?: Date }) {
  const column = source === 'deleted' ? sql.ref('c.deleted_at') : sql.ref('c.archived_at');
  return sql`c.status = ${source} AND ${nameOrEmailMatches(filter.q)}
    AND (${filter.from ?? null}::timestamptz IS NULL OR ${column} >= ${filter.from ?? null})
    AND (${filter.to ?? null}::timestamptz IS NULL OR ${column} <= ${filter.to ?? null})`;
}

/** Deleted or archived contacts, most recently removed first. */
async function listRemoved(db: Db, workspaceId: string, source: RestoreSource, query: BinQuery): Promise<Page<Contact & { at: string }>> {
  const after = decodeCursor(query.cursor, ['timestamp', 'text']);
  const column = source === 'deleted' ? 'c.deleted_at' : 'c.archived_at';
  const { rows } = await sql<ContactRow & { removed_key: string; removed_at: Date }>`
    SELECT ${contactColumns}, ${sql.ref(column)} AS removed_at, ${cursorTime(column)} AS removed_key FROM contacts c
    WHERE c.workspace_id = ${workspaceId} AND ${inSource(source, query)}
      AND (${after?.[0] ?? null}::timestamptz IS NULL OR (${sql.ref(column)}, c.id) < (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text))
    ORDER BY ${sql.ref(column)} DESC, c.id DESC
    LIMIT ${query.limit + 1}`.execute(db);
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

export interface RestoreJobView {
  id: string;
  source: RestoreSource;
  status: Job['status'];
  requested: number;
  restored: number;
  skipped: { contactId: string; reason: string; takenBy?: string }[];
  resumeAutomations: boolean;
  createdBy: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error?: string;
}

/** The job's contacts are rows of restore_job_contacts, by position; params hold their count. */
interface RestoreParams {
  source: RestoreSource;
  requested: number;
  resumeAutomations: boolean;
  /** Contacts per transaction; restoreBatchSize unless set (tests use small batches). */
  batchSize?: number;
}

interface RestoreProgress {
  offset: number;
  restored: number;
  skipped: RestoreJobView['skipped'];
}

export const restoreBatchSize = 5000;

/** Seed 002: up to 100 picked contacts at a time; "restore all" has no limit. */
export const maxPickedContacts = 100;

function presentJob(job: Job): RestoreJobView {
  const params = job.params as unknown as RestoreParams;
  const progress = job.progress as unknown as Partial<RestoreProgress>;
  return {
    id: job.id,
    source: params.source,
    status: job.status,
    requested: params.requested,
    restored: progress.restored ?? 0,
    skipped: progress.skipped ?? [],
    resumeAutomations: params.resumeAutomations,
    createdBy: job.createdBy,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    ...(job.error ? { error: job.error } : {}),
  };
}

/**
 * Queues a restore job (seed 002: one at a time per workspace, admins only). The set of
 * contacts is fixed now; with `all`, every contact of the source matching the filter.
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
  const job = await withOneActiveJob(ctx.db, ws, () =>
    inTransaction(ctx.db, change, async (tx) => {
      const params: RestoreParams = { source: input.source, requested: 0, resumeAutomations: input.resumeAutomations ?? false };
      const progress: RestoreProgress = { offset: 0, restored: 0, skipped: [] };
      const queued = await insertJob(tx, change, { kind: 'restore', status: 'queued', params: { ...params }, progress: { ...progress } });
      const requested = await fixContacts(tx, ws, queued.id, input);
      await checkContactLimit(tx, ws, input.source, queued.id, input.confirmOverage ?? false, change.at);
      const { rows } = await sql<{ params: RestoreParams }>`
        UPDATE jobs SET params = jsonb_set(params, '{requested}', to_jsonb(${requested}::int))
        WHERE workspace_id = ${ws} AND id = ${queued.id} RETURNING params`.execute(tx);
      await recordAudit(tx, change, {
        action: 'restore_job.created',
        targetType: 'restore_job',
        targetId: queued.id,
        details: { source: input.source, requested, all: input.all ?? false, resumeAutomations: params.resumeAutomations },
      });
      return { ...queued, params: { ...rows[0].params } };
    }),
  );
  ctx.kickJobs();
  return presentJob(job);
}

/**
 * Writes down the job's contacts, in the order it restores them: the picked ones as
 * given (once each), or every contact of the source matching the filter, by id. Returns
 * how many.
 */
async function fixContacts(tx: Tx, workspaceId: string, jobId: string, input: RestoreRequest): Promise<number> {
  const source = input.contactIds
    ? sql`SELECT id, min(n) AS n FROM unnest(${input.contactIds}::text[]) WITH ORDINALITY AS i(id, n) GROUP BY id`
    : sql`SELECT c.id, 0 AS n FROM contacts c WHERE c.workspace_id = ${workspaceId} AND ${inSource(input.source, {
        q: input.filter?.q,
        from: input.filter?.from ? new Date(input.filter.from) : undefined,
        to: input.filter?.to ? new Date(input.filter.to) : undefined,
      })}`;
  const result = await sql`
    INSERT INTO restore_job_contacts (workspace_id, job_id, position, contact_id)
    SELECT ${workspaceId}, ${jobId}, (row_number() OVER (ORDER BY picked.n, picked.id) - 1)::int, picked.id
    FROM (${source}) picked`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Seed 004: restoring counts against the active limit at once; going over needs
 * confirmation. Archived contacts still in their freeze will be skipped, so they do not count.
 */
async function checkContactLimit(tx: Tx, workspaceId: string, source: RestoreSource, jobId: string, confirmed: boolean, now: Date): Promise<void> {
  const { activeContactLimit, archiveFreezeDays } = await getRetention(tx, workspaceId);
  if (activeContactLimit === null || confirmed) return;
  const frozenSince = new Date(now.getTime() - archiveFreezeDays * dayMs);
  const { rows } = await sql<{ active: number; restorable: number }>`
    SELECT (SELECT count(*)::int FROM contacts WHERE workspace_id = ${workspaceId} AND status = 'active') AS active,
           (SELECT count(*)::int FROM restore_job_contacts r
            JOIN contacts c ON c.workspace_id = r.workspace_id AND c.id = r.contact_id
            WHERE r.workspace_id = ${workspaceId} AND r.job_id = ${jobId} AND c.status = ${source}
              AND (c.status <> 'archived' OR c.archived_at <= ${frozenSince})) AS restorable`.execute(tx);
  const { active, restorable } = rows[0];
  // A restore that would bring nobody back (all skipped) takes nothing over the limit.
  if (restorable > 0 && active + restorable > activeContactLimit) {
    throw new AppError(409, 'contact_limit_exceeded', 'Restoring these contacts would take the workspace over its active contact limit; confirm the overage to go ahead', {
      active,
      limit: activeContactLimit,
      wouldBe: active + restorable,
    });
  }
}

/** The job's contacts from position `offset` on, at most `limit` of them. */
async function jobContacts(tx: Tx, workspaceId: string, jobId: string, offset: number, limit: number): Promise<string[]> {
  const { rows } = await sql<{ contact_id: string }>`
    SELECT contact_id FROM restore_job_contacts
    WHERE workspace_id = ${workspaceId} AND job_id = ${jobId} AND position >= ${offset}
    ORDER BY position LIMIT ${limit}`.execute(tx);
  return rows.map((r) => r.contact_id);
}

async function forgetJobContacts(tx: Tx, workspaceId: string, jobId: string): Promise<void> {
  await sql`DELETE FROM restore_job_contacts WHERE workspace_id = ${workspaceId} AND job_id = ${jobId}`.execute(tx);
}

export async function getRestoreJob(db: Db, workspaceId: string, jobId: string): Promise<RestoreJobView> {
  const job = await findJob(db, workspaceId, jobId);
  if (!job || job.kind !== 'restore') throw notFound('Restore job');
  return presentJob(job);
}

export async function listRestoreJobs(db: Db, workspaceId: string, page: { limit: number; cursor?: string }): Promise<Page<RestoreJobView>> {
  const jobs = await listJobs(db, workspaceId, 'restore', page);
  return { data: jobs.data.map(presentJob), nextCursor: jobs.nextCursor };
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
    await sql`SAVEPOINT restore_batch`.execute(tx);
    try {
      const outcome = await classifyAndReactivate(tx, change, ids, options);
      await sql`RELEASE SAVEPOINT restore_batch`.execute(tx);
      return outcome;
    } catch (error) {
      if (!isEmailHeldViolation(error) || attempt === 3) throw error;
      await sql`ROLLBACK TO SAVEPOINT restore_batch`.execute(tx);
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
    await reactivate(tx, ws, restored, change.at);
    await dropRowsOfDeletedParents(tx, ws, restored);
    // Seed 002: restoring triggers no automation; only an explicit request resumes them.
    if (options.resumeAutomations) await resumeEnrollments(tx, ws, restored);
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
  async step(tx, job, change) {
    const params = job.params as unknown as RestoreParams;
    const progress = job.progress as unknown as RestoreProgress;
    const batch = await jobContacts(tx, job.workspaceId, job.id, progress.offset, params.batchSize ?? restoreBatchSize);
    const outcome = await restoreBatch(tx, change, batch, {
      source: params.source,
      ignoreFreeze: false,
      resumeAutomations: params.resumeAutomations,
    });
    const next: RestoreProgress = {
      offset: progress.offset + batch.length,
      restored: progress.restored + outcome.restored.length,
      skipped: [...progress.skipped, ...outcome.skipped],
    };
    const done = next.offset >= params.requested;
    if (done) await forgetJobContacts(tx, job.workspaceId, job.id);
    return { progress: { ...next }, done, result: done ? { restored: next.restored, skipped: next.skipped.length } : undefined };
  },
  async cleanUp(tx, job) {
    await forgetJobContacts(tx, job.workspaceId, job.id);
  },
  async finished(tx, job, change) {
    const view = presentJob(job);
    await notify(tx, change, 'restore_job.finished', {
      jobId: view.id,
      status: view.status,
      source: view.source,
      requested: view.requested,
      restored: view.restored,
      skipped: view.skipped.length,
      error: job.error,
      createdBy: view.createdBy,
      finishedAt: view.finishedAt,
    });
  },
};

/**
 * Seed 004: a form submission from an archived contact restores it at once, freeze or
 * not, with its associations, inside the caller's transaction.
 */
export async function restoreArchivedContactNow(tx: Tx, change: ChangeContext, contactId: string): Promise<void> {
  await restoreBatch(tx, change, [contactId], { source: 'archived', ignoreFreeze: true, resumeAutomations: false });
}
