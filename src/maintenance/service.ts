import type { AppContext } from '../context.js';

/**
 * One kind of due background work. `run` does everything due now for the given
 * workspace (or every workspace when null) and returns how many things it did.
 */
export interface MaintenanceTask {
  name: string;
  run(ctx: AppContext, workspaceId: string | null): Promise<number>;
}

/** Runs every task to completion, in order, and reports what each did. */
export async function runMaintenance(
  ctx: AppContext,
  tasks: readonly MaintenanceTask[],
  workspaceId: string | null,
): Promise<Record<string, number>> {
  const ran: Record<string, number> = {};
  for (const task of tasks) ran[task.name] = await task.run(ctx, workspaceId);
  return ran;
}

/**
 * Runs the tasks every intervalMs in the background, one pass at a time; the returned
 * function stops it.
 */
export function scheduleMaintenance(ctx: AppContext, tasks: readonly MaintenanceTask[], intervalMs: number): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    runMaintenance(ctx, tasks, null)
      .catch((error: unknown) => ctx.log.error({ err: error }, 'maintenance failed'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
