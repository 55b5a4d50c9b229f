import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres, inTransaction, migrate, type Database } from '../db/database.js';
import { aWorkspace, createRunDatabase, testApp, testDatabase, type TestApp } from '../test-support/harness.js';
import { runnerIdentity, takeOverRunner } from './runner.js';
import { findJob, insertJob, runPendingJobs, type JobHandler } from './service.js';

/** A job that appends one number per batch to its checkpoint, up to `until`. */
const counting: JobHandler = {
  kind: 'test.runner-counting',
  origin: 'system',
  async step(_tx, job) {
    const seen = (job.progress.seen as number[] | undefined) ?? [];
    const next = seen.length + 1;
    return { progress: { seen: [...seen, next] }, done: next >= (job.params.until as number) };
  },
};

const runUrl = process.env.RETRACE_TEST_DATABASE;
let database: Database;
let app: TestApp;
const opened: Database[] = [];
beforeAll(async () => {
  // On the server: a database of its own, so the sessions a takeover ends are only this test's.
  if (runUrl) {
    const url = await createRunDatabase(runUrl, `runner_${process.env.VITEST_POOL_ID ?? process.pid}`);
    database = await connectPostgres(url, 2);
    opened.push(database);
    await migrate(database);
  } else {
    database = await testDatabase();
  }
  app = await testApp({ database });
});
afterAll(async () => {
  for (const d of opened) await d.close();
});

async function queueCounting(workspaceId: string, until: number) {
  const change = { workspaceId, actorId: null, origin: 'system' as const, at: app.clock.now() };
  return inTransaction(app.ctx.db, change, (tx) => insertJob(tx, change, { kind: counting.kind, status: 'queued', params: { until } }));
}

describe('a runner taking over after a crash', () => {
  it('releases the jobs an earlier process of the same runner held, so they resume at once, and leaves other runners’ alone', async () => {
    const ws = await aWorkspace(app);
    const dead = runnerIdentity('host-a:port 3000');
    const other = runnerIdentity('host-b:port 3000');
    const mine = await queueCounting(ws.id, 3);
    expect(await runPendingJobs(app.ctx, [counting], { workspaceId: ws.id, owner: dead.owner, maxSteps: 1 })).toBe(1);
    // As a killed process leaves it: running, leased for a while yet.
    await sql`UPDATE jobs SET lease_owner = ${dead.owner}, lease_until = now() + interval '30 seconds' WHERE workspace_id = ${ws.id} AND id = ${mine.id}`.execute(app.ctx.db);
    const ws2 = await aWorkspace(app);
    const theirs = await queueCounting(ws2.id, 3);
    await sql`UPDATE jobs SET status = 'running', lease_owner = ${other.owner}, lease_until = now() + interval '30 seconds' WHERE workspace_id = ${ws2.id} AND id = ${theirs.id}`.execute(app.ctx.db);

    const restarted = runnerIdentity('host-a:port 3000');
    expect((await takeOverRunner(database, restarted)).jobsReleased).toBe(1);
    expect(await runPendingJobs(app.ctx, [counting], { workspaceId: ws.id, owner: restarted.owner })).toBe(2);
    expect(await findJob(app.ctx.db, ws.id, mine.id)).toMatchObject({ status: 'succeeded', progress: { seen: [1, 2, 3] } });
    expect(await runPendingJobs(app.ctx, [counting], { workspaceId: ws2.id, owner: restarted.owner })).toBe(0);
  });

  it('ends the sessions a killed process of the runner left running, and with them the locks they held', async () => {
    const ws = await aWorkspace(app);
    if (!runUrl) {
      // PGlite is one process's embedded database: a dead process left no session behind.
      expect((await takeOverRunner(database, runnerIdentity('host-c:port 3000'))).sessionsEnded).toBe(0);
      return;
    }
    const dead = runnerIdentity('host-c:port 3000');
    const job = await queueCounting(ws.id, 1);
    await sql`UPDATE jobs SET status = 'running', lease_owner = ${dead.owner}, lease_until = now() + interval '30 seconds' WHERE workspace_id = ${ws.id} AND id = ${job.id}`.execute(app.ctx.db);
    const { rows } = await sql<{ url: string }>`SELECT current_database() AS url`.execute(app.ctx.db);
    const deadUrl = new URL(runUrl ?? '');
    deadUrl.pathname = `/${rows[0].url}`;
    const deadDatabase = await connectPostgres(deadUrl.toString(), 1, dead.applicationName);
    opened.push(deadDatabase);
    // The dead process's batch: the job's row locked, a long statement running.
    const stuck = deadDatabase.db.transaction().execute(async (tx) => {
      await sql`SELECT id FROM jobs WHERE workspace_id = ${ws.id} AND id = ${job.id} FOR UPDATE`.execute(tx);
      await sql`SELECT pg_sleep(60)`.execute(tx);
    });
    stuck.catch(() => {});
    for (let tries = 0; tries < 100; tries += 1) {
      const { rows: sleeping } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${dead.applicationName} AND query LIKE 'SELECT pg_sleep%'`.execute(app.ctx.db);
      if (sleeping[0].n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const started = Date.now();
    const restarted = runnerIdentity('host-c:port 3000');
    expect(await takeOverRunner(database, restarted)).toEqual({ sessionsEnded: 1, jobsReleased: 1 });
    await expect(stuck).rejects.toThrow(/terminat/);
    expect(await runPendingJobs(app.ctx, [counting], { workspaceId: ws.id, owner: restarted.owner })).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
