import type { AppContext, MaintenanceTask } from '../context.js';

// Declared in core (context.ts), where the features that bring tasks find it.
export type { MaintenanceTask } from '../context.js';

/**
 * Runs every task to completion, in order, and reports what each did. A background pass
 * on PGlite lets a running job go first: it leaves the tasks that yield to jobs while one
 * runs (they are in the report only when they ran), and stops them between batches when
 * one starts.
 */
export async function runMaintenance(
  ctx: AppContext,
  tasks: readonly MaintenanceTask[],
  workspaceId: string | null,
  options: { background?: boolean } = {},
): Promise<Record<string, number>> {
  const jobsGoFirst = options.background === true && ctx.database.engine === 'pglite' && ctx.jobRunner !== undefined;
  const jobRunning = () => ctx.jobRunner?.running() ?? false;
  const never = () => false;
  const ran: Record<string, number> = {};
  for (const task of tasks) {
    const yieldNow = jobsGoFirst && task.yieldsToJobs ? jobRunning : never;
    if (yieldNow()) continue;
    ran[task.name] = await task.run(ctx, workspaceId, yieldNow);
  }
  return ran;
}

/**
 * Runs the tasks every intervalMs in the background, one pass at a time. The returned
 * function stops it, and resolves once a pass under way has ended (so a server can close
 * its database after it).
 */
export function scheduleMaintenance(ctx: AppContext, tasks: readonly MaintenanceTask[], intervalMs: number): () => Promise<void> {
  let pass: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (pass) return;
    pass = runMaintenance(ctx, tasks, null, { background: true })
      .then(
        () => undefined,
        (error: unknown) => ctx.log.error({ err: error }, 'maintenance failed'),
      )
      .finally(() => {
        pass = null;
      });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await pass;
  };
}
