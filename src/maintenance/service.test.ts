import { beforeAll, describe, expect, it } from 'vitest';
import type { AppContext, MaintenanceTask } from '../context.js';
import { testApp, type TestApp } from '../test-support/harness.js';
import { runMaintenance } from './service.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

/**
 * A housekeeping task of three batches that yields to jobs, and a job that starts (as
 * the worker would say) once its first batch is done.
 */
function housekeepingWithAJobStarting() {
  let jobRunning = false;
  const batches: string[] = [];
  const housekeeping: MaintenanceTask = {
    name: 'housekeeping',
    yieldsToJobs: true,
    run: async (_ctx, _workspaceId, yieldNow) => {
      let done = 0;
      while (done < 3 && !yieldNow()) {
        batches.push(`batch ${(done += 1)}`);
        jobRunning = true;
      }
      return done;
    },
  };
  const other: MaintenanceTask = { name: 'other', run: async () => 1 };
  const ctx: AppContext = { ...app.ctx, jobRunner: { stopping: () => false, running: () => jobRunning } };
  return { ctx, tasks: [housekeeping, other], batches };
}

describe('maintenance beside running jobs', () => {
  it('on PGlite, a background pass stops what yields to jobs at the batch a job starts after, then leaves it while the job runs; on the server it runs beside', async () => {
    const { ctx, tasks, batches } = housekeepingWithAJobStarting();
    const first = await runMaintenance(ctx, tasks, null, { background: true });
    const second = await runMaintenance(ctx, tasks, null, { background: true });
    if (app.ctx.database.engine === 'pglite') {
      expect([first, second, batches]).toEqual([{ housekeeping: 1, other: 1 }, { other: 1 }, ['batch 1']]);
    } else {
      expect([first, second, batches.length]).toEqual([{ housekeeping: 3, other: 1 }, { housekeeping: 3, other: 1 }, 6]);
    }
  });

  it('runs everything to completion when asked (POST /maintenance/run), a job running or not', async () => {
    const { ctx, tasks } = housekeepingWithAJobStarting();
    expect(await runMaintenance(ctx, tasks, null)).toEqual({ housekeeping: 3, other: 1 });
    expect(await runMaintenance(ctx, tasks, null)).toEqual({ housekeeping: 3, other: 1 });
  });
});
