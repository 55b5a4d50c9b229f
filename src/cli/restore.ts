import type { AppContext } from '../context.js';
import { jobHandlers } from '../jobs/handlers.js';
import { runPendingJobs } from '../jobs/service.js';
import { getRestoreJob, requestRestore, type RestoreSource } from '../recycle-bin/service.js';
import { AppError } from '../http/errors.js';
import { progressBar } from './progress.js';

export interface RestoreCommand {
  workspace: string;
  source: RestoreSource;
  ids?: string[];
  all: boolean;
  q?: string;
  confirmOverage: boolean;
  resumeAutomations: boolean;
}

/**
 * `retrace restore`: queues a restore job as the operator would through the API (no
 * actor), runs it in this process batch by batch, and shows a progress bar.
 */
export async function restoreFromCli(ctx: AppContext, command: RestoreCommand): Promise<void> {
  const change = { workspaceId: command.workspace, actorId: null, origin: 'user' as const, at: ctx.clock.now() };
  let job;
  try {
    job = await requestRestore(ctx, change, {
      source: command.source,
      ...(command.ids ? { contactIds: command.ids } : { all: true, filter: command.q ? { q: command.q } : undefined }),
      confirmOverage: command.confirmOverage,
      resumeAutomations: command.resumeAutomations,
    });
  } catch (error) {
    if (error instanceof AppError) {
      console.error(`${error.code}: ${error.message} ${JSON.stringify(error.details)}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
  const bar = progressBar('restoring', job.requested);
  for (;;) {
    // The one-job slot's jobs only: an import queued in the workspace runs in its own lane.
    const steps = await runPendingJobs(ctx, jobHandlers, { workspaceId: command.workspace, lane: null, maxSteps: 1 });
    job = await getRestoreJob(ctx.db, command.workspace, job.id);
    bar.update(job.restored + job.skippedCount);
    if (steps === 0 || job.status === 'succeeded' || job.status === 'failed') break;
  }
  bar.stop();
  console.log(JSON.stringify({ id: job.id, status: job.status, requested: job.requested, restored: job.restored, skipped: job.skipped }, null, 2));
  if (job.status !== 'succeeded') process.exitCode = 1;
}
