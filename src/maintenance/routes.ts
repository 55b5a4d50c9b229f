import { z } from 'zod';
import type { RouteModule } from '../http/server.js';
import { addRoute, changeOfPrincipal } from '../http/route.js';
import { recordAudit } from '../audit/service.js';
import { inTransaction } from '../db/database.js';
import { runMaintenance } from './service.js';
import { maintenanceTasks } from './tasks.js';

export const maintenanceRoutes: RouteModule = (app, ctx) => {
  addRoute(app, ctx, {
    method: 'GET', url: '/health', summary: 'Ready to serve', tag: 'operator', response: z.object({ ok: z.literal(true) }), access: { public: true },
    handler: async () => ({ ok: true as const }),
  });

  addRoute(app, ctx, {
    method: 'POST', url: '/maintenance/run', summary: 'Run all due background work now, to completion', tag: 'operator',
    // An admin runs it for their own workspace; the operator for every workspace.
    response: z.object({ ran: z.record(z.string(), z.number().int()).describe('What each task did, by task') }),
    access: { operatorOr: 'users.manage' },
    handler: async ({ principal }) => {
      const workspaceId = principal?.kind === 'user' ? principal.workspaceId : null;
      const ran = await runMaintenance(ctx, maintenanceTasks, workspaceId);
      if (principal?.kind === 'user') {
        const change = changeOfPrincipal(principal, ctx.clock.now());
        await inTransaction(ctx.db, change, (tx) => recordAudit(tx, change, { action: 'maintenance.run', details: { ran } }));
      }
      return { ran };
    },
  });
};
