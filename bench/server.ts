/**
 * A Retrace server started as `npm start` starts it (`retrace serve`, no demo workspace),
 * as a child process, and a client of its public HTTP API. The end-to-end benchmarks
 * create all their data through this client: what they time is what a user sees.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createDatabase, dropDatabase } from '../src/db/new-database.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const defaultServerUrl = 'postgres://postgres@127.0.0.1:5432/test';

export interface RunningServer {
  base: string;
  operatorToken: string;
  engine: 'server' | 'pglite';
  /** The database the server runs on, for the peer comparisons (server engine only). */
  databaseUrl: string | undefined;
  /** The server's process id (its memory can be read from /proc). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Runs one statement (ALTER, CREATE or DROP DATABASE) on the server at `serverUrl`, in a connection of its own. */
export async function onServer(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * Starts `retrace serve --no-demo` on a fresh database: a new database on the PostgreSQL
 * server (BENCH_SERVER_URL, dropped at stop), or a new PGlite directory.
 */
export async function startServer(engine: 'server' | 'pglite', name: string, env: Record<string, string> = {}): Promise<RunningServer> {
  const port = await freePort();
  const operatorToken = `op_bench_${process.pid}`;
  const serverUrl = process.env.BENCH_SERVER_URL ?? defaultServerUrl;
  const dbName = `retrace_e2e_${process.pid}_${name}`;
  let databaseUrl: string | undefined;
  let dataDir: string | undefined;
  if (engine === 'server') {
    // On a Citus coordinator, a database distributed over its workers (src/db/new-database.ts).
    await dropDatabase(serverUrl, dbName);
    databaseUrl = await createDatabase(serverUrl, dbName);
    // BENCH_AUTO_EXPLAIN=<ms> logs the plan, with its actual rows and times, of every
    // statement of the server's sessions slower than that to PostgreSQL's log: profiling
    // what the user waited on, as the server ran it, without statistics made for the run.
    const explainOver = process.env.BENCH_AUTO_EXPLAIN;
    if (explainOver) {
      if (!/^\d+$/.test(explainOver)) throw new Error('BENCH_AUTO_EXPLAIN must be a number of milliseconds');
      await onServer(serverUrl, `ALTER DATABASE ${dbName} SET session_preload_libraries = 'auto_explain'`);
      for (const [name, value] of [['log_min_duration', explainOver], ['log_analyze', 'on'], ['log_nested_statements', 'on'], ['log_timing', 'on'], ['log_triggers', 'on']]) {
        await onServer(serverUrl, `ALTER DATABASE ${dbName} SET auto_explain.${name} = '${value}'`);
      }
    }
    // BENCH_LOG_STATEMENTS=1 logs every statement the server sends, with its duration, and
    // nothing more: where a run's time went, at next to no cost to the run.
    if (process.env.BENCH_LOG_STATEMENTS === '1') await onServer(serverUrl, `ALTER DATABASE ${dbName} SET log_min_duration_statement = 0`);
  } else {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'retrace-e2e-'));
  }
  // On PGlite, BENCH_LOG_STATEMENTS=1 has the server log each statement over
  // BENCH_LOG_STATEMENTS_OVER_MS (default 20) itself, to this process's stderr.
  const logStatements = engine === 'pglite' && process.env.BENCH_LOG_STATEMENTS === '1';
  const statementLog = logStatements ? { RETRACE_LOG_STATEMENTS_OVER_MS: process.env.BENCH_LOG_STATEMENTS_OVER_MS ?? '20' } : {};
  // BENCH_CPU_PROF=<dir> writes the server's CPU profile there when it stops (node --cpu-prof).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, '--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve', '--no-demo'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      RETRACE_ADMIN_TOKEN: operatorToken,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_URL: '', RETRACE_DATA_DIR: dataDir }),
      ...statementLog,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  if (logStatements) child.stderr?.pipe(process.stderr);
  const base = `http://127.0.0.1:${port}/api/v1`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output}`);
    const ready = await fetch(`${base}/health`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`the server did not start in 120 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    base,
    operatorToken,
    engine,
    databaseUrl,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      // BENCH_KEEP=1 leaves the database behind to look at its plans afterwards.
      if (process.env.BENCH_KEEP === '1') return;
      if (engine === 'server') await dropDatabase(serverUrl, dbName);
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what} answered ${status}: ${JSON.stringify(body).slice(0, 500)}`);
  }
}

/** A client of one token: JSON in and out; any status but 2xx throws. */
export class ApiClient {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  async call<T = unknown>(method: string, url: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.base}${url}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, parsed, `${method} ${url}`);
    return parsed as T;
  }

  get = <T = unknown>(url: string) => this.call<T>('GET', url);
  post = <T = unknown>(url: string, body?: unknown) => this.call<T>('POST', url, body ?? {});
  put = <T = unknown>(url: string, body?: unknown) => this.call<T>('PUT', url, body ?? {});
  patch = <T = unknown>(url: string, body?: unknown) => this.call<T>('PATCH', url, body ?? {});
}

/** Runs `work` for each item with `concurrency` requests in flight. */
export async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i], i);
  });
  await Promise.all(runners);
}

/** Polls `read` every `everyMs` until `done` says so; returns the last value. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, everyMs = 100, timeoutMs = 3_600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting after ${timeoutMs} ms: ${JSON.stringify(value).slice(0, 300)}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
