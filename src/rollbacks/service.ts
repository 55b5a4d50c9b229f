import type { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { AppContext } from '../context.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { applyChangeContext, currentTxid, inTransaction } from '../db/database.js';
import { batchOf, byKeys, inDistributedMode } from '../db/keys.js';
import { AppError, invalidState, notFound } from '../http/errors.js';
import type { Page, PageRequest } from '../http/pagination.js';
import { recordAudit } from '../audit/service.js';
import { assertRecoverable } from '../snapshots/service.js';
import { findJob, insertJob, listJobs, queueJob, rejectAwaitingJob, withOneActiveJob, type Job, type JobHandler } from '../jobs/service.js';
import { planChunks, planRollback, planRollbackChunk, projectDealMends, samplePlan, summarizePlan, type DealMends, type PlanSource, type RollbackCounts, type RollbackScope, type SampleRecord, type SkippedContact } from './plan.js';
import { applyContacts, applyParents, mendDealsOfRolledBackContacts, releaseEmails } from './apply.js';
import { recordPlanSkips, selectRollbackSkips, type ChangedRow, type RollbackSkip } from './skips.js';
import { notify } from '../notifications/service.js';
import {
  firstCheckpoint,
  insertRollbackJob,
  saveCheckpoint,
  selectRollbackJob,
  selectRollbackJobs,
  selectUndosOf,
  type RollbackCheckpoint,
  type RollbackJob,
  type RollbackSettings,
} from './rollback-jobs.js';
import { personBehind } from '../users/service.js';
import { tokenStillWorks } from '../http/auth.js';
import type { rollbackSchema } from './routes.js';

/** Contacts written per batch (with all their association rows): one transaction each. */
export const rollbackBatchSize = 2000;
const sampleSize = 20;
const reportedSkips = 1000;

export type { RollbackJob, RollbackSettings } from './rollback-jobs.js';
// An undo by cause is written back as a rollback, with a rollback_jobs row of its own.
export { firstCheckpoint, insertRollbackJob, selectRollbackJob, selectRollbackJobs } from './rollback-jobs.js';

/** A rollback as GET /rollbacks/:id answers it (routes.ts rollbackSchema). */
export type RollbackView = z.output<typeof rollbackSchema>;

export function presentRollback(job: Job, { settings, checkpoint }: RollbackJob, undoneBy: string | null): RollbackView {
  return {
    id: job.id,
    at: settings.at,
    scope: settings.scope,
    status: job.status,
    resumeAutomations: settings.resumeAutomations,
    undoOf: settings.undoOf ?? null,
    undoneBy,
    phase: checkpoint.phase,
    counts: checkpoint.counts,
    skipped: checkpoint.skipped,
    progress: { contactsDone: checkpoint.contactsDone, contactsTotal: checkpoint.contactsTotal },
    error: job.error,
    requestedBy: job.createdBy,
    approvedBy: job.approvedBy,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

export interface RollbackRequest {
  at: string;
  scope: RollbackScope;
  resumeAutomations?: boolean;
}

export interface RollbackPreview {
  at: string;
  scope: RollbackScope;
  counts: RollbackCounts;
  sample: SampleRecord[];
  skipped: SkippedContact[];
}

/**
 * What a rollback to `at` would do, computed by the very plan the rollback runs, in a
 * transaction that is then rolled back: the preview changes nothing and shows exactly
 * what the rollback would do now.
 */
export async function previewRollback(ctx: AppContext, change: ChangeContext, input: RollbackRequest): Promise<RollbackPreview> {
  const at = new Date(input.at);
  await assertRecoverable(ctx.db, change.workspaceId, at, change.at);
  return previewPlan(ctx, change, input.scope, { kind: 'asOf', at }, at);
}

/**
 * Makes the plan of `source` in a transaction that is then rolled back, and reads from it
 * what `read` reads: a preview changes nothing and shows exactly what the job would do
 * now. The plan goes to temporary tables of the same shape, which the unqualified names
 * resolve to first in the transaction: the same code, without logging rows thrown away
 * (on one server; on Citus, below, the tables themselves).
 */
export async function withPlanPreview<R>(
  ctx: AppContext,
  change: ChangeContext,
  scope: RollbackScope,
  source: PlanSource,
  read: (tx: Tx, id: string) => Promise<R>,
): Promise<R> {
  const tx = await ctx.db.startTransaction().execute();
  try {
    await applyChangeContext(tx, change);
    const id = `preview-${randomUUID()}`;
    // On Citus the plan stays in the distributed tables, rolled back all the same: a
    // statement there cannot join a local table to the workspace's shards.
    if (!inDistributedMode()) {
      await sql`CREATE TEMP TABLE rollback_targets (LIKE rollback_targets INCLUDING DEFAULTS) ON COMMIT DROP`.execute(tx);
      if (source.kind === 'cause') await sql`CREATE TEMP TABLE undo_conflicts (LIKE undo_conflicts INCLUDING DEFAULTS) ON COMMIT DROP`.execute(tx);
    }
    await planRollback(tx, change.workspaceId, id, scope, source, { kind: 'preview', sampleSize });
    return await read(tx, id);
  } finally {
    await tx.rollback().execute();
  }
}

/** The plan of `source` made and summed up in a transaction that is rolled back. */
async function previewPlan(ctx: AppContext, change: ChangeContext, scope: RollbackScope, source: PlanSource, at: Date): Promise<RollbackPreview> {
  return withPlanPreview(ctx, change, scope, source, async (tx, id) => {
    const { counts, skipped } = await summarizePlan(tx, change.workspaceId, id, reportedSkips);
    const sample = await samplePlan(tx, change.workspaceId, id, sampleSize);
    const figures = scope.type === 'contacts' && source.kind === 'asOf' ? withDealMends(counts, await projectDealMends(tx, change.workspaceId, id)) : counts;
    return { at: at.toISOString(), scope, counts: figures, sample, skipped };
  });
}

/** The plan's counts with the deals a partial rollback mends: given a new primary (changed) or deleted with no active contact left (removed). */
function withDealMends(counts: RollbackCounts, mended: DealMends): RollbackCounts {
  const planned = counts.deals;
  return { ...counts, deals: { add: planned.add, change: planned.change + mended.repointed, remove: planned.remove + mended.deleted } };
}

/**
 * A partial rollback (contacts scope) is queued at once; a full one (workspace scope)
 * waits for a second admin's approval.
 */
export async function requestRollback(ctx: AppContext, change: ChangeContext, input: RollbackRequest): Promise<RollbackView> {
  const at = new Date(input.at);
  await assertRecoverable(ctx.db, change.workspaceId, at, change.at);
  const settings: RollbackSettings = { at: at.toISOString(), scope: input.scope, resumeAutomations: input.resumeAutomations ?? false };
  return createRollback(ctx, change, settings, 'rollback.requested');
}

/** Where a rollback's images come from: history as of its point, or, for an undo, the writes of the rollback it undoes. */
function planSourceOf(params: RollbackSettings, now: Date): PlanSource {
  if (params.cause) return { kind: 'cause', ...params.cause, at: now };
  // An undo's `at` is when the rollback it undoes started: its writes are all later.
  return params.undoOf ? { kind: 'undo', txids: params.undoTxids ?? [], since: new Date(params.at) } : { kind: 'asOf', at: new Date(params.at) };
}

async function createRollback(ctx: AppContext, change: ChangeContext, params: RollbackSettings, action: string): Promise<RollbackView> {
  const status = params.scope.type === 'workspace' ? 'awaiting_approval' : 'queued';
  // What the approver is asked to approve: the counts and skips of its preview now, until
  // its own plan (made when it runs) replaces them. The request waits for that preview.
  const previewed = status === 'awaiting_approval' ? await previewPlan(ctx, change, params.scope, planSourceOf(params, change.at), new Date(params.at)) : null;
  const checkpoint: RollbackCheckpoint = previewed ? { ...firstCheckpoint, counts: previewed.counts, skipped: previewed.skipped } : firstCheckpoint;
  const job = await withOneActiveJob(ctx.db, change.workspaceId, () =>
    inTransaction(ctx.db, change, async (tx) => {
      const created = await insertJob(tx, change, { kind: 'rollback', status, params: {} });
      await insertRollbackJob(tx, change.workspaceId, created.id, params, checkpoint);
      if (status === 'awaiting_approval') {
        const view = presentRollback(created, { settings: params, checkpoint }, null);
        await notify(tx, change, 'rollback.awaiting_approval', {
          rollbackId: view.id,
          at: view.at,
          scope: view.scope.type,
          undoOf: view.undoOf,
          counts: view.counts,
          skipped: view.skipped.length,
          requestedBy: view.requestedBy,
        });
      }
      await recordAudit(tx, change, {
        action,
        targetType: 'rollback',
        targetId: created.id,
        details: { at: params.at, scope: params.scope.type, contacts: params.scope.type === 'contacts' ? params.scope.contactIds.length : null, undoOf: params.undoOf ?? null },
      });
      return created;
    }),
  );
  if (status === 'queued') ctx.kickJobs();
  // As written: a rollback just made has its row in hand and no undo yet.
  return presentRollback(job, { settings: params, checkpoint }, null);
}

async function present(db: Db | Tx, job: Job): Promise<RollbackView> {
  return presentRollback(job, await selectRollbackJob(db, job.workspaceId, job.id), (await selectUndosOf(db, job.workspaceId, [job.id])).get(job.id) ?? null);
}

async function findRollback(db: Db | Tx, workspaceId: string, id: string): Promise<Job> {
  const job = await findJob(db, workspaceId, id);
  if (!job || job.kind !== 'rollback') throw notFound('Rollback');
  return job;
}

/**
 * Four eyes: a full rollback runs only once a different person with rollbacks.approve
 * says so (issue 19 point 3). Refused with 403 four_eyes_required: the requester, any
 * token of theirs or created by them (an integration's token is its creator's), and an
 * approver created after the request was made (a user, or an integration's token), who
 * could have been made for the purpose. A rollback whose requesting token was revoked
 * since (or its user deactivated) cannot be approved: 409 invalid_state.
 */
export async function approveRollback(ctx: AppContext, change: ChangeContext, id: string): Promise<RollbackView> {
  const job = await findRollback(ctx.db, change.workspaceId, id);
  if (job.createdBy !== null && job.createdBy === change.actorId) throw fourEyesRequired(job, 'same_person');
  if (job.status !== 'awaiting_approval') throw invalidState(`This rollback is ${job.status}, not awaiting approval`, { status: job.status });
  await assertFourEyes(ctx.db, change, job);
  const { settings } = await selectRollbackJob(ctx.db, change.workspaceId, id);
  await assertRecoverable(ctx.db, change.workspaceId, new Date(settings.at), change.at);
  await withOneActiveJob(ctx.db, change.workspaceId, () =>
    inTransaction(ctx.db, change, async (tx) => {
      await queueJob(tx, change.workspaceId, id, change.actorId);
      await recordAudit(tx, change, { action: 'rollback.approved', targetType: 'rollback', targetId: id, details: { requestedBy: job.createdBy } });
    }),
  );
  // As approved (queued): read before the worker is woken, which may start it at once.
  const approved = await present(ctx.db, await findRollback(ctx.db, change.workspaceId, id));
  ctx.kickJobs();
  return approved;
}

const fourEyesRequired = (job: Job, reason: 'same_person' | 'approver_newer_than_request') =>
  new AppError(
    403,
    'four_eyes_required',
    reason === 'same_person'
      ? 'A full rollback must be approved by a different person than the one who requested it'
      : 'A full rollback must be approved by someone who could approve when it was requested, not by a user or token made since',
    { requestedBy: job.createdBy, reason },
  );

async function assertFourEyes(db: Db, change: ChangeContext, job: Job): Promise<void> {
  if (job.createdBy === null || change.actorId === null) return;
  const [requester, approver] = await Promise.all([personBehind(db, change.workspaceId, job.createdBy), personBehind(db, change.workspaceId, change.actorId)]);
  if (requester.personId === approver.personId) throw fourEyesRequired(job, 'same_person');
  if (approver.since !== null && approver.since > job.createdAt) throw fourEyesRequired(job, 'approver_newer_than_request');
  if (job.tokenId !== null && !(await tokenStillWorks(db, change.workspaceId, job.tokenId))) {
    throw invalidState('The token that requested this rollback was revoked (or its user deactivated): it cannot be approved; reject it', { requestedBy: job.createdBy });
  }
}

/**
 * A full rollback that should not run: an approver (the requester too, withdrawing it)
 * ends it as failed, with who rejected it; it can then be neither approved nor undone.
 */
export async function rejectRollback(ctx: AppContext, change: ChangeContext, id: string): Promise<RollbackView> {
  await findRollback(ctx.db, change.workspaceId, id);
  await inTransaction(ctx.db, change, async (tx) => {
    const rejected = await rejectAwaitingJob(tx, change.workspaceId, id, `rejected by ${change.actorId ?? 'the operator'}`, change.at);
    if (!rejected) {
      const job = await findRollback(tx, change.workspaceId, id);
      throw invalidState(`This rollback is ${job.status}, not awaiting approval`, { status: job.status });
    }
    await notifyRollbackFinished(tx, await findRollback(tx, change.workspaceId, id), change);
    await recordAudit(tx, change, { action: 'rollback.rejected', targetType: 'rollback', targetId: id });
  });
  return present(ctx.db, await findRollback(ctx.db, change.workspaceId, id));
}

/**
 * A new rollback that puts every row the given one wrote back as it was just before it
 * wrote it. Needs the same approval as the original when it was a full one.
 */
export async function undoRollback(ctx: AppContext, change: ChangeContext, id: string): Promise<RollbackView> {
  const job = await findRollback(ctx.db, change.workspaceId, id);
  const { settings, checkpoint } = await selectRollbackJob(ctx.db, change.workspaceId, id);
  const txids = checkpoint.txids;
  if (job.status !== 'succeeded' && !(job.status === 'failed' && txids.length > 0)) {
    throw invalidState(`Only a rollback that ran can be undone; this one is ${job.status}`, { status: job.status });
  }
  const undoneBy = (await selectUndosOf(ctx.db, change.workspaceId, [id])).get(id);
  if (undoneBy) throw invalidState('This rollback has already been undone', { undoneBy });
  // The undo reads the rollback's own history entries: compaction keeps them only while
  // the rollback is inside the recoverable window.
  const startedAt = job.startedAt ?? job.createdAt;
  await assertRecoverable(ctx.db, change.workspaceId, startedAt, change.at);
  return createRollback(
    ctx,
    change,
    { at: startedAt.toISOString(), scope: settings.scope, resumeAutomations: false, undoOf: id, undoTxids: txids },
    'rollback.undo_requested',
  );
}

/**
 * What a rollback or an undo by cause left alone, in the order met: the plan's skips, then
 * the rows changed after the plan (changed_since_plan, with who and when), a page at a time.
 */
export async function listJobSkips(db: Db, workspaceId: string, id: string, kind: 'rollback' | 'undo', page: PageRequest): Promise<Page<RollbackSkip>> {
  const job = await findJob(db, workspaceId, id);
  if (!job || job.kind !== kind) throw notFound(kind === 'undo' ? 'Undo' : 'Rollback');
  return selectRollbackSkips(db, workspaceId, id, page);
}

export async function getRollback(db: Db, workspaceId: string, id: string): Promise<RollbackView> {
  return present(db, await findRollback(db, workspaceId, id));
}

export async function listRollbacks(db: Db, workspaceId: string, page: { limit: number; cursor?: string }): Promise<Page<RollbackView>> {
  const jobs = await listJobs(db, workspaceId, 'rollback', page);
  const ids = jobs.data.map((j) => j.id);
  const [rows, undos] = await Promise.all([selectRollbackJobs(db, workspaceId, ids), selectUndosOf(db, workspaceId, ids)]);
  return { data: jobs.data.map((j) => presentRollback(j, rowOf(rows, j), undos.get(j.id) ?? null)), nextCursor: jobs.nextCursor };
}

/** A listed job's rollback_jobs row (every rollback and undo job has one). */
export function rowOf(rows: Map<string, RollbackJob>, job: Job): RollbackJob {
  const row = rows.get(job.id);
  if (!row) throw new Error(`${job.kind} job ${job.id} has no rollback_jobs row`);
  return row;
}

/** Contacts gone for good (purged, erased): no unfinished rollback's plan, nor its skips, names them, so none writes them back. */
export async function forgetRollbackPlansOf(tx: Tx, workspaceId: string, contactIds: string[]): Promise<void> {
  await byKeys(tx, sql`DELETE FROM rollback_targets t USING ${batchOf(workspaceId, contactIds)} WHERE t.workspace_id = k.workspace_id AND t.contact_id = k.key`);
  await byKeys(tx, sql`DELETE FROM rollback_skips t USING ${batchOf(workspaceId, contactIds)} WHERE t.workspace_id = k.workspace_id AND t.contact_id = k.key`);
}

/** A rollback's (or undo's) plan, once it is done or given up. */
export async function forgetRollbackTargets(tx: Tx, workspaceId: string, rollbackId: string): Promise<void> {
  await tx.deleteFrom('rollback_targets').where('workspace_id', '=', workspaceId).where('rollback_id', '=', rollbackId).execute();
}

async function countPlannedContacts(tx: Tx, workspaceId: string, id: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(DISTINCT contact_id)::int AS n FROM rollback_targets
    WHERE workspace_id = ${workspaceId} AND rollback_id = ${id} AND skip_reason IS NULL AND contact_id IS NOT NULL`.execute(tx);
  return rows[0].n;
}

/** How many steps a rollback's plan takes (an undo by cause's: one). */
export const rollbackPlanSteps = planChunks.length;

/**
 * Runs a rollback in durable steps, each one transaction with its checkpoint: plan (a
 * chunk a step), then
 * lists/accounts/deals/tags, then contacts giving up emails, then contacts with their
 * associations batch by batch. A stopped job resumes at its checkpoint; a step never
 * half-happens.
 */
export const rollbackJobHandler: JobHandler = {
  kind: 'rollback',
  origin: 'rollback',
  cause: 'rollback',
  step: (tx, job, change, ctx) => stepRollback(tx, job, change, ctx.config.jobBatchSize),
  async cleanUp(tx, job) {
    await forgetRollbackTargets(tx, job.workspaceId, job.id);
  },
  finished: notifyRollbackFinished,
};

/**
 * One durable step of a rollback, or of an undo by cause (src/undo), which is written back
 * the same way: its plan, then lists and the like, then contacts giving up emails, then
 * contacts with their associations, a batch at a time.
 */
export async function stepRollback(tx: Tx, job: Job, change: ChangeContext, defaultBatchSize?: number): Promise<{ progress: Record<string, unknown>; done: boolean; result?: Record<string, unknown> }> {
  const { settings: params, checkpoint: progress } = await selectRollbackJob(tx, job.workspaceId, job.id);
  const next = await nextCheckpoint(tx, job, change, params, progress, defaultBatchSize);
  await saveCheckpoint(tx, job.workspaceId, job.id, next);
  return next.phase === 'done' ? { progress: {}, done: true, result: { counts: next.counts } } : { progress: {}, done: false };
}

/** Does the rollback's next step from `progress`, and gives the checkpoint it reached. */
async function nextCheckpoint(tx: Tx, job: Job, change: ChangeContext, params: RollbackSettings, progress: RollbackCheckpoint, defaultBatchSize?: number): Promise<RollbackCheckpoint> {
  const ws = change.workspaceId;
  const batchSize = params.batchSize ?? defaultBatchSize ?? rollbackBatchSize;
  const wrote = async () => ({ ...progress, txids: [...progress.txids, await currentTxid(tx)] });
  // Rows changed after the plan are left alone: counted and shown with the plan's skips.
  const keptLater = (changed: ChangedRow[], base: RollbackCheckpoint): RollbackCheckpoint => {
    if (changed.length === 0 || !base.counts) return base;
    const contacts = [...new Set(changed.flatMap((c) => (c.contactId ? [c.contactId] : [])))];
    const skipped = { ...base.counts.skipped, contacts: base.counts.skipped.contacts + contacts.length, changedSincePlan: (base.counts.skipped.changedSincePlan ?? 0) + changed.length };
    const shown = contacts.map((contactId) => ({ contactId, reason: 'changed_since_plan' }));
    return { ...base, counts: { ...base.counts, skipped }, skipped: [...base.skipped, ...shown].slice(0, reportedSkips) };
  };
  // A batch step reads the plan's rows of its batch by key (thousands of ids at a time)
  // and writes rows by key: with the plan's fresh statistics the planner would still
  // rather read the whole plan once per statement (a parallel scan of 130,000 rows, 30-60
  // ms, eight times a batch at 100,000 contacts) than look 2,000 keys up. The step's
  // statements are all lookups by key: scans are off for its transaction.
  if (progress.phase !== 'plan') await sql`SELECT set_config('enable_seqscan', 'off', true)`.execute(tx);
  let next: RollbackCheckpoint;
  switch (progress.phase) {
    case 'plan': {
      const source = planSourceOf(params, change.at);
      // A plan to a point (or an undo of a rollback) is made a chunk a step, each chunk
      // committed with the chunks done so far: a job stopped while planning goes on from
      // the next chunk. An undo by cause plans in one step.
      if (source.kind === 'cause') {
        await planRollback(tx, ws, job.id, params.scope, source);
      } else {
        const chunk = planChunks.find((c) => !progress.planned.includes(c)) ?? 'skips';
        await planRollbackChunk(tx, ws, job.id, params.scope, source, chunk);
        if (chunk !== 'skips') {
          next = { ...progress, planned: [...progress.planned, chunk] };
          break;
        }
      }
      await recordPlanSkips(tx, ws, job.id);
      const { counts: planCounts, skipped } = await summarizePlan(tx, ws, job.id, reportedSkips);
      // As the preview shows them: with the deals it will mend (an undo's own deal rows
      // are written back first, so its mends are known only at its end).
      const counts = params.scope.type === 'contacts' && !params.undoOf ? withDealMends(planCounts, await projectDealMends(tx, ws, job.id)) : planCounts;
      next = { ...progress, phase: 'parents', planned: [...planChunks], counts, planCounts, skipped, contactsTotal: await countPlannedContacts(tx, ws, job.id) };
      break;
    }
    case 'parents': {
      const changed = await applyParents(tx, change, job.id);
      next = keptLater(changed, { ...(await wrote()), phase: 'release', lastDoneId: '' });
      break;
    }
    case 'release': {
      const { ids, finished, changed } = await releaseEmails(tx, change, job.id, progress.lastDoneId, batchSize);
      next =
        ids.length === 0
          ? { ...progress, phase: 'contacts', lastDoneId: '' }
          : keptLater(changed, { ...(await wrote()), lastDoneId: ids[ids.length - 1], contactsDone: progress.contactsDone + finished });
      break;
    }
    case 'contacts': {
      const { ids, changed } = await applyContacts(tx, change, job.id, progress.lastDoneId, batchSize, params.resumeAutomations);
      if (ids.length > 0) {
        next = keptLater(changed, { ...(await wrote()), lastDoneId: ids[ids.length - 1], contactsDone: progress.contactsDone + ids.length });
        break;
      }
      // A full rollback writes deals back as they were; a partial one, and an undo by
      // cause, mend those their contacts left, in this last transaction, which an undo
      // then puts back too.
      const mended = params.scope.type === 'contacts' || params.cause ? await mendDealsOfRolledBackContacts(tx, change, job.id) : null;
      const planned = progress.planCounts ?? progress.counts;
      const counts =
        mended && planned
          ? { ...withDealMends(planned, { deleted: mended.deleted.length, repointed: mended.repointed.length }), skipped: progress.counts?.skipped ?? planned.skipped }
          : progress.counts;
      await forgetRollbackTargets(tx, ws, job.id);
      await recordAudit(
        tx,
        change,
        ...(mended?.deleted ?? []).map((id) => ({
          action: 'deal.deleted',
          targetType: 'deal',
          targetId: id,
          details: job.kind === 'undo' ? { reason: 'last_contact_undone', undoId: job.id } : { reason: 'last_contact_rolled_back', rollbackId: job.id },
        })),
        job.kind === 'undo'
          ? { action: 'undo.completed', targetType: 'undo', targetId: job.id, details: { counts } }
          : { action: 'rollback.completed', targetType: 'rollback', targetId: job.id, details: { counts, undoOf: params.undoOf ?? null } },
      );
      return { ...(mended ? await wrote() : progress), counts, phase: 'done' };
    }
    default:
      throw new Error(`${job.kind} ${job.id} is in an unknown phase ${String(progress.phase)}`);
  }
  return next;
}

/** Tells admins a rollback ended: it ran (succeeded or failed), or it was rejected before it ran. */
async function notifyRollbackFinished(tx: Tx, job: Job, change: ChangeContext): Promise<void> {
  const view = presentRollback(job, await selectRollbackJob(tx, job.workspaceId, job.id), null);
  await notify(tx, change, 'rollback.finished', {
    rollbackId: view.id,
    status: view.status,
    at: view.at,
    scope: view.scope.type,
    undoOf: view.undoOf,
    counts: view.counts,
    skipped: view.skipped.length,
    error: view.error,
    requestedBy: view.requestedBy,
    approvedBy: view.approvedBy,
    finishedAt: view.finishedAt,
  });
}
