import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import { connectPostgres, inTransaction, migrate, type Database } from '../db/database.js';
import { aContact, aWorkspace, createRunDatabase, oneConnectionDatabase, testApp, type TestApp } from '../test-support/harness.js';
import { jobHandlers } from './handlers.js';
import { findJob, insertJob, type JobHandler } from './service.js';
import { jobConcurrency, JobWorker } from './worker.js';

const runUrl = process.env.RETRACE_TEST_DATABASE;
let database: Database;
let app: TestApp;
beforeAll(async () => {
  // A database of its own: a worker claims every workspace's jobs, and the shared one holds
  // jobs other files left queued on purpose.
  database = runUrl
    ? await connectPostgres(await createRunDatabase(runUrl, `pool_${process.env.VITEST_POOL_ID ?? process.pid}`), 8)
    : (await oneConnectionDatabase()).database;
  await migrate(database);
  app = await testApp({ database });
});
afterAll(async () => {
  await database.close();
});

/**
 * Jobs whose one batch waits until `meeting` jobs have entered theirs: a pool that ran
 * fewer at once would never get there (the wait gives up after 10 s, and the job fails).
 * It records how many batches were under way at once, in all and in one workspace.
 */
function meetingJobs(meeting: number, lane?: string) {
  let entered = 0;
  const inside = new Map<string, number>();
  const most = { inAll: 0, inOneWorkspace: 0 };
  let allIn = () => {};
  const met = new Promise<void>((resolve) => (allIn = resolve));
  const handler: JobHandler = {
    kind: lane ? 'test.meeting-in-lane' : 'test.meeting',
    ...(lane ? { lane } : {}),
    origin: 'system',
    async step(tx, job) {
      entered += 1;
      inside.set(job.workspaceId, (inside.get(job.workspaceId) ?? 0) + 1);
      most.inAll = Math.max(most.inAll, [...inside.values()].reduce((a, b) => a + b, 0));
      most.inOneWorkspace = Math.max(most.inOneWorkspace, ...inside.values());
      if (entered >= meeting) allIn();
      const timedOut = await Promise.race([met.then(() => false), delay(10_000, true)]);
      await sql`SELECT 1`.execute(tx);
      inside.set(job.workspaceId, (inside.get(job.workspaceId) ?? 0) - 1);
      if (timedOut) throw new Error(`only ${entered} of ${meeting} jobs ran at once`);
      return { progress: {}, done: true };
    },
  };
  return { handler, most, met };
}

async function queue(workspaceId: string, handler: JobHandler, params: Record<string, unknown> = {}) {
  const change = { workspaceId, actorId: null, origin: 'system' as const, at: app.clock.now() };
  return inTransaction(app.ctx.db, change, (tx) => insertJob(tx, change, { kind: handler.kind, lane: handler.lane, status: 'queued', params }));
}

/** A worker over the test's database, as `serve` makes one, with RETRACE_JOB_CONCURRENCY set to `concurrency`. */
function poolOf(concurrency: number, handlers: readonly JobHandler[]): JobWorker {
  const worker: JobWorker = new JobWorker(() => ctx, 0, handlers);
  const ctx: AppContext = { ...app.ctx, config: { ...app.ctx.config, jobConcurrency: concurrency }, jobRunner: { stopping: () => worker.isStopping, running: () => worker.isRunningJobs } };
  return worker;
}

const statusOf = async (workspaceId: string, jobId: string) => (await findJob(app.ctx.db, workspaceId, jobId))?.status;

describe('how many jobs run at once', () => {
  it('runs as many as RETRACE_JOB_CONCURRENCY says on the server (four by default), and one at a time on PGlite', () => {
    const on = (engine: Database['engine'], concurrency?: number) =>
      jobConcurrency({ database: { ...database, engine }, config: { ...app.ctx.config, jobConcurrency: concurrency } });
    expect([on('postgres'), on('postgres', 7), on('pglite'), on('pglite', 7)]).toEqual([4, 7, 1, 1]);
  });
});

describe('whether the worker is running jobs (what yields to them asks)', () => {
  it('is from the kick for a job just queued, through its batches, until its pass has run out of jobs', async () => {
    const ws = await aWorkspace(app);
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered = () => {};
    const inBatch = new Promise<void>((resolve) => (entered = resolve));
    const held: JobHandler = {
      kind: 'test.held',
      origin: 'system',
      async step(tx) {
        entered();
        await released;
        await sql`SELECT 1`.execute(tx);
        return { progress: {}, done: true };
      },
    };
    const worker = poolOf(4, [held]);
    const before = worker.isRunningJobs;
    await queue(ws.id, held);
    worker.kick();
    const atKick = worker.isRunningJobs;
    await inBatch;
    const inside = worker.isRunningJobs;
    release();
    await worker.idle();
    expect([before, atKick, inside, worker.isRunningJobs]).toEqual([false, true, true, false]);
  });
});

/** How many jobs the tests' pools can run at once: two on the server, PGlite's one. */
const atOnce = runUrl ? 2 : 1;

describe('jobs of different workspaces side by side (on the server; one at a time on PGlite)', () => {
  it('runs the jobs of two workspaces at the same time, each inside its batch while the other is', async () => {
    const [a, b] = [await aWorkspace(app), await aWorkspace(app)];
    const { handler, most } = meetingJobs(atOnce);
    const jobs = [await queue(a.id, handler), await queue(b.id, handler)];
    const worker = poolOf(4, [handler]);
    worker.kick();
    await worker.idle();
    expect(most).toEqual({ inAll: atOnce, inOneWorkspace: 1 });
    expect([await statusOf(a.id, jobs[0].id), await statusOf(b.id, jobs[1].id)]).toEqual(['succeeded', 'succeeded']);
  });

  it('runs no more jobs at once than the pool holds, and the rest as runners come free', async () => {
    const workspaces = [await aWorkspace(app), await aWorkspace(app), await aWorkspace(app)];
    const { handler, most } = meetingJobs(atOnce);
    const jobs = [];
    for (const ws of workspaces) jobs.push(await queue(ws.id, handler));
    const worker = poolOf(2, [handler]);
    worker.kick();
    await worker.idle();
    expect(most.inAll).toBe(atOnce);
    expect(await Promise.all(jobs.map((j) => statusOf(j.workspaceId, j.id)))).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('gives a free runner to the next workspace rather than a second job to a workspace already running one', async () => {
    const [a, b] = [await aWorkspace(app), await aWorkspace(app)];
    const { handler, most } = meetingJobs(atOnce, 'test-pool-lane');
    // A's two jobs are the oldest: a runner that took the oldest job whatever its workspace would run both at once and never meet B's.
    const jobs = [await queue(a.id, handler), await queue(a.id, handler), await queue(b.id, handler)];
    const worker = poolOf(4, [handler]);
    worker.kick();
    await worker.idle();
    expect(most).toEqual({ inAll: atOnce, inOneWorkspace: 1 });
    expect(await Promise.all(jobs.map((j) => statusOf(j.workspaceId, j.id)))).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('restores contacts in one workspace to the end while another workspace is inside a long job', async () => {
    const [long, other] = [await aWorkspace(app), await aWorkspace(app)];
    const contact = await aContact(other);
    await other.api('DELETE', `/contacts/${contact.id}`);
    let restoreId = '';
    let restoreEndedFirst = false;
    // Inside its batch until the other workspace's restore has ended (on the server, for up
    // to 10 s; PGlite's one connection runs the restore only after it, so it looks once).
    const longJob: JobHandler = {
      kind: 'test.long',
      origin: 'system',
      async step(tx) {
        for (let waited = 0; !restoreEndedFirst; waited += 20) {
          const { rows } = await sql<{ status: string }>`SELECT status FROM jobs WHERE workspace_id = ${other.id} AND id = ${restoreId}`.execute(tx);
          restoreEndedFirst = rows[0]?.status === 'succeeded';
          if (!runUrl || waited >= 10_000) break;
          await delay(20);
        }
        return { progress: {}, done: true };
      },
    };
    const longRun = await queue(long.id, longJob);
    const worker = poolOf(4, [longJob, ...jobHandlers]);
    const requested = await other.api('POST', '/restore-jobs', { source: 'deleted', contactIds: [contact.id] });
    expect(requested.status).toBe(202);
    restoreId = requested.body.id;
    worker.kick();
    await worker.idle();
    expect(restoreEndedFirst).toBe(Boolean(runUrl));
    expect((await other.api('GET', `/contacts/${contact.id}`)).status).toBe(200);
    expect(await statusOf(long.id, longRun.id)).toBe('succeeded');
  });

  it('stops every running job at its next batch boundary, releasing each for the next start', async () => {
    const [a, b] = [await aWorkspace(app), await aWorkspace(app)];
    const running = new Set<string>();
    let allStarted = () => {};
    const started = new Promise<void>((resolve) => (allStarted = resolve));
    const endless: JobHandler = {
      kind: 'test.endless',
      origin: 'system',
      async step(_tx, job) {
        running.add(job.workspaceId);
        if (running.size === atOnce) allStarted();
        await delay(5);
        return { progress: { batches: ((job.progress.batches as number | undefined) ?? 0) + 1 }, done: false };
      },
    };
    const jobs = [await queue(a.id, endless), await queue(b.id, endless)];
    const worker = poolOf(4, [endless]);
    worker.kick();
    await started;
    await worker.stop();
    const { rows } = await sql<{ workspace_id: string; status: string; lease_owner: string | null; batches: number | null }>`
      SELECT workspace_id, status, lease_owner, (progress->>'batches')::int AS batches FROM jobs
      WHERE (workspace_id = ${a.id} AND id = ${jobs[0].id}) OR (workspace_id = ${b.id} AND id = ${jobs[1].id})`.execute(app.ctx.db);
    const byWorkspace = new Map(rows.map((r) => [r.workspace_id, [r.status, r.lease_owner, (r.batches ?? 0) > 0]]));
    // On PGlite the second waits, queued, for the first: the one job at a time there.
    expect([byWorkspace.get(a.id), byWorkspace.get(b.id)]).toEqual([['running', null, true], runUrl ? ['running', null, true] : ['queued', null, false]]);
  });
});
