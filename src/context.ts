import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database, Db } from './db/database.js';
import type { Logger } from './logger.js';

/** What every service needs: the database, the clock and the log. Passed explicitly, never global. */
export interface AppContext {
  database: Database;
  db: Db;
  clock: Clock;
  config: Config;
  /** Where runtime errors and request lines go; never personal data (see logger.ts). */
  log: Logger;
  /** Asks the background job worker to look for work now (a job was just queued). */
  kickJobs: () => void;
  /**
   * How this process runs jobs, when it is a server (src/jobs/runner.ts): the lease owner
   * its jobs get, and whether it is stopping (a SIGTERM), asked before each batch. Every
   * pass over jobs (the worker's, a maintenance pass's) runs with these; `running` says
   * whether its worker is running a job now.
   */
  jobRunner?: { owner?: string; stopping: () => boolean; running: () => boolean };
}

/**
 * One kind of due background work (src/maintenance runs them). `run` does everything due
 * now for the given workspace (or every workspace when null) and returns how many things
 * it did.
 */
export interface MaintenanceTask {
  name: string;
  /**
   * Housekeeping that nothing waits on (what reads its result does it first, as the audit
   * log chains before it answers): on PGlite, whose one connection a running job shares, a
   * background pass leaves it for a later pass while a job runs, and the task stops
   * between its batches when `yieldNow()` says a job has started.
   */
  yieldsToJobs?: boolean;
  run(ctx: AppContext, workspaceId: string | null, yieldNow: () => boolean): Promise<number>;
}
