import type { MaintenanceTask } from './service.js';
import { jobHandlers } from '../jobs/handlers.js';
import { runPendingJobs } from '../jobs/service.js';
import { automationTasks } from '../automations/maintenance.js';
import { purgeExpiredContacts } from '../retention/service.js';

/**
 * Every kind of due background work, in the order a maintenance pass runs it. Features
 * add their task here: POST /maintenance/run and the background schedule both run this.
 */
export const maintenanceTasks: MaintenanceTask[] = [
  // Queued restores and rollbacks, and any left by a stopped process, run to completion.
  { name: 'jobs', run: (ctx, workspaceId) => runPendingJobs(ctx, jobHandlers, { workspaceId }) },
  // Domain events enrol contacts, then every due automation step runs (issue 4).
  ...automationTasks,
  // Deleted contacts past deletedDays and archived ones past archiveDays go for good.
  { name: 'purge', run: purgeExpiredContacts },
];
