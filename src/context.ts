import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database, Db } from './db/database.js';

/** What every service needs: the database and the clock. Passed explicitly, never global. */
export interface AppContext {
  database: Database;
  db: Db;
  clock: Clock;
  config: Config;
  /** Asks the background job worker to look for work now (a job was just queued). */
  kickJobs: () => void;
}
