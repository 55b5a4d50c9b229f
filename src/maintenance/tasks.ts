import type { MaintenanceTask } from './service.js';
import { jobHandlers } from '../jobs/handlers.js';
import { runPendingJobs } from '../jobs/service.js';
import { automationTasks } from '../automations/maintenance.js';
import { purgeExpiredContacts } from '../retention/service.js';
import { purgeExpiredObjects } from '../deleted-objects/service.js';
import { rewriteStaleKeyrings } from '../backups/service.js';
import { exportScheduledSnapshots } from '../backups/schedule.js';
import { compactHistory, expireSnapshots, takeScheduledSnapshots } from '../snapshots/service.js';
import { notificationTasks } from '../notifications/maintenance.js';
import { countChangeSets, countedPerPass } from '../changes/service.js';
import { chainAllPendingEntries } from '../audit/service.js';

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
  // Lists, accounts, deals, tags, forms and automations in the bin past deletedDays too.
  { name: 'purgedObjects', run: purgeExpiredObjects },
  // Keyrings still holding keys destroyed by a purge or erasure (a rewrite that failed).
  { name: 'backupKeyrings', run: rewriteStaleKeyrings },
  // Scheduled snapshots whose boundary has passed, then the expired ones go (issue 6).
  { name: 'snapshots', run: takeScheduledSnapshots },
  { name: 'expiredSnapshots', run: expireSnapshots },
  // Audit entries written since the last pass join the hash chain (reads chain first too).
  // These three wait while a job runs on PGlite: a restore of 100,000 contacts otherwise
  // waited 13 s between its batches for the chain and the counts of the delete before it.
  { name: 'auditChain', yieldsToJobs: true, run: (ctx, workspaceId, yieldNow) => chainAllPendingEntries(ctx.db, workspaceId, yieldNow) },
  // What each write transaction did, counted once from its history (GET /changes sums
  // these), before compaction may take the history away.
  { name: 'changeSets', yieldsToJobs: true, run: (ctx, workspaceId, yieldNow) => countChangeSets(ctx.db, workspaceId, countedPerPass, { yieldNow }) },
  // History no recoverable point needs: after the snapshots that pin it are settled.
  { name: 'compactedHistory', yieldsToJobs: true, run: (ctx, workspaceId, yieldNow) => compactHistory(ctx, workspaceId, { yieldNow }) },
  // The newest snapshot of the kind a workspace exports goes to the backup store: last,
  // as the slowest, and one whose store fails holds up no other work.
  { name: 'scheduledBackups', run: exportScheduledSnapshots },
  // What admins are told of, the pass's own jobs and backups included, goes out after all.
  ...notificationTasks,
];
