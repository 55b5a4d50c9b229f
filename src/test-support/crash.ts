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
import { aMailServer, type ReceivedMail } from './notification-peers.js';

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
  /** How many kills landed where: `job:phase` as read after the restart (`request` for a request cut short). */
  killSites: Record<string, number>;
  /** From a restarted server answering to its first sign of the interrupted job moving on (ms), each. */
  resumeMs: number[];
  startMs: number[];
  importMs: number;
  undoMs: number;
  restoreMs: number;
  rollbackMs: number;
  totalMs: number;
}

interface Setup {
  ws: string;
  admin: ApiClient;
  approver: ApiClient;
  operator: ApiClient;
  listId: string;
  token: string;
}

const delayMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How many contacts the run creates one by one through the API (origin user), each welcomed by an automation's email. */
export const welcomedContacts = 20;

/**
 * A workspace with a second admin (the approver), a list, and an automation that sends
 * each contact created by a user a welcome email; `welcomedContacts` contacts made so.
 */
async function setUpWorkspace(server: CrashServer): Promise<Setup> {
  const operator = server.client(server.operatorToken);
  const created = await operator.post<{ workspace: { id: string }; token: string }>('/workspaces', { name: 'Crash', adminEmail: 'admin@crash.example' });
  const admin = server.client(created.token);
  const second = await admin.post<{ token: string }>('/users', { email: 'approver@crash.example', role: 'admin' });
  const approver = server.client(second.token);
  const list = await admin.post<{ id: string }>('/lists', { name: 'Customers' });
  await admin.post('/automations', { name: 'Welcome', trigger: { type: 'contact.created' }, steps: [{ type: 'send_email', subject: 'Welcome' }] });
  for (let i = 0; i < welcomedContacts; i += 1) await admin.post('/contacts', { email: `w${i}@crash.example`, firstName: `Welcomed${i}` });
  await allowMassDeletes(admin);
  return { ws: created.workspace.id, admin, approver, operator, listId: list.id, token: created.token };
}

/** Posts the import of `contacts` contacts (each on the list, with a tag and an account); returns its id. */
async function postImport(server: CrashServer, setup: Setup, contacts: number): Promise<string> {
  const csv = ['email,first,last,list,tag,account', ...Array.from({ length: contacts }, (_, i) => `p${i}@crash.example,First${i},Last${i},yes,vip,Acme`)].join('\n');
  const form = new FormData();
  form.append('mapping', JSON.stringify({ mode: 'create', listStatus: 'subscribed', columns: { email: 'email', first: 'firstName', last: 'lastName', list: `list:${setup.listId}`, tag: 'tag', account: 'account' } }));
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'contacts.csv');
  const posted = await fetch(`${server.base}/imports`, { method: 'POST', headers: { authorization: `Bearer ${setup.token}` }, body: form });
  if (posted.status !== 202) throw new Error(`import answered ${posted.status}: ${await posted.text()}`);
  return ((await posted.json()) as { id: string }).id;
}

async function allContactIds(admin: ApiClient): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { data: { id: string }[]; nextCursor: string | null } = await admin.get(`/contacts?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    ids.push(...page.data.map((c) => c.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

/** The workspace of setUpWorkspace with `contacts` contacts imported (no kills): for the SIGTERM run. */
async function setUp(server: CrashServer, contacts: number): Promise<Setup & { ids: string[] }> {
  const setup = await setUpWorkspace(server);
  const importId = await postImport(server, setup, contacts);
  await pollUntil(() => setup.admin.get<{ status: string }>(`/imports/${importId}`), (i) => i.status === 'succeeded' || i.status === 'failed', 100, 300_000);
  return { ...setup, ids: await allContactIds(setup.admin) };
}

/** Deleting thousands of contacts is what the mass-delete guard holds: the harness's workspace allows it. */
async function allowMassDeletes(admin: ApiClient): Promise<void> {
  await admin.patch('/workspace', { massDelete: { maxContacts: 1_000_000, maxPercent: 100 } });
}

async function deleteAll(admin: ApiClient, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) await admin.post('/contacts/delete', { ids: ids.slice(i, i + 1000), confirm: true });
}

interface JobState {
  status: string;
  /** The phase of the job's last checkpoint (its status while queued). */
  phase: string;
  progress: string;
}

const over = (s: JobState) => s.status === 'succeeded' || s.status === 'failed';

/**
 * Kills the server `kills` times at random moments (the first between 0 and `firstWithinMs`
 * of now, the next between 0 and `withinMs` after the last start: unread, as on PGlite a
 * read waits while a batch holds the one connection), starting it again each time, until
 * the job is over; then waits for its end. Records where each kill landed (the phase the
 * restarted server reads), and how soon the restarted server moved the job on.
 */
async function killDuring(
  server: CrashServer,
  job: string,
  read: () => Promise<JobState>,
  kills: number,
  random: () => number,
  timing: { firstWithinMs: number; withinMs: number },
  figures: CrashFigures,
): Promise<JobState> {
  for (let k = 0; k < kills; k += 1) {
    await delayMs(Math.floor(random() * (k === 0 ? timing.firstWithinMs : timing.withinMs)));
    await server.kill('SIGKILL');
    figures.kills += 1;
    figures.startMs.push(await server.start());
    const restarted = Date.now();
    const found = await read();
    const site = `${job}:${over(found) ? 'after' : found.phase}`;
    figures.killSites[site] = (figures.killSites[site] ?? 0) + 1;
    if (over(found)) continue;
    figures.killsDuringJobs += 1;
    await pollUntil(read, (s) => s.progress !== found.progress || over(s), 20, 120_000);
    figures.resumeMs.push(Date.now() - restarted);
  }
  return pollUntil(read, over, 50, 600_000);
}

/** Kills the server 0–`withinMs` into a request (which may then have happened or not), and starts it again. */
async function killDuringRequest(server: CrashServer, request: () => Promise<unknown>, random: () => number, withinMs: number, figures: CrashFigures): Promise<void> {
  const asked = request().catch(() => null);
  await delayMs(Math.floor(random() * withinMs));
  await server.kill('SIGKILL');
  figures.kills += 1;
  figures.killSites['request'] = (figures.killSites['request'] ?? 0) + 1;
  await asked;
  figures.startMs.push(await server.start());
}

/** What must hold after every kill and restart, read from the database itself. */
export interface Invariants {
  contacts: number;
  active: number;
  /** Contacts with exactly one version of each job's origin, and those with more (a change applied twice). */
  importedOnce: number;
  importedMoreThanOnce: number;
  undoneOnce: number;
  undoneMoreThanOnce: number;
  restoredOnce: number;
  restoredMoreThanOnce: number;
  revivedOnce: number;
  revivedMoreThanOnce: number;
  restoreAuditEntries: number;
  contactsWithTwoRestoreAudits: number;
  /** Each contact's history, as the origins of its versions in order, and how many contacts have it. */
  histories: Record<string, number>;
  /** Audit entries of the jobs' own ends and requests, by action. */
  jobAudits: Record<string, number>;
  listMemberships: number;
  contactTags: number;
  accountLinks: number;
  jobsNotSucceeded: number;
  /** The automation's welcome messages in the ledger, and the mails the SMTP server got for them. */
  messagesInLedger: number;
  messagesMailed: number;
  messagesMailedTwice: number;
  auditChainOk: boolean;
}

async function readInvariants(database: Database, workspaceId: string, auditChainOk: boolean, mails: ReceivedMail[]): Promise<Omit<Invariants, never>> {
  const one = async (statement: ReturnType<typeof sql<{ n: number }>>) => (await statement.execute(database.db)).rows[0].n;
  const versionsPer = async (origin: string) =>
    (
      await sql<{ once: number; more: number }>`
        SELECT count(*) FILTER (WHERE n = 1)::int AS once, count(*) FILTER (WHERE n > 1)::int AS more
        FROM (SELECT id, count(*) AS n FROM contact_history WHERE workspace_id = ${workspaceId} AND origin = ${origin} GROUP BY id) v`.execute(database.db)
    ).rows[0];
  const [imported, undone, restored, revived] = [await versionsPer('import'), await versionsPer('undo'), await versionsPer('restore'), await versionsPer('rollback')];
  const audits = (
    await sql<{ entries: number; twice: number }>`
      SELECT count(*)::int AS entries, (SELECT count(*)::int FROM (SELECT target_id FROM audit_log WHERE workspace_id = ${workspaceId} AND action = 'contact.restored' GROUP BY target_id HAVING count(*) > 1) t) AS twice
      FROM audit_log WHERE workspace_id = ${workspaceId} AND action = 'contact.restored'`.execute(database.db)
  ).rows[0];
  const histories = await sql<{ origins: string; n: number }>`
    SELECT origins, count(*)::int AS n FROM (
      SELECT id, string_agg(origin || ':' || op, ',' ORDER BY version) AS origins FROM contact_history WHERE workspace_id = ${workspaceId} GROUP BY id) h
    GROUP BY origins`.execute(database.db);
  const jobAudits = await sql<{ action: string; n: number }>`
    SELECT action, count(*)::int AS n FROM audit_log
    WHERE workspace_id = ${workspaceId} AND action IN ('import.created', 'import.finished', 'undo.requested', 'undo.completed', 'restore_job.created', 'rollback.requested', 'rollback.approved', 'rollback.completed')
    GROUP BY action`.execute(database.db);
  const welcome = mails.filter((m) => m.header('X-Retrace-Message-Id'));
  const byId = new Map<string, number>();
  for (const m of welcome) byId.set(m.header('X-Retrace-Message-Id') as string, (byId.get(m.header('X-Retrace-Message-Id') as string) ?? 0) + 1);
  return {
    contacts: await one(sql`SELECT count(*)::int AS n FROM contacts WHERE workspace_id = ${workspaceId}`),
    active: await one(sql`SELECT count(*)::int AS n FROM contacts WHERE workspace_id = ${workspaceId} AND status = 'active'`),
    importedOnce: imported.once,
    importedMoreThanOnce: imported.more,
    undoneOnce: undone.once,
    undoneMoreThanOnce: undone.more,
    restoredOnce: restored.once,
    restoredMoreThanOnce: restored.more,
    revivedOnce: revived.once,
    revivedMoreThanOnce: revived.more,
    restoreAuditEntries: audits.entries,
    contactsWithTwoRestoreAudits: audits.twice,
    histories: Object.fromEntries(histories.rows.map((r) => [r.origins, r.n])),
    jobAudits: Object.fromEntries(jobAudits.rows.map((r) => [r.action, r.n])),
    listMemberships: await one(sql`SELECT count(*)::int AS n FROM list_memberships WHERE workspace_id = ${workspaceId} AND status = 'subscribed'`),
    contactTags: await one(sql`SELECT count(*)::int AS n FROM contact_tags WHERE workspace_id = ${workspaceId}`),
    accountLinks: await one(sql`SELECT count(*)::int AS n FROM account_contacts WHERE workspace_id = ${workspaceId}`),
    jobsNotSucceeded: await one(sql`SELECT count(*)::int AS n FROM jobs WHERE workspace_id = ${workspaceId} AND status <> 'succeeded'`),
    messagesInLedger: await one(sql`SELECT count(*)::int AS n FROM messages WHERE workspace_id = ${workspaceId}`),
    messagesMailed: byId.size,
    messagesMailedTwice: [...byId.values()].filter((n) => n > 1).length,
    auditChainOk,
  };
}

/**
 * What every run must read: all of it, exactly once. `mailed`: how many welcome messages
 * reached the SMTP server (a kill between a message's claim and its handing over loses it:
 * the ledger sends at most once), which only the run itself knows.
 */
export function expectedInvariants(contacts: number, mailed: number): Invariants {
  const everyone = contacts + welcomedContacts;
  return {
    contacts: everyone,
    active: everyone,
    importedOnce: contacts,
    importedMoreThanOnce: 0,
    undoneOnce: contacts,
    undoneMoreThanOnce: 0,
    restoredOnce: contacts,
    restoredMoreThanOnce: 0,
    revivedOnce: everyone,
    revivedMoreThanOnce: 0,
    restoreAuditEntries: contacts,
    contactsWithTwoRestoreAudits: 0,
    histories: {
      // imported, undone, restored, deleted, revived: each once, in that order
      'import:insert,undo:update,restore:update,user:update,rollback:update': contacts,
      // created, deleted, revived
      'user:insert,user:update,rollback:update': welcomedContacts,
    },
    jobAudits: {
      'import.created': 1,
      'import.finished': 1,
      'undo.requested': 1,
      'undo.completed': 1,
      'restore_job.created': 1,
      'rollback.requested': 1,
      'rollback.approved': 1,
      'rollback.completed': 1,
    },
    listMemberships: contacts,
    contactTags: contacts,
    accountLinks: contacts,
    jobsNotSucceeded: 0,
    messagesInLedger: welcomedContacts,
    messagesMailed: mailed,
    messagesMailedTwice: 0,
    auditChainOk: true,
  };
}

/**
 * One run, each job killed `kills` times and each creating request once, on one database:
 * `welcomedContacts` contacts made by a user, whose welcome emails a maintenance pass sends
 * (killed during it once); `contacts` imported (the import killed); the import undone
 * (`POST /undos {cause:{importId}}`, the request and the job killed, its plan included);
 * every deleted contact restored (the request and the job killed); everyone deleted and
 * the workspace rolled back to before (the approval and the job killed, its plan
 * included). Then one more maintenance pass, and the invariants, read from the database
 * and the SMTP server that got the emails.
 */
export async function crashRun(options: {
  engine: Engine;
  contacts: number;
  kills: number;
  seed: number;
  serverUrl?: string;
  batchSize?: number;
  killWithinMs?: number;
}): Promise<{ invariants: Invariants; expected: Invariants; figures: CrashFigures }> {
  const random = seeded(options.seed);
  const timing = { withinMs: options.killWithinMs ?? 1500, firstWithinMs: 400 };
  const mail = await aMailServer();
  const server = await CrashServer.create(options.engine, {
    serverUrl: options.serverUrl,
    env: { RETRACE_JOB_BATCH_SIZE: String(options.batchSize ?? Math.max(50, Math.ceil(options.contacts / 20))), SMTP_URL: mail.url },
  });
  const figures: CrashFigures = {
    engine: options.engine, contacts: options.contacts, kills: 0, killsDuringJobs: 0, killSites: {}, resumeMs: [], startMs: [],
    importMs: 0, undoMs: 0, restoreMs: 0, rollbackMs: 0, totalMs: 0,
  };
  const started = Date.now();
  try {
    figures.startMs.push(await server.start());
    const setup = await setUpWorkspace(server);
    const { admin, approver, operator } = setup;

    // The welcome emails: a maintenance pass cut short, then one to its end.
    await killDuringRequest(server, () => operator.post('/maintenance/run'), random, 300, figures);
    await operator.post('/maintenance/run');

    // The import, killed while it loads.
    const importStarted = Date.now();
    const importId = await postImport(server, setup, options.contacts);
    const readImport = async () => {
      const i = await admin.get<{ status: string; bytesRead: number; created: number }>(`/imports/${importId}`);
      return { status: i.status, phase: i.status === 'running' ? 'loading' : i.status, progress: `${i.status}:${i.bytesRead}:${i.created}` };
    };
    const imported = await killDuring(server, 'import', readImport, options.kills, random, timing, figures);
    figures.importMs = Date.now() - importStarted;
    if (imported.status !== 'succeeded') throw new Error(`the import ended ${imported.status}`);

    // Its undo: the request, then the job (its plan first) killed.
    const undoStarted = Date.now();
    await killDuringRequest(server, () => admin.post('/undos', { cause: { importId } }), random, 60, figures);
    let undos = await admin.get<{ data: { id: string }[] }>('/undos');
    if (undos.data.length === 0) await admin.post('/undos', { cause: { importId } });
    undos = await admin.get<{ data: { id: string }[] }>('/undos');
    const undoId = undos.data[0].id;
    const readUndo = async () => {
      const u = await admin.get<{ status: string; phase: string; progress: { contactsDone: number } }>(`/undos/${undoId}`);
      return { status: u.status, phase: u.status === 'queued' ? 'queued' : u.phase, progress: `${u.status}:${u.phase}:${u.progress.contactsDone}` };
    };
    const undone = await killDuring(server, 'undo', readUndo, options.kills, random, timing, figures);
    figures.undoMs = Date.now() - undoStarted;
    if (undone.status !== 'succeeded') throw new Error(`the undo ended ${undone.status}`);

    // The restore of everyone the undo sent to the bin: the request, then the job killed.
    const restoreStarted = Date.now();
    await killDuringRequest(server, () => admin.post('/restore-jobs', { source: 'deleted', all: true }), random, 40, figures);
    let jobs = await admin.get<{ data: { id: string }[] }>('/restore-jobs');
    if (jobs.data.length === 0) await admin.post('/restore-jobs', { source: 'deleted', all: true });
    jobs = await admin.get<{ data: { id: string }[] }>('/restore-jobs');
    const restoreId = jobs.data[0].id;
    const readRestore = async () => {
      const job = await admin.get<{ status: string; restored: number }>(`/restore-jobs/${restoreId}`);
      return { status: job.status, phase: job.status === 'running' ? 'restoring' : job.status, progress: `${job.status}:${job.restored}` };
    };
    const restore = await killDuring(server, 'restore', readRestore, options.kills, random, timing, figures);
    figures.restoreMs = Date.now() - restoreStarted;
    if (restore.status !== 'succeeded') throw new Error(`the restore ended ${restore.status}`);

    // The full rollback: to a point before everyone was deleted again (by the other
    // admin: the mass-delete guard counts each one's deletes in its window).
    const ids = await allContactIds(admin);
    await delayMs(20);
    const point = new Date().toISOString();
    await delayMs(20);
    await deleteAll(approver, ids);
    const requested = await admin.post<{ id: string }>('/rollbacks', { at: point, scope: { type: 'workspace' } });
    const rollbackStarted = Date.now();
    const readRollback = async () => {
      const job = await admin.get<{ status: string; phase: string; progress: { contactsDone: number } }>(`/rollbacks/${requested.id}`);
      return { status: job.status, phase: job.status === 'running' ? job.phase : job.status, progress: `${job.status}:${job.phase}:${job.progress.contactsDone}` };
    };
    await killDuringRequest(server, () => approver.post(`/rollbacks/${requested.id}/approve`), random, 60, figures);
    if ((await readRollback()).status === 'awaiting_approval') await approver.post(`/rollbacks/${requested.id}/approve`);
    const rollback = await killDuring(server, 'rollback', readRollback, options.kills, random, timing, figures);
    figures.rollbackMs = Date.now() - rollbackStarted;
    if (rollback.status !== 'succeeded') throw new Error(`the rollback ended ${rollback.status}`);

    await operator.post('/maintenance/run');
    const verdict = await admin.get<{ ok: boolean }>('/audit-log/verify');
    await server.kill('SIGTERM');
    const database = await server.open();
    try {
      const invariants = await readInvariants(database, setup.ws, verdict.ok, mail.received);
      figures.totalMs = Date.now() - started;
      return { invariants, expected: expectedInvariants(options.contacts, invariants.messagesMailed), figures };
    } finally {
      await database.close();
    }
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- server log ---\n${server.log.slice(-4000)}`);
  } finally {
    await server.remove();
    await mail.close();
  }
}

/**
 * SIGTERM while a long job runs (once it has written its first contacts, however fast its
 * plan was): how long the server takes to exit, and, once started again, how long until
 * the job moves on and until it ends.
 */
export async function sigtermRun(options: {
  engine: Engine;
  contacts: number;
  serverUrl?: string;
  batchSize: number;
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
      return { status: job.status, phase: job.phase, done: job.progress.contactsDone, progress: `${job.status}:${job.phase}:${job.progress.contactsDone}` };
    };
    // Into the job's writes (on PGlite a read waits for the batch under way: a short one).
    await pollUntil(read, (s) => s.status !== 'queued' && s.status !== 'running' ? true : s.done > 0, 20, 120_000);
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
