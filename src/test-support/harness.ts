import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse, RouteOptions } from 'fastify';
import { sql } from 'kysely';
import { TestClock } from '../clock.js';
import type { Config } from '../config.js';
import type { AppContext } from '../context.js';
import { connectPGlite, connectPostgres, migrate, type Database } from '../db/database.js';
import { createDatabase } from '../db/new-database.js';
import { createServer, routeModules } from '../app.js';
import { buildServer } from '../http/server.js';
import { JobWorker } from '../jobs/worker.js';
import { jobHandlers } from '../jobs/handlers.js';
import { runPendingJobs } from '../jobs/service.js';
import { createLogger, silentLogger, type Logger } from '../logger.js';

export const operatorToken = 'op_test_operator_token';

let shared: Promise<Database> | undefined;

/**
 * The worker's database: PGlite in memory, or a PostgreSQL database of the worker's own
 * on the run's server. Each worker runs its files one after another, so no test sees
 * another file's work in progress (a maintenance pass over every workspace, say); tests
 * of concurrency make their own concurrent calls.
 */
export function testDatabase(): Promise<Database> {
  shared ??= (async () => {
    const runUrl = process.env.RETRACE_TEST_DATABASE;
    const database = runUrl ? await connectPostgres(await workerDatabase(runUrl), 4) : await connectPGlite(undefined);
    await migrate(database);
    return database;
  })();
  return shared;
}

const workerDatabase = (runUrl: string) => createRunDatabase(runUrl, `w${process.env.VITEST_POOL_ID ?? process.pid}`);

/**
 * A database of its own, migrated, through one connection (PGlite has only one): for tests
 * that read the statistics a connection reports (rowsRead), or that leave a workspace too
 * large for the worker's database, whose maintenance passes walk every workspace.
 */
let isolated = 0;
export async function oneConnectionDatabase(): Promise<{ database: Database; release: () => Promise<void> }> {
  const runUrl = process.env.RETRACE_TEST_DATABASE;
  isolated += 1;
  const database = runUrl
    ? await connectPostgres(await createRunDatabase(runUrl, `one_${process.env.VITEST_POOL_ID ?? process.pid}_${isolated}`), 1)
    : await connectPGlite(undefined);
  await migrate(database);
  return { database, release: () => database.close() };
}

/**
 * Creates a database on the run's server named after the run's with `suffix`, and gives
 * its URL; the run's teardown drops every database named after it. On a Citus
 * coordinator it is distributed over the workers, unless `plain` asks for one database
 * of the coordinator alone, without the extension (as a database from before Citus is).
 */
export async function createRunDatabase(runUrl: string, suffix: string, options: { plain?: boolean } = {}): Promise<string> {
  const url = new URL(runUrl);
  return createDatabase(process.env.RETRACE_TEST_SERVER ?? runUrl, `${url.pathname.slice(1)}_${suffix}`, options);
}

/** The worker's backup and key stores: a temporary directory of its own. */
const testFiles = mkdtempSync(path.join(tmpdir(), 'retrace-test-'));

export const testConfig: Config = {
  port: 0,
  host: '127.0.0.1',
  trustProxy: false,
  databaseUrl: undefined,
  dataDir: '',
  runnerId: 'test runner',
  adminToken: operatorToken,
  adminTokenGenerated: false,
  testClock: true,
  smtpUrl: undefined,
  backupDir: path.join(testFiles, 'backups'),
  backupKeyDir: path.join(testFiles, 'backup-keys'),
  importDir: path.join(testFiles, 'imports'),
  importMaxBytes: 1024 ** 3,
  logLevel: 'silent',
};

/** A logger as `serve` makes one (at info), whose lines the test reads: as written, and parsed. */
export function capturedLog(): { log: Logger; written: string[]; lines: Record<string, any>[] } {
  const written: string[] = [];
  const lines: Record<string, any>[] = [];
  const destination = {
    write(line: string) {
      written.push(line);
      lines.push(JSON.parse(line));
    },
  };
  return { log: createLogger({ level: 'info', destination, secrets: [testConfig.adminToken] }), written, lines };
}

export interface TestApp {
  ctx: AppContext;
  clock: TestClock;
  server: FastifyInstance;
  /**
   * Runs the workspace's queued jobs now, to completion (or for maxSteps batches, then
   * leaves them as a crashed process would). Returns the batches committed.
   */
  runJobs: (workspaceId: string, options?: { maxSteps?: number }) => Promise<number>;
}

/** A point in time on the app's test clock strictly between what came before and what comes after (a rollback's `at`). */
export function aPoint(app: { clock: TestClock }): string {
  app.clock.advance(1);
  const at = app.clock.now().toISOString();
  app.clock.advance(1);
  return at;
}

/**
 * A server on the worker's database with its own test clock. Jobs run only when the test
 * calls runJobs(), unless autoRunJobs is set (then a worker runs them as `serve` does).
 * It logs nothing unless given a logger (a test that reads the log). `config` changes
 * settings of testConfig (an SMTP_URL, say).
 */
export async function testApp(
  options: { autoRunJobs?: boolean; jobStartDelayMs?: number; log?: Logger; database?: Database; config?: Partial<Config> } = {},
): Promise<TestApp> {
  const database = options.database ?? (await testDatabase());
  const clock = new TestClock();
  const worker: JobWorker = new JobWorker(() => ctx, options.jobStartDelayMs);
  const ctx: AppContext = {
    database,
    db: database.db,
    clock,
    config: { ...testConfig, ...options.config },
    log: options.log ?? silentLogger,
    kickJobs: () => {
      if (options.autoRunJobs) worker.kick();
    },
  };
  // Strict: a response whose schema leaves out a field the service returned fails the test.
  const server = await createServer(ctx, { strictResponses: true });
  await server.ready();
  return { ctx, clock, server, runJobs: (workspaceId, run = {}) => runPendingJobs(ctx, jobHandlers, { workspaceId, ...run }) };
}

/** Every route the server registers, as Fastify's onRoute sees it (its zod schemas included). */
export async function routeTable(ctx: AppContext): Promise<RouteOptions[]> {
  const routes: RouteOptions[] = [];
  const server = await buildServer(ctx, [(fastify) => fastify.addHook('onRoute', (route) => void routes.push(route)), ...routeModules]);
  await server.close();
  return routes;
}

export interface Response<T = any> {
  status: number;
  body: T;
  raw: LightMyRequestResponse;
}

/** Calls the API as the holder of `token` (or anonymously with null). */
export async function call<T = any>(
  server: FastifyInstance,
  token: string | null,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
): Promise<Response<T>> {
  const raw = await server.inject({
    method,
    url: `/api/v1${url}`,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(body === undefined ? {} : { payload: body as object }),
  });
  const text = raw.body;
  return { status: raw.statusCode, body: text ? JSON.parse(text) : null, raw };
}

export interface TestWorkspace {
  id: string;
  adminId: string;
  adminToken: string;
  /** The id of the admin's token: what their changes record as the token they came through. */
  adminTokenId: string;
  /** Calls the API as the workspace's admin. */
  api: <T = any>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) => Promise<Response<T>>;
  /** A new user with the given role, and a caller acting as them; tokenId is their token's id (what their changes record). */
  userWithRole: (role: string) => Promise<{ id: string; token: string; tokenId: string; api: TestWorkspace['api'] }>;
}

let workspaceCounter = 0;

/** A fresh workspace: every test makes its own, so tests never depend on one another. */
export async function aWorkspace(app: TestApp, options: { activeContactLimit?: number } = {}): Promise<TestWorkspace> {
  workspaceCounter += 1;
  const created = await call(app.server, operatorToken, 'POST', '/workspaces', {
    name: `Test workspace ${workspaceCounter}`,
    adminEmail: `admin${workspaceCounter}@example.com`,
    ...(options.activeContactLimit === undefined ? {} : { activeContactLimit: options.activeContactLimit }),
  });
  if (created.status !== 201) throw new Error(`workspace creation failed: ${JSON.stringify(created.body)}`);
  const adminToken: string = created.body.token;
  const api: TestWorkspace['api'] = (method, url, body) => call(app.server, adminToken, method, url, body);
  const tokenIdOf = async (userId: string): Promise<string> => {
    const { rows } = await sql<{ id: string }>`
      SELECT id FROM api_tokens WHERE workspace_id = ${created.body.workspace.id} AND user_id = ${userId} AND name IS NULL`.execute(app.ctx.db);
    return rows[0].id;
  };
  let userCounter = 0;
  return {
    id: created.body.workspace.id,
    adminId: created.body.user.id,
    adminToken,
    adminTokenId: await tokenIdOf(created.body.user.id),
    api,
    async userWithRole(role) {
      userCounter += 1;
      const res = await api('POST', '/users', { email: `${role}${userCounter}-${workspaceCounter}@example.com`, role });
      if (res.status !== 201) throw new Error(`user creation failed: ${JSON.stringify(res.body)}`);
      const token: string = res.body.token;
      return { id: res.body.user.id, token, tokenId: await tokenIdOf(res.body.user.id), api: (m, u, b) => call(app.server, token, m, u, b) };
    },
  };
}

let contactCounter = 0;

/** A contact in the workspace, created through the API. */
export async function aContact(
  ws: TestWorkspace,
  fields: { email?: string; firstName?: string; lastName?: string; tags?: string[] } = {},
): Promise<any> {
  contactCounter += 1;
  const res = await ws.api('POST', '/contacts', {
    email: fields.email ?? `person${contactCounter}.${Date.now()}@example.com`,
    firstName: fields.firstName ?? `First${contactCounter}`,
    lastName: fields.lastName ?? `Last${contactCounter}`,
    ...(fields.tags ? { tags: fields.tags } : {}),
  });
  if (res.status !== 201) throw new Error(`contact creation failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Runs `write` in a transaction of its own that commits only once `other` waits on it
 * for a lock (a statement starting with `waiting` in another session): on PostgreSQL,
 * `other` looked before the write was committed and meets it on a unique index. PGlite is
 * one connection, so there `write` simply commits first.
 */
export async function commitWhileWaitedOn<T>(app: TestApp, write: string, other: () => Promise<T>, waiting: string): Promise<T> {
  if (app.ctx.database.engine === 'pglite') {
    await app.ctx.database.withScriptSession((session) => session.exec(write));
    return other();
  }
  return app.ctx.database.withScriptSession(async (session) => {
    const [{ citus }] = await session.rows<{ citus: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus");
    // On Citus the statement waits on a worker, for a lock of a shard: its wait is seen in
    // citus_lock_waits, under the statement the coordinator was sent.
    const blockedStatements = citus
      ? `SELECT count(*)::int AS n FROM citus_lock_waits WHERE ltrim(blocked_statement, E' \\n') LIKE '${waiting}%'`
      : `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND ltrim(query, E' \\n') LIKE '${waiting}%'`;
    try {
      await session.exec(`BEGIN; ${write}`);
    } catch (error) {
      // The session goes back to the pool: not inside the transaction the write aborted.
      await session.exec('ROLLBACK');
      throw error;
    }
    const result = other();
    result.catch(() => {}); // awaited by the caller; not an unhandled rejection meanwhile
    for (let tries = 0; tries < 200; tries += 1) {
      // pg_stat_activity is read once per transaction unless its snapshot is dropped.
      await session.exec('SELECT pg_stat_clear_snapshot()');
      const [blocked] = await session.rows<{ n: number }>(blockedStatements);
      if (blocked.n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await session.exec('COMMIT');
    return result;
  });
}

/**
 * Rows read from each table (by sequential scans and through indexes) while fn runs, as
 * PostgreSQL counts them: how a test tells a plan that grows with the table from one that
 * grows with the work, without timing anything. The database must be one connection
 * (oneConnectionDatabase), whose counts are flushed before they are read.
 */
export async function rowsRead(database: Database, tables: string[], fn: () => Promise<void>): Promise<Record<string, number>> {
  const read = async () => {
    await sql`SELECT pg_stat_force_next_flush()`.execute(database.db);
    await sql`SELECT pg_stat_clear_snapshot()`.execute(database.db);
    const { rows } = await sql<{ relname: string; n: number }>`
      SELECT relname, (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::float8 AS n FROM pg_stat_user_tables
      WHERE schemaname = current_schema() AND relname = ANY(${tables}::text[])`.execute(database.db);
    return new Map(rows.map((r) => [r.relname, Number(r.n)]));
  };
  const before = await read();
  await fn();
  const after = await read();
  return Object.fromEntries(tables.map((t) => [t, (after.get(t) ?? 0) - (before.get(t) ?? 0)]));
}

/**
 * Forgets what ANALYZE learnt about these tables, as on a database where it never ran
 * (PGlite never autovacuums; a server may run with autovacuum off).
 */
export async function forgetStatistics(database: Database, tables: string[]): Promise<void> {
  await sql`DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class WHERE relname = ANY(${tables}::text[]) AND relnamespace = current_schema()::regnamespace)`.execute(database.db);
  await sql`UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE relname = ANY(${tables}::text[]) AND relnamespace = current_schema()::regnamespace`.execute(database.db);
}

export interface Upload {
  csv?: string | Buffer;
  mapping?: unknown;
  /** Parts sent besides (or instead of) the file and the mapping. */
  parts?: { name: string; value: string; fileName?: string }[];
}

/** POST /imports as multipart/form-data, the way a browser's FormData sends it. */
export async function postImportAs(on: TestApp, token: string, upload: Upload) {
  const form = new FormData();
  if (upload.mapping !== undefined) form.append('mapping', typeof upload.mapping === 'string' ? upload.mapping : JSON.stringify(upload.mapping));
  if (upload.csv !== undefined) form.append('file', new Blob([typeof upload.csv === 'string' ? upload.csv : new Uint8Array(upload.csv)], { type: 'text/csv' }), 'contacts.csv');
  for (const part of upload.parts ?? []) {
    if (part.fileName) form.append(part.name, new Blob([part.value]), part.fileName);
    else form.append(part.name, part.value);
  }
  const request = new Request('http://retrace.test/', { method: 'POST', body: form });
  const raw = await on.server.inject({
    method: 'POST',
    url: '/api/v1/imports',
    headers: { authorization: `Bearer ${token}`, 'content-type': request.headers.get('content-type') ?? '' },
    payload: Buffer.from(await request.arrayBuffer()),
  });
  return { status: raw.statusCode, body: JSON.parse(raw.body) };
}

