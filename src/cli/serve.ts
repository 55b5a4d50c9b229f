import { sql } from 'kysely';
import type { Config } from '../config.js';
import { createContext, createServer, openDatabase, processLogger } from '../app.js';
import { inTransaction } from '../db/database.js';
import { createWorkspace } from '../workspaces/service.js';
import { issueToken } from '../users/service.js';
import { seedWorkspace } from '../seed/workspace.js';
import { seedDemoHistory } from '../seed/demo-history.js';
import { TestClock } from '../clock.js';
import { scheduleMaintenance } from '../maintenance/service.js';
import { maintenanceTasks } from '../maintenance/tasks.js';
import { notificationDeliveryTask, notificationPollMs } from '../notifications/maintenance.js';
import type { AppContext } from '../context.js';
import { runnerIdentity, takeOverRunner } from '../jobs/runner.js';

const demoName = 'Demo workspace';
const demoContacts = 3000;
/** How long ago the demo workspace was made and filled. */
const demoAgeMs = 3 * 3_600_000 + 10 * 60_000;

/** Starts the server; on an empty database, creates the demo workspace first. */
export async function serve(config: Config, options: { demo: boolean }): Promise<void> {
  const runner = runnerIdentity(config.runnerId);
  const database = await openDatabase(config, { applicationName: runner.applicationName });
  const { ctx, worker } = await createContext(database, config, processLogger(config, 'stdout'), { jobOwner: runner.owner });
  // What a killed process of this runner left: its statements ended, its jobs resumed now.
  const takenOver = await takeOverRunner(database, runner);
  if (takenOver.sessionsEnded + takenOver.jobsReleased > 0) ctx.log.info(takenOver, 'took over the jobs of a stopped process of this runner');
  const signIn = options.demo ? await demoSignIn(ctx) : null;
  const server = await createServer(ctx);
  const stopMaintenance = scheduleMaintenance(ctx, maintenanceTasks, 30_000);
  // Webhooks and emails go out within seconds of the change they tell of, not at the next maintenance pass.
  const stopNotifications = scheduleMaintenance(ctx, [notificationDeliveryTask], notificationPollMs);
  worker.start(2000);
  await server.listen({ port: config.port, host: config.host });
  const base = `http://localhost:${config.port}`;
  console.log(`Retrace is running at ${base} on ${config.databaseUrl ? 'PostgreSQL' : `PGlite (${config.dataDir})`}`);
  console.log(`API: ${base}/api/v1  ·  OpenAPI: ${base}/api/docs`);
  if (signIn) {
    // In the fragment, the token never reaches a server log; the web UI keeps it and clears the address.
    console.log(`Web UI: sign in to the demo workspace as its admin: ${base}/#token=${encodeURIComponent(signIn.token)}`);
    console.log(`  (API token: ${signIn.token})`);
  }
  if (config.adminTokenGenerated) console.log(`Operator token (set RETRACE_ADMIN_TOKEN to choose it): ${config.adminToken}`);
  if (config.testClock) console.log('Test clock is ON (RETRACE_TEST_CLOCK=1)');

  // A stop (SIGTERM from a process manager, Ctrl-C) ends the jobs at their next batch
  // boundary: the batch under way commits, the job is released, the next start resumes it.
  const shutdown = async () => {
    await worker.stop();
    await stopMaintenance();
    await stopNotifications();
    await server.close();
    await database.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

/**
 * The demo workspace's admin sign-in: created with a few thousand contacts on first
 * start; on later starts, a fresh token for the same admin.
 */
async function demoSignIn(ctx: AppContext): Promise<{ token: string } | null> {
  const { rows } = await sql<{ id: string; name: string }>`SELECT id, name FROM workspaces ORDER BY created_at LIMIT 1`.execute(ctx.db);
  const existing = rows[0];
  if (!existing) {
    console.log(`Creating the demo workspace with ${demoContacts} contacts and a few accidents to recover…`);
    // Made three hours ago, so that its recent history (seedDemoHistory) comes after it.
    const madeAt = new TestClock(ctx.clock.now().getTime() - demoAgeMs - Date.now());
    const { workspace, user, token } = await createWorkspace(ctx.db, madeAt, { name: demoName, adminEmail: 'admin@demo.retrace.dev', activeContactLimit: 5000 });
    await seedWorkspace(ctx.db, { workspaceId: workspace.id, actorId: null, origin: 'import', at: madeAt.now() }, { contacts: demoContacts });
    await seedDemoHistory(ctx, workspace.id, user.id);
    return { token };
  }
  if (existing.name !== demoName) return null;
  const admin = await sql<{ id: string }>`
    SELECT u.id FROM users u JOIN roles r ON r.workspace_id = u.workspace_id AND r.id = u.role_id
    WHERE u.workspace_id = ${existing.id} AND r.name = 'admin' ORDER BY u.created_at LIMIT 1`.execute(ctx.db);
  if (!admin.rows[0]) return null;
  const change = { workspaceId: existing.id, actorId: null, origin: 'system' as const, at: ctx.clock.now() };
  return { token: await inTransaction(ctx.db, change, (tx) => issueToken(tx, existing.id, admin.rows[0].id)) };
}
