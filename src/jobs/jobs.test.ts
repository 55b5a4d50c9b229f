import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../db/database.js';
import { aWorkspace, testApp, type TestApp } from '../test-support/harness.js';
import { batchAttempts, insertJob, runPendingJobs, withOneActiveJob, findJob, type JobHandler } from './service.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

/** A job that appends one number per batch to its checkpoint, up to `until`. */
const counting: JobHandler = {
  kind: 'test.counting',
  origin: 'system',
  async step(tx, job) {
    const seen = (job.progress.seen as number[] | undefined) ?? [];
    const next = seen.length + 1;
    await sql`SELECT ${next}::int`.execute(tx);
    const progress = { seen: [...seen, next] };
    return { progress, done: next >= (job.params.until as number), result: { count: next } };
  },
};

/** The same job, queued in a lane of its own instead of the workspace's one slot. */
const countingInLane: JobHandler = { ...counting, kind: 'test.counting-in-lane', lane: 'test-lane' };

async function queueCounting(workspaceId: string, until: number, handler: JobHandler = counting) {
  const change = { workspaceId, actorId: null, origin: 'system' as const, at: app.clock.now() };
  return withOneActiveJob(app.ctx.db, workspaceId, () =>
    inTransaction(app.ctx.db, change, (tx) => insertJob(tx, change, { kind: handler.kind, lane: handler.lane, status: 'queued', params: { until } })),
  );
}

describe('durable jobs', () => {
  it('refuses a second active job in the same workspace with restore_job_running naming the first', async () => {
    const ws = await aWorkspace(app);
    const first = await queueCounting(ws.id, 2);
    await expect(queueCounting(ws.id, 2)).rejects.toMatchObject({ status: 409, code: 'restore_job_running', details: { jobId: first.id } });
  });

  it('resumes a job stopped mid-way from its last committed checkpoint, running each batch once', async () => {
    const ws = await aWorkspace(app);
    const job = await queueCounting(ws.id, 5);
    expect(await runPendingJobs(app.ctx, [counting], { workspaceId: ws.id, maxSteps: 2 })).toBe(2);
    expect(await findJob(app.ctx.db, ws.id, job.id)).toMatchObject({ status: 'running', progress: { seen: [1, 2] } });
    expect(await runPendingJobs(app.ctx, [counting], { workspaceId: ws.id })).toBe(3);
    expect(await findJob(app.ctx.db, ws.id, job.id)).toMatchObject({ status: 'succeeded', progress: { seen: [1, 2, 3, 4, 5] }, result: { count: 5 } });
  });

  it('stops at the next batch boundary when asked to, releasing the job so the next pass resumes it at once', async () => {
    const ws = await aWorkspace(app);
    const job = await queueCounting(ws.id, 5);
    let batches = 0;
    const stopAfterTwo: JobHandler = { ...counting, async step(tx, j, change, ctx) { batches += 1; return counting.step(tx, j, change, ctx); } };
    expect(await runPendingJobs(app.ctx, [stopAfterTwo], { workspaceId: ws.id, stopping: () => batches >= 2 })).toBe(2);
    const { rows } = await sql<{ lease_owner: string | null }>`SELECT lease_owner FROM jobs WHERE workspace_id = ${ws.id} AND id = ${job.id}`.execute(app.ctx.db);
    expect(rows).toEqual([{ lease_owner: null }]);
    expect(await findJob(app.ctx.db, ws.id, job.id)).toMatchObject({ status: 'running', progress: { seen: [1, 2] } });
    expect(await runPendingJobs(app.ctx, [counting], { workspaceId: ws.id })).toBe(3);
  });

  it('frees the slot when a job ends, so the next one can be queued', async () => {
    const ws = await aWorkspace(app);
    await queueCounting(ws.id, 1);
    await runPendingJobs(app.ctx, [counting], { workspaceId: ws.id });
    const second = await queueCounting(ws.id, 1);
    expect(second.status).toBe('queued');
  });

  it('marks a job failed with its error when a batch throws, and rolls that batch back', async () => {
    const ws = await aWorkspace(app);
    const failing: JobHandler = { ...counting, async step() { throw new Error('boom'); } };
    const job = await queueCounting(ws.id, 3);
    await runPendingJobs(app.ctx, [failing], { workspaceId: ws.id });
    expect(await findJob(app.ctx.db, ws.id, job.id)).toMatchObject({ status: 'failed', error: 'boom', progress: {} });
  });

  it('runs a batch again when the database picks it as a deadlock victim, and fails it after a bounded number of tries', async () => {
    const ws = await aWorkspace(app);
    let tries = 0;
    const conflict = (code: string) => Object.assign(new Error(`conflict ${code}`), { code });
    const onceDeadlocked: JobHandler = {
      ...counting,
      async step(tx, job, change, ctx) {
        tries += 1;
        if (tries === 1) throw conflict('40P01');
        if (tries === 2) throw conflict('40001');
        return counting.step(tx, job, change, ctx);
      },
    };
    const job = await queueCounting(ws.id, 1);
    await runPendingJobs(app.ctx, [onceDeadlocked], { workspaceId: ws.id });
    expect(tries).toBe(3);
    expect(await findJob(app.ctx.db, ws.id, job.id)).toMatchObject({ status: 'succeeded', progress: { seen: [1] } });

    tries = 0;
    const alwaysDeadlocked: JobHandler = { ...counting, async step() { tries += 1; throw conflict('40P01'); } };
    const doomed = await queueCounting(ws.id, 1);
    await runPendingJobs(app.ctx, [alwaysDeadlocked], { workspaceId: ws.id });
    expect(tries).toBe(batchAttempts);
    expect(await findJob(app.ctx.db, ws.id, doomed.id)).toMatchObject({ status: 'failed', error: 'conflict 40P01' });
  });

  it('lets a failed job clean up its work data in the transaction that marks it failed', async () => {
    const ws = await aWorkspace(app);
    const cleaned: { status: string }[] = [];
    const failing: JobHandler = {
      ...counting,
      async step() {
        throw new Error('boom');
      },
      async cleanUp(tx, job) {
        const { rows } = await sql<{ status: string }>`SELECT status FROM jobs WHERE workspace_id = ${job.workspaceId} AND id = ${job.id}`.execute(tx);
        cleaned.push(rows[0]);
      },
    };
    await queueCounting(ws.id, 3);
    await runPendingJobs(app.ctx, [failing], { workspaceId: ws.id });
    expect(cleaned).toEqual([{ status: 'failed' }]);
  });

  it('queues a job of a lane beside the slot: a lane job neither waits for the slot job nor holds it', async () => {
    const ws = await aWorkspace(app);
    const inLane = await queueCounting(ws.id, 1, countingInLane);
    const inSlot = await queueCounting(ws.id, 1);
    expect([inLane.status, inSlot.status]).toEqual(['queued', 'queued']);
    expect(await runPendingJobs(app.ctx, [counting, countingInLane], { workspaceId: ws.id, lane: null })).toBe(1);
    expect((await findJob(app.ctx.db, ws.id, inSlot.id))?.status).toBe('succeeded');
    expect((await findJob(app.ctx.db, ws.id, inLane.id))?.status).toBe('queued');
  });

  it("runs a lane's jobs of one workspace one at a time, oldest first", async () => {
    const ws = await aWorkspace(app);
    const first = await queueCounting(ws.id, 3, countingInLane);
    const second = await queueCounting(ws.id, 1, countingInLane);
    await runPendingJobs(app.ctx, [countingInLane], { workspaceId: ws.id, lane: 'test-lane', maxSteps: 1 });
    // Another runner holds the first one now: the second waits for it rather than running beside it.
    await sql`UPDATE jobs SET lease_owner = 'another runner', lease_until = now() + interval '1 hour' WHERE workspace_id = ${ws.id} AND id = ${first.id}`.execute(app.ctx.db);
    expect(await runPendingJobs(app.ctx, [countingInLane], { workspaceId: ws.id, lane: 'test-lane' })).toBe(0);
    expect((await findJob(app.ctx.db, ws.id, second.id))?.status).toBe('queued');
    // That runner stopped: its lease is gone, and the first is resumed, then the second runs.
    await sql`UPDATE jobs SET lease_until = NULL WHERE workspace_id = ${ws.id} AND id = ${first.id}`.execute(app.ctx.db);
    await runPendingJobs(app.ctx, [countingInLane], { workspaceId: ws.id });
    const [a, b] = [await findJob(app.ctx.db, ws.id, first.id), await findJob(app.ctx.db, ws.id, second.id)];
    expect([a?.status, b?.status]).toEqual(['succeeded', 'succeeded']);
    expect((b?.startedAt?.getTime() ?? 0) >= (a?.finishedAt?.getTime() ?? Infinity)).toBe(true);
  });

  it('refuses a second running job of a lane in one workspace in the database, whoever claims it', async () => {
    const ws = await aWorkspace(app);
    const first = await queueCounting(ws.id, 1, countingInLane);
    const second = await queueCounting(ws.id, 1, countingInLane);
    await sql`UPDATE jobs SET status = 'running' WHERE workspace_id = ${ws.id} AND id = ${first.id}`.execute(app.ctx.db);
    await expect(sql`UPDATE jobs SET status = 'running' WHERE workspace_id = ${ws.id} AND id = ${second.id}`.execute(app.ctx.db)).rejects.toThrow(
      /jobs_one_running_per_lane/,
    );
  });
});

describe('a job’s end', () => {
  /** A counting job that records, inside the transaction that ends it, the job as it sees it there. */
  const ending = (seen: { status: string; error: string | null; result: unknown; committed: unknown }[], step?: JobHandler['step']): JobHandler => ({
    ...counting,
    ...(step ? { step } : {}),
    async finished(tx, job) {
      const { rows } = await sql<{ status: string }>`SELECT status FROM jobs WHERE workspace_id = ${job.workspaceId} AND id = ${job.id}`.execute(tx);
      seen.push({ status: job.status, error: job.error, result: job.result, committed: rows[0].status });
    },
  });

  it('calls finished once, in the transaction that marks the job succeeded, with its result', async () => {
    const ws = await aWorkspace(app);
    const seen: { status: string; error: string | null; result: unknown; committed: unknown }[] = [];
    const job = await queueCounting(ws.id, 2);
    await runPendingJobs(app.ctx, [ending(seen)], { workspaceId: ws.id });
    expect(seen).toEqual([{ status: 'succeeded', error: null, result: { count: 2 }, committed: 'succeeded' }]);
    expect((await findJob(app.ctx.db, ws.id, job.id))?.finishedAt).not.toBeNull();
  });

  it('calls finished once, in the transaction that marks the job failed, with its error and the injected time', async () => {
    const ws = await aWorkspace(app);
    const seen: { status: string; error: string | null; result: unknown; committed: unknown }[] = [];
    const job = await queueCounting(ws.id, 3);
    app.clock.advance(3600);
    const before = app.clock.now();
    await runPendingJobs(app.ctx, [ending(seen, async () => { throw new Error('boom'); })], { workspaceId: ws.id });
    expect(seen).toEqual([{ status: 'failed', error: 'boom', result: null, committed: 'failed' }]);
    const failed = await findJob(app.ctx.db, ws.id, job.id);
    expect(failed?.finishedAt?.getTime()).toBeGreaterThanOrEqual(before.getTime());
  });

  it('ends a job as failed when finished throws on success, and calls finished again for the failure', async () => {
    const ws = await aWorkspace(app);
    const seen: string[] = [];
    const throwing: JobHandler = {
      ...counting,
      async finished(_tx, job) {
        seen.push(job.status);
        if (job.status === 'succeeded') throw new Error('could not tell');
      },
    };
    const job = await queueCounting(ws.id, 1);
    await runPendingJobs(app.ctx, [throwing], { workspaceId: ws.id });
    expect(seen).toEqual(['succeeded', 'failed']);
    expect(await findJob(app.ctx.db, ws.id, job.id)).toMatchObject({ status: 'failed', error: 'could not tell', progress: {} });
  });
});
