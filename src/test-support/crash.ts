/**
 * The crash harness (issue 19): `retrace serve --no-demo` as a child process, killed with
 * SIGKILL at random moments of a restore and of a full rollback of a few thousand contacts
 * (while the request that creates the restore is under way, while jobs are claimed, planned
 * and written, while the server starts again), restarted each time on the same database
 * and port (so the same runner id, which takes the dead process's jobs over at once), and
 * then checked: every contact restored and revived exactly once, one audit entry each,
 * associations complete, the audit chain whole, every job succeeded.
 *
 * Run by src/jobs/crash.test.ts (a few kills per engine) and `npm run crash` (crash-run.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { ApiClient, freePort, onServer, pollUntil } from '../../bench/server.js';
import { connectPGlite, connectPostgres, type Database } from '../db/database.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type Engine = 'pglite' | 'server';

/** A small random number generator with a seed, so a run can be repeated. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** One server process at a time on one database and port, started again after each kill. */
export class CrashServer {
  private child: ChildProcess | null = null;
  private output = '';
  readonly operatorToken = `op_crash_${process.pid}`;
  base = '';

  private constructor(
    readonly engine: Engine,
    private readonly port: number,
    readonly databaseUrl: string | undefined,
    readonly dataDir: string,
    private readonly adminUrl: string | undefined,
    private readonly dbName: string | undefined,
    private readonly env: Record<string, string>,
  ) {}

  /** A fresh database (on `serverUrl` for the server engine, else a PGlite directory) and a port. */
  static async create(engine: Engine, options: { serverUrl?: string; env?: Record<string, string> } = {}): Promise<CrashServer> {
    const port = await freePort();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'retrace-crash-'));
    if (engine === 'pglite') return new CrashServer(engine, port, undefined, path.join(dataDir, 'db'), undefined, undefined, options.env ?? {});
    const serverUrl = options.serverUrl ?? 'postgres://postgres@127.0.0.1:5432/test';
    const dbName = `retrace_crash_${process.pid}_${port}`;
    await onServer(serverUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await onServer(serverUrl, `CREATE DATABASE ${dbName}`);
    const url = new URL(serverUrl);
    url.pathname = `/${dbName}`;
    return new CrashServer(engine, port, url.toString(), path.join(dataDir, 'db'), serverUrl, dbName, options.env ?? {});
  }

  /** Starts the server and waits until it answers; returns how long that took (ms). */
  async start(): Promise<number> {
    const started = Date.now();
    this.output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve', '--no-demo'], {
      cwd: root,
      env: {
        ...process.env,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        RETRACE_ADMIN_TOKEN: this.operatorToken,
        LOG_LEVEL: 'warn',
        ...(this.databaseUrl ? { DATABASE_URL: this.databaseUrl, RETRACE_DATA_DIR: this.dataDir } : { DATABASE_URL: '', RETRACE_DATA_DIR: this.dataDir }),
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (chunk) => (this.output += chunk));
    child.stderr?.on('data', (chunk) => (this.output += chunk));
    this.base = `http://127.0.0.1:${this.port}/api/v1`;
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${this.output}`);
      if (await fetch(`${this.base}/health`).then((r) => r.ok, () => false)) return Date.now() - started;
      if (Date.now() > deadline) throw new Error(`the server did not start in 120 s:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  get log(): string {
    return this.output;
  }

  /** Kills the server with `signal` and waits for it to exit; returns how long that took (ms). */
  async kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<number> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return 0;
    const started = Date.now();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = null;
    return Date.now() - started;
  }

  /** The database the server runs on, opened here (the server must be stopped for PGlite). */
  async open(): Promise<Database> {
    return this.databaseUrl ? connectPostgres(this.databaseUrl, 1) : connectPGlite(this.dataDir);
  }

  async remove(): Promise<void> {
    await this.kill('SIGKILL');
    if (this.adminUrl && this.dbName) await onServer(this.adminUrl, `DROP DATABASE IF EXISTS ${this.dbName} WITH (FORCE)`);
    await rm(path.dirname(this.dataDir), { recursive: true, force: true });
  }

  client(token: string): ApiClient {
    return new ApiClient(this.base, token);
  }
}


export interface CrashFigures {
  engine: Engine;
  contacts: number;
  kills: number;
  /** Kills that landed while a job was queued or running (the rest: between requests, or at start). */
  killsDuringJobs: number;
  /** From a restarted server answering to its first sign of the interrupted job moving on (ms), each. */
  resumeMs: number[];
  startMs: number[];
  restoreMs: number;
  rollbackMs: number;
}

interface Setup {
  ws: string;
  admin: ApiClient;
  approver: ApiClient;
  ids: string[];
}

const delayMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A workspace with `contacts` contacts imported, each on a list, with a tag and an account. */
async function setUp(server: CrashServer, contacts: number): Promise<Setup> {
  const operator = server.client(server.operatorToken);
  const created = await operator.post<{ workspace: { id: string }; token: string }>('/workspaces', { name: 'Crash', adminEmail: 'admin@crash.example' });
  const admin = server.client(created.token);
  const second = await admin.post<{ token: string }>('/users', { email: 'approver@crash.example', role: 'admin' });
  const approver = server.client(second.token);
  const list = await admin.post<{ id: string }>('/lists', { name: 'Customers' });
  const csv = ['email,first,last,list,tag,account', ...Array.from({ length: contacts }, (_, i) => `p${i}@crash.example,First${i},Last${i},yes,vip,Acme`)].join('\n');
  const form = new FormData();
  form.append('mapping', JSON.stringify({ mode: 'create', listStatus: 'subscribed', columns: { email: 'email', first: 'firstName', last: 'lastName', list: `list:${list.id}`, tag: 'tag', account: 'account' } }));
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'contacts.csv');
  const posted = await fetch(`${server.base}/imports`, { method: 'POST', headers: { authorization: `Bearer ${created.token}` }, body: form });
  if (posted.status !== 202) throw new Error(`import answered ${posted.status}: ${await posted.text()}`);
  const imported = (await posted.json()) as { id: string };
  await pollUntil(() => admin.get<{ status: string; created: number }>(`/imports/${imported.id}`), (i) => i.status === 'succeeded' || i.status === 'failed', 100, 300_000);
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { data: { id: string }[]; nextCursor: string | null } = await admin.get(`/contacts?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    ids.push(...page.data.map((c) => c.id));
    cursor = page.nextCursor;
  } while (cursor);
  if (ids.length !== contacts) throw new Error(`imported ${ids.length} contacts, not ${contacts}`);
  await allowMassDeletes(server, created.workspace.id);
  return { ws: created.workspace.id, admin, approver, ids };
}

/**
 * Deleting thousands of contacts is what the mass-delete guard holds: the harness's
 * workspace allows it (a setting with no route yet), set in the database, with the server
 * stopped on PGlite (its one process holds the directory).
 */
async function allowMassDeletes(server: CrashServer, workspaceId: string): Promise<void> {
  if (server.engine === 'pglite') await server.kill('SIGTERM');
  const database = await server.open();
  try {
    await sql`UPDATE workspaces SET mass_delete_max_contacts = 1000000, mass_delete_max_percent = 100 WHERE id = ${workspaceId}`.execute(database.db);
  } finally {
    await database.close();
  }
  if (server.engine === 'pglite') await server.start();
}

async function deleteAll(admin: ApiClient, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) await admin.post('/contacts/delete', { ids: ids.slice(i, i + 1000), confirm: true });
}

interface JobState {
  status: string;
  progress: string;
}

/**
 * Kills the server `kills` times at random moments (each between 0 and `withinMs` after
 * the last start, unread: on PGlite a read waits while a batch holds the one connection),
 * starting it again each time, until the job is over; then waits for its end. Records how
 * soon each restarted server moved the job on (the first read after the restart that
 * shows it further, or over).
 */
async function killDuring(server: CrashServer, read: () => Promise<JobState>, kills: number, random: () => number, withinMs: number, figures: CrashFigures): Promise<JobState> {
  for (let k = 0; k < kills; k += 1) {
    await delayMs(Math.floor(random() * withinMs));
    await server.kill('SIGKILL');
    figures.kills += 1;
    figures.startMs.push(await server.start());
    const restarted = Date.now();
    const found = await read();
    if (found.status === 'succeeded' || found.status === 'failed') break;
    figures.killsDuringJobs += 1;
    await pollUntil(read, (s) => s.progress !== found.progress || s.status === 'succeeded' || s.status === 'failed', 20, 120_000);
    figures.resumeMs.push(Date.now() - restarted);
  }
  return pollUntil(read, (s) => s.status === 'succeeded' || s.status === 'failed', 50, 600_000);
}

/** What must hold after every kill and restart, read from the database itself. */
export interface Invariants {
  contacts: number;
  active: number;
  restoredOnce: number;
  restoredMoreThanOnce: number;
  restoreAuditEntries: number;
  contactsWithTwoRestoreAudits: number;
  revivedOnce: number;
  revivedMoreThanOnce: number;
  listMemberships: number;
  contactTags: number;
  accountLinks: number;
  jobsNotSucceeded: number;
  auditChainOk: boolean;
}

async function readInvariants(database: Database, workspaceId: string, auditChainOk: boolean): Promise<Invariants> {
  const one = async (statement: ReturnType<typeof sql<{ n: number }>>) => (await statement.execute(database.db)).rows[0].n;
  const versionsPer = (origin: string) => sql<{ once: number; more: number }>`
    SELECT count(*) FILTER (WHERE n = 1)::int AS once, count(*) FILTER (WHERE n > 1)::int AS more
    FROM (SELECT id, count(*) AS n FROM contact_history WHERE workspace_id = ${workspaceId} AND origin = ${origin} GROUP BY id) v`;
  const restored = (await versionsPer('restore').execute(database.db)).rows[0];
  const revived = (await versionsPer('rollback').execute(database.db)).rows[0];
  const audits = (
    await sql<{ entries: number; twice: number }>`
      SELECT count(*)::int AS entries, (SELECT count(*)::int FROM (SELECT target_id FROM audit_log WHERE workspace_id = ${workspaceId} AND action = 'contact.restored' GROUP BY target_id HAVING count(*) > 1) t) AS twice
      FROM audit_log WHERE workspace_id = ${workspaceId} AND action = 'contact.restored'`.execute(database.db)
  ).rows[0];
  return {
    contacts: await one(sql`SELECT count(*)::int AS n FROM contacts WHERE workspace_id = ${workspaceId}`),
    active: await one(sql`SELECT count(*)::int AS n FROM contacts WHERE workspace_id = ${workspaceId} AND status = 'active'`),
    restoredOnce: restored.once,
    restoredMoreThanOnce: restored.more,
    restoreAuditEntries: audits.entries,
    contactsWithTwoRestoreAudits: audits.twice,
    revivedOnce: revived.once,
    revivedMoreThanOnce: revived.more,
    listMemberships: await one(sql`SELECT count(*)::int AS n FROM list_memberships WHERE workspace_id = ${workspaceId} AND status = 'subscribed'`),
    contactTags: await one(sql`SELECT count(*)::int AS n FROM contact_tags WHERE workspace_id = ${workspaceId}`),
    accountLinks: await one(sql`SELECT count(*)::int AS n FROM account_contacts WHERE workspace_id = ${workspaceId}`),
    jobsNotSucceeded: await one(sql`SELECT count(*)::int AS n FROM jobs WHERE workspace_id = ${workspaceId} AND status <> 'succeeded'`),
    auditChainOk,
  };
}

/** What every run must read: all of it, exactly once. */
export function expectedInvariants(contacts: number): Invariants {
  return {
    contacts,
    active: contacts,
    restoredOnce: contacts,
    restoredMoreThanOnce: 0,
    restoreAuditEntries: contacts,
    contactsWithTwoRestoreAudits: 0,
    revivedOnce: contacts,
    revivedMoreThanOnce: 0,
    listMemberships: contacts,
    contactTags: contacts,
    accountLinks: contacts,
    jobsNotSucceeded: 0,
    auditChainOk: true,
  };
}

/**
 * One run: contacts imported and deleted; a restore of all of them, created by a request
 * that may itself be killed, then killed `kills` times; all deleted again; a full rollback
 * to before that delete, approved, killed `kills` times (its plan included). Returns what
 * the database then holds, and the figures of the run.
 */
export async function crashRun(options: {
  engine: Engine;
  contacts: number;
  kills: number;
  seed: number;
  serverUrl?: string;
  batchSize?: number;
  killWithinMs?: number;
}): Promise<{ invariants: Invariants; figures: CrashFigures }> {
  const random = seeded(options.seed);
  const withinMs = options.killWithinMs ?? 1500;
  const server = await CrashServer.create(options.engine, {
    serverUrl: options.serverUrl,
    env: { RETRACE_JOB_BATCH_SIZE: String(options.batchSize ?? Math.max(50, Math.ceil(options.contacts / 20))) },
  });
  const figures: CrashFigures = { engine: options.engine, contacts: options.contacts, kills: 0, killsDuringJobs: 0, resumeMs: [], startMs: [], restoreMs: 0, rollbackMs: 0 };
  try {
    figures.startMs.push(await server.start());
    const setup = await setUp(server, options.contacts);
    await deleteAll(setup.admin, setup.ids);

    // The restore: its creating request may be cut short by a kill too.
    const restoreStarted = Date.now();
    const asked = setup.admin.post<{ id: string }>('/restore-jobs', { source: 'deleted', all: true }).catch(() => null);
    await delayMs(Math.floor(random() * 40));
    if (random() < 0.5) {
      await server.kill('SIGKILL');
      figures.kills += 1;
      figures.startMs.push(await server.start());
    }
    await asked;
    let jobs = await setup.admin.get<{ data: { id: string }[] }>('/restore-jobs');
    if (jobs.data.length === 0) await setup.admin.post('/restore-jobs', { source: 'deleted', all: true });
    jobs = await setup.admin.get<{ data: { id: string }[] }>('/restore-jobs');
    const restoreId = jobs.data[0].id;
    const readRestore = async () => {
      const job = await setup.admin.get<{ status: string; restored: number }>(`/restore-jobs/${restoreId}`);
      return { status: job.status, progress: `${job.status}:${job.restored}` };
    };
    const restore = await killDuring(server, readRestore, options.kills, random, withinMs, figures);
    figures.restoreMs = Date.now() - restoreStarted;
    if (restore.status !== 'succeeded') throw new Error(`the restore ended ${restore.status}`);

    // The full rollback: to a point before everyone was deleted again.
    await delayMs(20);
    const point = new Date().toISOString();
    await delayMs(20);
    // By the other admin: the mass-delete guard counts each one's deletes in its window.
    await deleteAll(setup.approver, setup.ids);
    const requested = await setup.admin.post<{ id: string }>('/rollbacks', { at: point, scope: { type: 'workspace' } });
    const rollbackStarted = Date.now();
    await setup.approver.post(`/rollbacks/${requested.id}/approve`);
    const readRollback = async () => {
      const job = await setup.admin.get<{ status: string; phase: string; progress: { contactsDone: number } }>(`/rollbacks/${requested.id}`);
      return { status: job.status, progress: `${job.status}:${job.phase}:${job.progress.contactsDone}` };
    };
    const rollback = await killDuring(server, readRollback, options.kills, random, withinMs, figures);
    figures.rollbackMs = Date.now() - rollbackStarted;
    if (rollback.status !== 'succeeded') throw new Error(`the rollback ended ${rollback.status}`);

    const verdict = await setup.admin.get<{ ok: boolean }>('/audit-log/verify');
    await server.kill('SIGTERM');
    const database = await server.open();
    try {
      return { invariants: await readInvariants(database, setup.ws, verdict.ok), figures };
    } finally {
      await database.close();
    }
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- server log ---\n${server.log.slice(-4000)}`);
  } finally {
    await server.remove();
  }
}

/**
 * SIGTERM while a long job runs: how long the server takes to exit, and, once started
 * again, how long until the job moves on and until it ends.
 */
export async function sigtermRun(options: {
  engine: Engine;
  contacts: number;
  serverUrl?: string;
  batchSize: number;
  stopAfterMs: number;
}): Promise<{ exitMs: number; resumeMs: number; doneAfterRestartMs: number; status: string; doneBeforeStop: boolean; progressAtStop: string }> {
  const server = await CrashServer.create(options.engine, { serverUrl: options.serverUrl, env: { RETRACE_JOB_BATCH_SIZE: String(options.batchSize) } });
  try {
    await server.start();
    const setup = await setUp(server, options.contacts);
    await delayMs(20);
    const point = new Date().toISOString();
    await delayMs(20);
    await deleteAll(setup.admin, setup.ids);
    const requested = await setup.admin.post<{ id: string }>('/rollbacks', { at: point, scope: { type: 'workspace' } });
    await setup.approver.post(`/rollbacks/${requested.id}/approve`);
    const read = async () => {
      const job = await setup.admin.get<{ status: string; phase: string; progress: { contactsDone: number } }>(`/rollbacks/${requested.id}`);
      return { status: job.status, progress: `${job.status}:${job.phase}:${job.progress.contactsDone}` };
    };
    // Into the job's writes (its plan takes a moment): on PGlite a read would wait for the job.
    await delayMs(options.stopAfterMs);
    const exitMs = await server.kill('SIGTERM');
    await server.start();
    const restarted = Date.now();
    const last = await read();
    const doneBeforeStop = last.status === 'succeeded';
    await pollUntil(read, (s) => s.progress !== last.progress || s.status !== 'running', 20, 120_000);
    const resumeMs = Date.now() - restarted;
    const done = await pollUntil(read, (s) => s.status === 'succeeded' || s.status === 'failed', 50, 600_000);
    return { exitMs, resumeMs, doneAfterRestartMs: Date.now() - restarted, status: done.status, doneBeforeStop, progressAtStop: last.progress };
  } finally {
    await server.remove();
  }
}
