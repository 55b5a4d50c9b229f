import type { FastifyInstance } from 'fastify';
import { openTestClock, systemClock } from './clock.js';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { connectPGlite, connectPostgres, migrate, type Database } from './db/database.js';
import { createLogger, wantsPrettyLogs, type Logger } from './logger.js';
import { buildServer, type RouteModule, type ServerOptions } from './http/server.js';
import { auditRoutes } from './audit/routes.js';
import { workspaceRoutes } from './workspaces/routes.js';
import { userRoutes } from './users/routes.js';
import { contactRoutes } from './contacts/routes.js';
import { listRoutes } from './lists/routes.js';
import { accountRoutes } from './accounts/routes.js';
import { dealRoutes } from './deals/routes.js';
import { tagRoutes } from './tags/routes.js';
import { maintenanceRoutes } from './maintenance/routes.js';
import { automationRoutes } from './automations/routes.js';
import { messageRoutes } from './messages/routes.js';
import { formRoutes } from './forms/routes.js';
import { defaultJobConcurrency, JobWorker } from './jobs/worker.js';
import { recycleBinRoutes } from './recycle-bin/routes.js';
import { deletedObjectRoutes } from './deleted-objects/routes.js';
import { erasureRoutes } from './erasure/routes.js';
import { mergeRoutes } from './merge/routes.js';
import { snapshotRoutes } from './snapshots/routes.js';
import { rollbackRoutes } from './rollbacks/routes.js';
import { backupRoutes } from './backups/routes.js';
import { notificationRoutes } from './notifications/routes.js';
import { importRoutes } from './imports/routes.js';
import { defaultImportParts } from './imports/service.js';
import { changeRoutes } from './changes/routes.js';
import { undoRoutes } from './undo/routes.js';
import { heldDeleteRoutes } from './held-deletes/routes.js';

/** Every feature's routes, in the order the OpenAPI document lists them. */
export const routeModules: RouteModule[] = [
  maintenanceRoutes,
  workspaceRoutes,
  userRoutes,
  contactRoutes,
  importRoutes,
  listRoutes,
  accountRoutes,
  dealRoutes,
  tagRoutes,
  recycleBinRoutes,
  deletedObjectRoutes,
  heldDeleteRoutes,
  erasureRoutes,
  mergeRoutes,
  snapshotRoutes,
  rollbackRoutes,
  backupRoutes,
  notificationRoutes,
  auditRoutes,
  changeRoutes,
  undoRoutes,
  automationRoutes,
  messageRoutes,
  formRoutes,
];

/**
 * Connections a server keeps to PostgreSQL: ten for requests and maintenance, and for each
 * job it may run at once, one for the slot's job and one for each part of an import's
 * batch (a lane of imports beside the slot's jobs; an import's step and its parts do not
 * hold connections at the same time), so a full pool of jobs never leaves requests
 * waiting for a connection.
 */
const requestConnections = 10;

export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir'> & Partial<Pick<Config, 'jobConcurrency' | 'importParts'>>,
  options: { applicationName?: string } = {},
): Promise<Database> {
  const poolSize = requestConnections + (1 + (config.importParts ?? defaultImportParts)) * (config.jobConcurrency ?? defaultJobConcurrency);
  const database = config.databaseUrl ? await connectPostgres(config.databaseUrl, poolSize, options.applicationName) : await connectPGlite(config.dataDir);
  await migrate(database);
  return database;
}

/**
 * The log of a running process at LOG_LEVEL: JSON lines to stdout or stderr (a command
 * whose stdout is its output logs to stderr), pretty ones on a developer's terminal.
 */
export function processLogger(config: Config, to: 'stdout' | 'stderr'): Logger {
  const stream = to === 'stdout' ? process.stdout : process.stderr;
  return createLogger({ level: config.logLevel, destination: stream.fd, pretty: wantsPrettyLogs(stream), secrets: [config.adminToken] });
}

/**
 * The context of a running server, with its background job worker (not yet started). With
 * RETRACE_TEST_CLOCK=1 the clock is the test clock at the time it had reached.
 */
export async function createContext(
  database: Database,
  config: Config,
  log: Logger,
  options: { jobOwner?: string } = {},
): Promise<{ ctx: AppContext; worker: JobWorker }> {
  const clock = config.testClock ? await openTestClock(database.db) : systemClock;
  const worker: JobWorker = new JobWorker(() => ctx);
  const ctx: AppContext = {
    database,
    db: database.db,
    clock,
    config,
    log,
    kickJobs: () => worker.kick(),
    jobRunner: { owner: options.jobOwner, stopping: () => worker.isStopping, running: () => worker.isRunningJobs },
  };
  return { ctx, worker };
}

export async function createServer(ctx: AppContext, options: ServerOptions = {}): Promise<FastifyInstance> {
  return buildServer(ctx, routeModules, options);
}
