import type { MaintenanceTask } from '../context.js';
import { consumeOutbox } from '../outbox/consumer.js';
import { pruneDeliveredEvents } from '../outbox/service.js';
import { senderFor } from '../messages/sender.js';
import { enrolOnEvents } from './enrollments.js';
import { runDueSteps } from './runner.js';

/**
 * The automations' share of a maintenance pass, in order: deliver pending events (which
 * enrols contacts), run every due step to completion, and prune long-delivered events.
 */
export const automationTasks: MaintenanceTask[] = [
  {
    name: 'events',
    run: (ctx, workspaceId) =>
      consumeOutbox(ctx, workspaceId, async (tx, change, events) => {
        await enrolOnEvents(tx, change, events);
      }),
  },
  { name: 'automationSteps', run: (ctx, workspaceId) => runDueSteps(ctx, workspaceId, senderFor(ctx)) },
  { name: 'prunedEvents', run: (ctx, workspaceId) => pruneDeliveredEvents(ctx.db, workspaceId, ctx.clock.now()) },
];
