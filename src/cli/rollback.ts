import type { AppContext } from '../context.js';
import type { ChangeContext } from '../db/database.js';
import { jobHandlers } from '../jobs/handlers.js';
import { runPendingJobs } from '../jobs/service.js';
import { AppError } from '../http/errors.js';
import { getRollback, previewRollback, requestRollback } from '../rollbacks/service.js';
import type { RollbackScope } from '../rollbacks/plan.js';
import { progressBar } from './progress.js';

export interface RollbackCommand {
  workspace: string;
  at: string;
  contacts?: string[];
  resumeAutomations: boolean;
}

const scopeOf = (command: RollbackCommand): RollbackScope =>
  command.contacts ? { type: 'contacts', contactIds: command.contacts } : { type: 'workspace' };

/** The operator's change context: no actor, as the CLI runs with the machine's authority. */
const operatorChange = (ctx: AppContext, workspaceId: string): ChangeContext => ({ workspaceId, actorId: null, origin: 'user', at: ctx.clock.now() });

async function reportingRefusals(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    console.error(`${error.code}: ${error.message} ${JSON.stringify(error.details)}`);
    process.exitCode = 1;
  }
}

/** `retrace rollback preview`: prints what a rollback would change, changing nothing. */
export async function previewFromCli(ctx: AppContext, command: RollbackCommand): Promise<void> {
  await reportingRefusals(async () => {
    const preview = await previewRollback(ctx, operatorChange(ctx, command.workspace), { at: command.at, scope: scopeOf(command) });
    console.log(JSON.stringify(preview, null, 2));
  });
}

/**
 * `retrace rollback run`: a partial rollback runs here with a progress bar; a full one
 * waits, like one requested through the API, for a second admin's approval.
 */
export async function rollbackFromCli(ctx: AppContext, command: RollbackCommand): Promise<void> {
  await reportingRefusals(async () => {
    let rollback = await requestRollback(ctx, operatorChange(ctx, command.workspace), {
      at: command.at,
      scope: scopeOf(command),
      resumeAutomations: command.resumeAutomations,
    });
    if (rollback.status === 'awaiting_approval') {
      console.log(`Rollback ${rollback.id} awaits approval by an admin with rollbacks.approve: POST /api/v1/rollbacks/${rollback.id}/approve`);
      return;
    }
    const bar = progressBar('rolling back', 1);
    for (;;) {
      // The one-job slot's jobs only: an import queued in the workspace runs in its own lane.
      const steps = await runPendingJobs(ctx, jobHandlers, { workspaceId: command.workspace, lane: null, maxSteps: 1 });
      rollback = await getRollback(ctx.db, command.workspace, rollback.id);
      bar.setTotal(Math.max(rollback.progress.contactsTotal, 1));
      bar.update(rollback.progress.contactsDone);
      if (steps === 0 || rollback.status === 'succeeded' || rollback.status === 'failed') break;
    }
    bar.stop();
    console.log(JSON.stringify({ id: rollback.id, status: rollback.status, counts: rollback.counts, skipped: rollback.skipped, error: rollback.error }, null, 2));
    if (rollback.status !== 'succeeded') process.exitCode = 1;
  });
}
