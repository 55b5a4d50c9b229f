import type { MaintenanceTask } from '../context.js';
import { deliverDueNotifications } from './sender.js';
import { pruneNotificationLog } from './service.js';

/** Sends every delivery due (webhooks and emails), to completion. */
export const notificationDeliveryTask: MaintenanceTask = { name: 'notifications', run: (ctx, workspaceId) => deliverDueNotifications(ctx, workspaceId) };

/**
 * The notifications' share of a maintenance pass: send every delivery due, then prune
 * the log of long-settled events. Run last, so what the pass itself caused (a job
 * finished, a scheduled backup made) goes out in it.
 */
export const notificationTasks: MaintenanceTask[] = [
  notificationDeliveryTask,
  { name: 'prunedNotifications', run: (ctx, workspaceId) => pruneNotificationLog(ctx.db, workspaceId, ctx.clock.now()) },
];

/** How often the server's background sender (notificationDeliveryTask on its own schedule) looks for due deliveries. */
export const notificationPollMs = 2_000;
