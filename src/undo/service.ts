import type { z } from 'zod';
import type { AppContext } from '../context.js';
import type { ChangeContext, Db, Tx } from '../db/database.js';
import { inTransaction } from '../db/database.js';
import { invalidState, notFound } from '../http/errors.js';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from '../http/pagination.js';
import { recordAudit, transactionOfEntry } from '../audit/service.js';
import { causeTransactions } from '../changes/service.js';
import { findJob, insertJob, listJobs, withOneActiveJob, type Job, type JobHandler } from '../jobs/service.js';
import { notify } from '../notifications/service.js';
import { assertRecoverable } from '../snapshots/service.js';
import { samplePlan, summarizePlan } from '../rollbacks/plan.js';
import { firstCheckpoint, forgetRollbackTargets, insertRollbackJob, presentRollback, rowOf, selectRollbackJob, selectRollbackJobs, stepRollback, withPlanPreview, type RollbackJob, type RollbackSettings } from '../rollbacks/service.js';
import { countConflicts, selectConflicts, type ConflictRow } from './queries.js';
import { undoParams } from './payloads.js';
import { readJobPayload } from '../jobs/payload.js';
import type { causeSchema, conflictSchema, previewSchema, undoSchema } from './routes.js';

/**
 * Undo by cause (issue 17): what one cause did — an import, an integration's token or a
 * user within a time range, an automation within one, a merge, an undo — reverted field by
 * field, keeping what everyone else changed since. It is planned and written back as a
 * rollback is (src/rollbacks: cause.ts plans it), as a durable job in the workspace's one
 * job slot, and its own writes are a cause of their own: an undo can be undone.
 */
export type UndoCause = z.output<typeof causeSchema>;

/** How an undo meets what others changed since: keeps their later values, or undoes anyway. */
export type OnConflict = UndoView['onConflict'];

export interface UndoRequest {
  cause: UndoCause;
  onConflict?: OnConflict;
}

/** A field the cause wrote that someone changed since (routes.ts conflictSchema). */
export type Conflict = z.output<typeof conflictSchema>;

/** Conflicts shown with an undo or its preview; the rest page from GET /undos/:id/conflicts. */
const conflictsShown = 500;
const sampleSize = 20;
const reportedSkips = 1000;

/** The transactions of a cause, and what it takes to undo them exactly. */
interface ResolvedCause {
  txids: string[];
  /** When the cause first wrote: history must still hold every change from then. */
  firstAt: Date | null;
  merge: boolean;
}

async function resolveCause(ctx: AppContext, workspaceId: string, cause: UndoCause, now: Date): Promise<ResolvedCause> {
  const of = async (filter: Parameters<typeof causeTransactions>[2], merge = false): Promise<ResolvedCause> => {
    const sets = await causeTransactions(ctx.db, workspaceId, filter);
    return { txids: sets.map((s) => s.txid), firstAt: sets[0]?.at ?? null, merge };
  };
  const always = { from: new Date(0), to: now };
  if ('importId' in cause) {
    const job = await findJob(ctx.db, workspaceId, cause.importId);
    if (job?.kind !== 'import') throw notFound('Import');
    return of({ ...always, causeKind: 'import', causeId: cause.importId });
  }
  if ('undoId' in cause) {
    const job = await findJob(ctx.db, workspaceId, cause.undoId);
    if (job?.kind !== 'undo') throw notFound('Undo');
    return of({ ...always, causeKind: 'undo', causeId: cause.undoId });
  }
  if ('mergeId' in cause) {
    const entry = await transactionOfEntry(ctx.db, workspaceId, cause.mergeId, 'contact.merged');
    if (!entry) throw notFound('Merge');
    if (entry.txid === null) throw invalidState('This merge was made before merges could be undone', { mergeId: cause.mergeId });
    return of({ from: entry.at, to: entry.at, causeKind: 'merge', txid: entry.txid }, true);
  }
  const range = { from: new Date(cause.from), to: new Date(cause.to) };
  if ('tokenId' in cause) return of({ ...range, tokenId: cause.tokenId });
  if ('actorId' in cause) return of({ ...range, actorId: cause.actorId, causeKind: 'user' });
  return of({ ...range, causeKind: 'automation', causeId: cause.automationId });
}

/** Refuses a cause whose first change is older than history holds whole. */
async function assertUndoable(ctx: AppContext, change: ChangeContext, resolved: ResolvedCause): Promise<void> {
  if (resolved.firstAt) await assertRecoverable(ctx.db, change.workspaceId, resolved.firstAt, change.at);
}

const planOf = (resolved: ResolvedCause, onConflict: OnConflict | undefined) => ({
  txids: resolved.txids,
  undoAnyway: onConflict === 'undo_anyway',
  merge: resolved.merge,
});

/** What POST /undos/preview answers (routes.ts previewSchema). */
export type UndoPreview = z.output<typeof previewSchema>;

/** What undoing the cause would do now, made by the plan the undo runs, changing nothing. */
export async function previewUndo(ctx: AppContext, change: ChangeContext, input: UndoRequest): Promise<UndoPreview> {
  const resolved = await resolveCause(ctx, change.workspaceId, input.cause, change.at);
  await assertUndoable(ctx, change, resolved);
  const source = { kind: 'cause' as const, ...planOf(resolved, input.onConflict), at: change.at };
  return withPlanPreview(ctx, change, { type: 'workspace' }, source, async (tx, id) => {
    const { counts, skipped } = await summarizePlan(tx, change.workspaceId, id, reportedSkips);
    return {
      cause: input.cause,
      onConflict: input.onConflict ?? 'keep_later',
      counts,
      conflicts: (await selectConflicts(tx, change.workspaceId, id, -1, conflictsShown)).map(presentConflict),
      conflictCount: await countConflicts(tx, change.workspaceId, id),
      sample: await samplePlan(tx, change.workspaceId, id, sampleSize),
      skipped,
    };
  });
}

/** What only an undo has (jobs.params): the cause it undoes, and how it meets later changes. The rest is a rollback's (rollback_jobs). */
interface UndoParams {
  undoCause: UndoCause;
  onConflict: OnConflict;
}

/** An undo as GET /undos/:id answers it (routes.ts undoSchema). */
export type UndoView = z.output<typeof undoSchema>;

/**
 * Queues the undo of a cause (one job at a time per workspace, with restores and
 * rollbacks: 409 restore_job_running). A cause that changed nothing is 409 invalid_state.
 */
export async function requestUndo(ctx: AppContext, change: ChangeContext, input: UndoRequest): Promise<UndoView> {
  const resolved = await resolveCause(ctx, change.workspaceId, input.cause, change.at);
  if (resolved.txids.length === 0) throw invalidState('That cause changed nothing that can be undone', { cause: input.cause });
  await assertUndoable(ctx, change, resolved);
  const onConflict = input.onConflict ?? 'keep_later';
  const params: UndoParams = { undoCause: input.cause, onConflict };
  const settings: RollbackSettings = {
    at: (resolved.firstAt ?? change.at).toISOString(),
    scope: { type: 'workspace' },
    resumeAutomations: false,
    cause: planOf(resolved, onConflict),
  };
  const job = await withOneActiveJob(ctx.db, change.workspaceId, () =>
    inTransaction(ctx.db, change, async (tx) => {
      const queued = await insertJob(tx, change, { kind: 'undo', status: 'queued', params: { ...params } });
      await insertRollbackJob(tx, change.workspaceId, queued.id, settings, firstCheckpoint);
      await recordAudit(tx, change, { action: 'undo.requested', targetType: 'undo', targetId: queued.id, details: { cause: input.cause, onConflict } });
      return queued;
    }),
  );
  ctx.kickJobs();
  return presentUndo(job, await selectRollbackJob(ctx.db, change.workspaceId, job.id), [], 0);
}

function presentConflict(r: ConflictRow): Conflict {
  const contactField = r.table_name === 'contacts';
  return {
    contactId: r.contact_id,
    field: contactField ? camel(r.field) : r.field === '*' ? '*' : `${recordKind(r.table_name)}.${camel(r.field)}`,
    causeValue: r.cause_value,
    laterValue: r.later_value,
    laterBy: r.later_by,
    laterAt: r.later_at?.toISOString() ?? null,
    ...(contactField ? {} : { record: { kind: recordKind(r.table_name), key: r.row_key } }),
    overridden: r.overridden,
  };
}

const camel = (column: string) => column.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

const recordKinds: Record<string, string> = {
  list_memberships: 'listMemberships',
  account_contacts: 'accountLinks',
  deal_contacts: 'dealContacts',
  contact_tags: 'contactTags',
};
const recordKind = (table: string) => recordKinds[table] ?? table;

function presentUndo(job: Job, writtenBack: RollbackJob, conflicts: ConflictRow[], conflictCount: number): UndoView {
  const params = readJobPayload(undoParams, job, 'params');
  const run = presentRollback(job, writtenBack, null);
  return {
    id: job.id,
    cause: params.undoCause,
    onConflict: params.onConflict,
    status: job.status,
    phase: run.phase,
    counts: run.counts,
    conflicts: conflicts.map(presentConflict),
    conflictCount,
    skipped: run.skipped,
    progress: run.progress,
    error: run.error,
    createdBy: job.createdBy,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
  };
}

async function findUndo(db: Db | Tx, workspaceId: string, id: string): Promise<Job> {
  const job = await findJob(db, workspaceId, id);
  if (!job || job.kind !== 'undo') throw notFound('Undo');
  return job;
}

export async function getUndo(db: Db, workspaceId: string, id: string): Promise<UndoView> {
  const job = await findUndo(db, workspaceId, id);
  return presentUndo(job, await selectRollbackJob(db, workspaceId, id), await selectConflicts(db, workspaceId, id, -1, conflictsShown), await countConflicts(db, workspaceId, id));
}

export async function listUndos(db: Db, workspaceId: string, page: PageRequest): Promise<Page<UndoView>> {
  const jobs = await listJobs(db, workspaceId, 'undo', page);
  const rows = await selectRollbackJobs(db, workspaceId, jobs.data.map((j) => j.id));
  return { data: jobs.data.map((job) => presentUndo(job, rowOf(rows, job), [], 0)), nextCursor: jobs.nextCursor };
}

/** The conflicts an undo met, in the plan's order, a page at a time. */
export async function listUndoConflicts(db: Db, workspaceId: string, id: string, page: PageRequest): Promise<Page<Conflict>> {
  await findUndo(db, workspaceId, id);
  const after = decodeCursor(page.cursor, ['integer']);
  const rows = await selectConflicts(db, workspaceId, id, after ? Number(after[0]) : -1, page.limit + 1);
  const kept = rows.slice(0, page.limit);
  const last = kept.at(-1);
  return { data: kept.map(presentConflict), nextCursor: rows.length > page.limit && last ? encodeCursor([last.position]) : null };
}

/**
 * The undo job: the rollback's steps with the cause's plan. Its origin `undo` enrols
 * nobody and sends nothing; its writes are the cause `undo` with its id.
 */
export const undoJobHandler: JobHandler = {
  kind: 'undo',
  origin: 'undo',
  cause: 'undo',
  step: (tx, job, change, ctx) => stepRollback(tx, job, change, ctx.config.jobBatchSize),
  async cleanUp(tx, job) {
    await forgetRollbackTargets(tx, job.workspaceId, job.id);
  },
  async finished(tx, job, change) {
    const view = presentUndo(job, await selectRollbackJob(tx, job.workspaceId, job.id), [], await countConflicts(tx, job.workspaceId, job.id));
    await notify(tx, change, 'undo.finished', {
      undoId: view.id,
      status: view.status,
      cause: view.cause,
      counts: view.counts,
      conflicts: view.conflictCount,
      error: view.error,
      createdBy: view.createdBy,
      finishedAt: view.finishedAt,
    });
  },
};
