import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop, setTimeout as delay } from 'node:timers/promises';
import { sql, type Selectable } from 'kysely';
import type { AppContext } from '../context.js';
import type { CauseKind, ChangeContext, Db, Tx } from '../db/database.js';
import type { JsonObject, Jobs } from '../db/schema.js';
import { inTransaction, violatesUniqueIndex } from '../db/database.js';
import { AppError } from '../http/errors.js';
import { tokenStillWorks } from '../http/auth.js';
import { cursorTime, decodeCursor, toPage, type Page } from '../http/pagination.js';

export type JobStatus = 'awaiting_approval' | 'queued' | 'running' | 'succeeded' | 'failed';

export interface Job<P = Record<string, unknown>, G = Record<string, unknown>> {
  workspaceId: string;
  id: string;
  kind: string;
  /** null: the workspace's one job slot (restores, rollbacks); else the lane it queues in. */
  lane: string | null;
  status: JobStatus;
  params: P;
  progress: G;
  result: Record<string, unknown> | null;
  error: string | null;
  createdBy: string | null;
  /** The API token the job was requested through, if any. */
  tokenId: string | null;
  approvedBy: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const jobColumns = [
  'workspace_id', 'id', 'kind', 'lane', 'status', 'params', 'progress', 'result', 'error', 'created_by', 'token_id', 'approved_by', 'created_at', 'started_at', 'finished_at',
] as const;
/** The jsonb columns as insertJob and the runner write them (objects), the status one the CHECK allows. */
type JobShape = { status: JobStatus; params: JsonObject; progress: JsonObject; result: JsonObject | null };
type JobRow = Omit<Pick<Selectable<Jobs>, (typeof jobColumns)[number]>, keyof JobShape> & JobShape;
/** jobColumns for the statements that stay `sql` templates (the claim, a batch's lease). */
const jobColumnList = sql.join(jobColumns.map((column) => sql.ref(column)));

function toJob(r: JobRow): Job {
  return {
    workspaceId: r.workspace_id,
    id: r.id,
    kind: r.kind,
    lane: r.lane,
    status: r.status,
    params: r.params,
    progress: r.progress,
    result: r.result,
    error: r.error,
    createdBy: r.created_by,
    tokenId: r.token_id,
    approvedBy: r.approved_by,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/**
 * What a kind of job does. `step` does one batch inside the given transaction and
 * returns the new checkpoint; the runner commits it with the batch. Returning done ends
 * the job with `result`.
 */
export interface JobHandler {
  kind: string;
  /** The origin written into history and the outbox for the job's changes. */
  origin: ChangeContext['origin'];
  /**
   * Jobs of this kind are queued in this lane instead of the workspace's one job slot:
   * a lane's jobs of one workspace run one at a time, oldest first, and neither wait for
   * the slot's job nor hold it up (the worker runs each lane's pass beside the others).
   */
  lane?: string;
  /**
   * The change context of the job's batches, when it is not the default one (the job's
   * creator as actor, the handler's origin, now).
   */
  changeOf?(job: Job, at: Date): ChangeContext;
  /** What the job's changes are attributed to (the job itself, by its id), so that they can be undone as one cause. */
  cause?: CauseKind;
  /**
   * Work of the next step done before the step's transaction, in transactions of its own
   * on connections of its own (an import's batch, loaded in parts side by side), given the
   * job as the last step left it. The step then finds that work committed and counts it.
   * Whatever this commits must be findable by the step on its own, as after a crash
   * between the two, and running it again must not repeat it.
   */
  prepare?(job: Job, change: ChangeContext, ctx: AppContext): Promise<void>;
  step(tx: Tx, job: Job, change: ChangeContext, ctx: AppContext): Promise<{ progress: Record<string, unknown>; done: boolean; result?: Record<string, unknown> }>;
  /**
   * Removes the work data a failed job leaves behind, in the transaction that marks it
   * failed. Answers the job's progress as it ends when that work data held some of it
   * (the counts of an import's parts loaded after its last checkpoint), else nothing.
   */
  cleanUp?(tx: Tx, job: Job, ctx: AppContext): Promise<Record<string, unknown> | void>;
  /**
   * Called in the transaction that ends the job, succeeded or failed (after cleanUp),
   * with the job as it ends (status, result or error, finishedAt): what it does there
   * (telling admins, say) commits exactly when the job's end does.
   */
  finished?(tx: Tx, job: Job, change: ChangeContext): Promise<void>;
}

export async function findJob(db: Db | Tx, workspaceId: string, jobId: string): Promise<Job | null> {
  const row = await db.selectFrom('jobs').select(jobColumns).where('workspace_id', '=', workspaceId).where('id', '=', jobId).$narrowType<JobShape>().executeTakeFirst();
  return row ? toJob(row) : null;
}

/**
 * The job while it is running, held for the caller's transaction (FOR SHARE): the job's
 * next step (FOR UPDATE) and its end as failed (an UPDATE) wait for the transaction to
 * end; other holders do not.
 */
export async function holdRunningJob(tx: Tx, workspaceId: string, jobId: string): Promise<Job | null> {
  const row = await tx
    .selectFrom('jobs')
    .select(jobColumns)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', jobId)
    .where('status', '=', 'running')
    .forShare()
    .$narrowType<JobShape>()
    .executeTakeFirst();
  return row ? toJob(row) : null;
}

/** Jobs of one kind, newest first, a page at a time. */
export async function listJobs(db: Db, workspaceId: string, kind: string, page: { limit: number; cursor?: string }): Promise<Page<Job>> {
  const after = decodeCursor(page.cursor, ['timestamp', 'text']);
  const { rows } = await sql<JobRow & { created_key: string }>`
    SELECT ${jobColumnList}, ${cursorTime('created_at')} AS created_key FROM jobs
    WHERE workspace_id = ${workspaceId} AND kind = ${kind}
      AND (${after?.[0] ?? null}::timestamptz IS NULL OR (created_at, id) < (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::text))
    ORDER BY created_at DESC, id DESC LIMIT ${page.limit + 1}`.execute(db);
  return toPage(rows, page.limit, (r) => [r.created_key, r.id], toJob);
}

/** The job queued or running in the workspace's one slot (a restore or rollback), if any. */
export async function activeJob(db: Db | Tx, workspaceId: string): Promise<Job | null> {
  const row = await db
    .selectFrom('jobs')
    .select(jobColumns)
    .where('workspace_id', '=', workspaceId)
    .where('status', 'in', ['queued', 'running'])
    .where('lane', 'is', null)
    .$narrowType<JobShape>()
    .executeTakeFirst();
  return row ? toJob(row) : null;
}

const isOneActiveViolation = (error: unknown) => violatesUniqueIndex(error, 'jobs_one_active_per_workspace');

export const jobRunning = (jobId: string | undefined) =>
  new AppError(409, 'restore_job_running', 'A restore or rollback is already queued or running in this workspace', { jobId: jobId ?? null });

/**
 * Turns a database refusal of a second active job into 409 restore_job_running naming the
 * job that holds the slot. The unique index is what decides: two simultaneous requests
 * get exactly one job.
 */
export async function withOneActiveJob<T>(db: Db, workspaceId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!isOneActiveViolation(error)) throw error;
    throw jobRunning((await activeJob(db, workspaceId))?.id);
  }
}

/**
 * Adds a job inside tx; with status queued it takes the workspace's one active slot,
 * unless it goes to a lane. `id` is for a caller that names things after the job first.
 */
export async function insertJob(
  tx: Tx,
  change: ChangeContext,
  input: {
    id?: string;
    kind: string;
    lane?: string;
    status: 'queued' | 'awaiting_approval';
    params: Record<string, unknown>;
    progress?: Record<string, unknown>;
  },
): Promise<Job> {
  // The jsonb columns go as JSON text; without an id the column's default gives one (a new UUID).
  const row = await tx
    .insertInto('jobs')
    .values({
      workspace_id: change.workspaceId,
      ...(input.id === undefined ? {} : { id: input.id }),
      kind: input.kind,
      lane: input.lane ?? null,
      status: input.status,
      params: JSON.stringify(input.params),
      progress: JSON.stringify(input.progress ?? {}),
      created_by: change.actorId,
      token_id: change.tokenId ?? null,
      created_at: change.at,
    })
    .returning(jobColumns)
    .$narrowType<JobShape>()
    .executeTakeFirstOrThrow();
  return toJob(row);
}

/** Moves an awaiting job to queued (it then needs the active slot). */
export async function queueJob(tx: Tx, workspaceId: string, jobId: string, approvedBy: string | null): Promise<void> {
  await tx
    .updateTable('jobs')
    .set({ status: 'queued', approved_by: approvedBy })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', jobId)
    .where('status', '=', 'awaiting_approval')
    .execute();
}

/** Ends an awaiting job without running it (a rejected approval), as failed with why. */
export async function rejectAwaitingJob(tx: Tx, workspaceId: string, jobId: string, reason: string, at: Date): Promise<boolean> {
  const rejected = await tx
    .updateTable('jobs')
    .set({ status: 'failed', error: reason, finished_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', jobId)
    .where('status', '=', 'awaiting_approval')
    .returning('id')
    .executeTakeFirst();
  return rejected !== undefined;
}

const leaseMs = 30_000;

export interface RunOptions {
  workspaceId?: string | null;
  /** Only the jobs of this lane (null: the one-job slot); every lane when absent. */
  lane?: string | null;
  /** Stop after this many batches and release the job, as a crashed runner would leave it (tests). */
  maxSteps?: number;
  /** What the claimed jobs' lease_owner says (runner.ts); a fresh id per pass when absent. */
  owner?: string;
  /**
   * Asked before each batch: true stops the pass at that boundary (a SIGTERM) and releases
   * the job it holds, so the next start resumes it at once.
   */
  stopping?: () => boolean;
  /** Called each time the pass claims a job, before running it (the worker widens its pool then). */
  onClaimed?: () => void;
}

/**
 * Runs claimable jobs to completion: queued ones, and running ones whose runner's lease
 * ran out (a crashed or stopped process). Returns the number of batches committed.
 */
export async function runPendingJobs(ctx: AppContext, handlers: readonly JobHandler[], options: RunOptions = {}): Promise<number> {
  const owner = options.owner ?? ctx.jobRunner?.owner ?? randomUUID();
  const stopping = options.stopping ?? ctx.jobRunner?.stopping ?? (() => false);
  let steps = 0;
  for (;;) {
    if (stopping()) return steps;
    const claimed = await claimJob(ctx.db, owner, options.workspaceId ?? null, options.lane, ctx.clock.now());
    if (!claimed) return steps;
    options.onClaimed?.();
    const { job } = claimed;
    const handler = handlers.find((h) => h.kind === job.kind);
    if (!handler) {
      await failJob(ctx, job, `no handler for jobs of kind ${job.kind}`);
      continue;
    }
    if (!claimed.started && job.tokenId !== null && !(await tokenStillWorks(ctx.db, job.workspaceId, job.tokenId))) {
      await failJob(ctx, job, requesterRevoked, handler);
      continue;
    }
    const budget = options.maxSteps === undefined ? Infinity : options.maxSteps - steps;
    const ran = await runClaimedJob(ctx, handler, job, owner, budget, stopping);
    steps += ran;
    if (options.maxSteps !== undefined && steps >= options.maxSteps) return steps;
  }
}

/**
 * Why a job did not run: the token it was requested through was revoked, or its user
 * deactivated, before it started (issue 19 point 4). A job that has started finishes: it
 * was authorised, and stopping it half way would leave a restore or rollback half done
 * (what it did can be undone by its cause).
 */
export const requesterRevoked = 'Not run: the token that requested this job was revoked (or its user deactivated) before it started';

const isRunningInLaneViolation = (error: unknown) => violatesUniqueIndex(error, 'jobs_one_running_per_lane');

/** How many of the oldest claimable jobs one look finds, to claim the first it can. */
const claimCandidates = 8;

/**
 * Takes the oldest claimable job: a queued one, or a running one whose runner's lease ran
 * out. A queued job of a lane waits while another job of its workspace runs in that lane;
 * two runners claiming two of them at once meet on the unique index of running lane jobs,
 * and the one refused tries the next.
 *
 * In two steps, so that no statement locks rows of more than one workspace (on Citus a
 * `FOR UPDATE` must stay within one shard; issue 20): a read of the oldest claimable jobs
 * of every workspace, then, for each in turn, an UPDATE of that one job in its workspace
 * that claims it only if it is still claimable, skipping it while another transaction
 * holds it (as `SKIP LOCKED` did in the one statement). A job another runner claimed
 * between the two steps is not claimable any more, and the next is tried; a look whose
 * candidates all stay unclaimable, the same as the look before, finds none (they are
 * locked), as the one statement did.
 */
async function claimJob(
  db: Db,
  owner: string,
  workspaceId: string | null,
  lane: string | null | undefined,
  startedAt: Date,
): Promise<{ job: Job; started: boolean } | null> {
  let missed = '';
  for (;;) {
    const now = new Date();
    const candidates = await claimableJobs(db, workspaceId, lane, now);
    const looked = candidates.map((c) => `${c.workspace_id}/${c.id}`).join(' ');
    if (candidates.length === 0 || looked === missed) return null;
    for (const candidate of candidates) {
      const claimed = await claimIfClaimable(db, candidate, owner, now, startedAt);
      if (claimed) return claimed;
    }
    missed = looked;
  }
}

/** The oldest claimable jobs, of one workspace or all, oldest first. */
async function claimableJobs(db: Db, workspaceId: string | null, lane: string | null | undefined, now: Date): Promise<{ workspace_id: string; id: string }[]> {
  const { rows } = await sql<{ workspace_id: string; id: string }>`
    SELECT j.workspace_id, j.id FROM jobs j
    WHERE (${workspaceId}::text IS NULL OR j.workspace_id = ${workspaceId})
      AND (${lane === undefined} OR j.lane IS NOT DISTINCT FROM ${lane ?? null}::text)
      AND (j.status = 'queued' OR (j.status = 'running' AND (j.lease_until IS NULL OR j.lease_until < ${now})))
      AND (j.lane IS NULL OR j.status = 'running' OR NOT EXISTS (
            SELECT 1 FROM jobs r WHERE r.workspace_id = j.workspace_id AND r.lane = j.lane AND r.status = 'running'))
    ORDER BY j.created_at LIMIT ${claimCandidates}`.execute(db);
  return rows;
}

/**
 * Claims one job of one workspace if it is claimable now, with the conditions of
 * claimableJobs; null when it is not, or another transaction holds it. `started`: whether
 * an earlier claim started it (a resumed job), as it was before this one.
 */
async function claimIfClaimable(
  db: Db,
  job: { workspace_id: string; id: string },
  owner: string,
  now: Date,
  startedAt: Date,
): Promise<{ job: Job; started: boolean } | null> {
  try {
    const { rows } = await sql<JobRow & { started: boolean }>`
      UPDATE jobs SET status = 'running', lease_owner = ${owner}, lease_until = ${new Date(now.getTime() + leaseMs)},
                      started_at = coalesce(started_at, ${startedAt})
      FROM (
        SELECT j.id AS claimed_id, j.started_at IS NOT NULL AS started FROM jobs j
        WHERE j.workspace_id = ${job.workspace_id} AND j.id = ${job.id}
          AND (j.status = 'queued' OR (j.status = 'running' AND (j.lease_until IS NULL OR j.lease_until < ${now})))
          AND (j.lane IS NULL OR j.status = 'running' OR NOT EXISTS (
                SELECT 1 FROM jobs r WHERE r.workspace_id = ${job.workspace_id} AND r.lane = j.lane AND r.status = 'running'))
        FOR UPDATE SKIP LOCKED) claimed
      WHERE jobs.workspace_id = ${job.workspace_id} AND jobs.id = claimed.claimed_id
      RETURNING ${jobColumnList}, claimed.started`.execute(db);
    return rows[0] ? { job: toJob(rows[0]), started: rows[0].started } : null;
  } catch (error) {
    if (isRunningInLaneViolation(error)) return null;
    throw error;
  }
}

/** serialization_failure and deadlock_detected: the batch met a concurrent write and can simply run again. */
const retriedCodes = new Set(['40001', '40P01']);
/** A batch is tried this many times before the job fails with the database's error. */
export const batchAttempts = 5;

const isRetried = (error: unknown) => typeof error === 'object' && error !== null && retriedCodes.has(String((error as { code?: unknown }).code));

/**
 * Runs a batch's transaction again when the database chose it as the victim of a deadlock
 * or a serialization failure (a user's edit of rows the batch locks, in another order):
 * the transaction was rolled back whole, so running it again repeats nothing. Bounded, with
 * a short growing pause, so a lasting conflict still fails the job with its cause.
 */
async function retryingConflicts<T>(batch: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await batch();
    } catch (error) {
      if (!isRetried(error) || attempt >= batchAttempts) throw error;
      await delay(20 * attempt + Math.floor(Math.random() * 20));
    }
  }
}

async function runClaimedJob(ctx: AppContext, handler: JobHandler, claimed: Job, owner: string, budget: number, stopping: () => boolean): Promise<number> {
  let job = claimed;
  let steps = 0;
  try {
    for (;;) {
      // Between batches the event loop gets a turn: on PGlite a query's promise settles
      // without I/O, so a job's batches would otherwise follow one another as one chain of
      // microtasks, and no request, timer or signal (a SIGTERM) would be seen until its end.
      await yieldToEventLoop();
      if (steps >= budget || stopping()) break;
      const change = jobChange(ctx, job, handler);
      const outcome = await retryingConflicts(async () => {
        await handler.prepare?.(job, change, ctx);
        return inTransaction(ctx.db, change, async (tx) => {
          const { rows } = await sql<JobRow>`
            SELECT ${jobColumnList} FROM jobs WHERE workspace_id = ${job.workspaceId} AND id = ${job.id} AND lease_owner = ${owner} FOR UPDATE`.execute(tx);
          if (!rows[0] || rows[0].status !== 'running') return null;
          const current = toJob(rows[0]);
          const result = await handler.step(tx, current, change, ctx);
          await sql`
            UPDATE jobs SET progress = ${JSON.stringify(result.progress)}::jsonb,
                            lease_until = ${new Date(Date.now() + leaseMs)},
                            status = ${result.done ? 'succeeded' : 'running'},
                            result = ${result.done ? JSON.stringify(result.result ?? {}) : null}::jsonb,
                            finished_at = ${result.done ? change.at : null}
            WHERE workspace_id = ${job.workspaceId} AND id = ${job.id}`.execute(tx);
          if (result.done) {
            await handler.finished?.(tx, { ...current, status: 'succeeded', progress: result.progress, result: result.result ?? {}, finishedAt: change.at }, change);
          }
          return { ...current, progress: result.progress, done: result.done };
        });
      });
      if (!outcome) return steps;
      steps += 1;
      job = outcome;
      if (outcome.done) return steps;
    }
    // Out of budget, or stopping: release the lease, leaving it resumable at once.
    await sql`UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE workspace_id = ${job.workspaceId} AND id = ${job.id} AND lease_owner = ${owner}`.execute(ctx.db);
    return steps;
  } catch (error) {
    ctx.log.error({ err: error, workspaceId: job.workspaceId, jobId: job.id, kind: job.kind }, 'job failed');
    await failJob(ctx, job, error instanceof Error ? error.message : String(error), handler);
    return steps;
  }
}

/**
 * The change context of a job's work: the handler's own (changeOf), or its requester, its
 * origin and the job as its cause.
 */
function jobChange(ctx: AppContext, job: Job, handler: JobHandler | undefined): ChangeContext {
  const at = ctx.clock.now();
  return (
    handler?.changeOf?.(job, at) ?? {
      workspaceId: job.workspaceId,
      actorId: job.createdBy,
      origin: handler?.origin ?? 'system',
      at,
      ...(handler?.cause ? { cause: { kind: handler.cause, id: job.id } } : {}),
    }
  );
}

async function failJob(ctx: AppContext, job: Job, error: string, handler?: JobHandler): Promise<void> {
  const change = jobChange(ctx, job, handler);
  await inTransaction(ctx.db, change, async (tx) => {
    const failed = await tx
      .updateTable('jobs')
      .set({ status: 'failed', error, finished_at: change.at, lease_owner: null, lease_until: null })
      .where('workspace_id', '=', job.workspaceId)
      .where('id', '=', job.id)
      .returning(jobColumns)
      .$narrowType<JobShape>()
      .executeTakeFirst();
    const progress = await handler?.cleanUp?.(tx, job, ctx);
    const ended =
      failed && progress
        ? await tx
            .updateTable('jobs')
            .set({ progress: JSON.stringify(progress) })
            .where('workspace_id', '=', job.workspaceId)
            .where('id', '=', job.id)
            .returning(jobColumns)
            .$narrowType<JobShape>()
            .executeTakeFirstOrThrow()
        : failed;
    if (ended) await handler?.finished?.(tx, toJob(ended), change);
  });
}
