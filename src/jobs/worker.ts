import { setTimeout as delay } from 'node:timers/promises';
import type { AppContext } from '../context.js';
import { jobHandlers } from './handlers.js';
import { runPendingJobs, type JobHandler } from './service.js';

/**
 * How long a kicked pass waits before it claims a job. The request that queued the job
 * has answered by then, and the requests its client sends right after (a second restore,
 * which must see 409 while this one is queued or running) are answered first: on PGlite's
 * one connection, a pass that started at once would hold it for its first batch and answer
 * them only after the job had finished.
 */
export const jobStartDelayMs = 100;

/** Jobs of one lane that run at once on PostgreSQL unless RETRACE_JOB_CONCURRENCY says otherwise. */
export const defaultJobConcurrency = 4;

/**
 * How many jobs of one lane run at once: RETRACE_JOB_CONCURRENCY on PostgreSQL, one on
 * PGlite (one connection: a second job would only wait for it, and hold up requests).
 */
export function jobConcurrency(ctx: Pick<AppContext, 'database' | 'config'>): number {
  return ctx.database.engine === 'postgres' ? (ctx.config.jobConcurrency ?? defaultJobConcurrency) : 1;
}

/**
 * Runs jobs in the background: shortly after it is kicked (a job was just queued), and
 * every pollMs to pick up jobs left by a stopped process. Each lane (the one-job slot's
 * restores, rollbacks and undos; imports) has a bounded pool of passes that run side by
 * side, so a long import never holds up a restore, nor a long rollback in one workspace a
 * restore in another (issue 15 point 2). Claiming is fair across workspaces: a workspace
 * has at most one job running per lane (the unique indexes of jobs), so each pass that
 * claims takes the oldest job of a workspace that is not running one, and a workspace's
 * restores, rollbacks and undos stay one at a time.
 */
export class JobWorker {
  private readonly lanes = new Map<string | null, LanePool>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly ctx: () => AppContext,
    private readonly startDelayMs = jobStartDelayMs,
    handlers: readonly JobHandler[] = jobHandlers,
  ) {
    for (const lane of [null, ...new Set(handlers.flatMap((h) => (h.lane ? [h.lane] : [])))]) {
      this.lanes.set(
        lane,
        new LanePool(
          (onClaimed) => runPendingJobs(this.ctx(), handlers, { lane, onClaimed }),
          (error) => this.ctx().log.error({ err: error, lane }, 'job worker pass failed'),
        ),
      );
    }
  }

  start(pollMs: number): void {
    this.timer = setInterval(() => this.look(false), pollMs);
    this.timer.unref();
    this.kick();
  }

  /** A job was just queued: look for it now. */
  kick(): void {
    this.look(true);
  }

  /**
   * Starts a pass in each lane with room. One that looks because a job was queued counts
   * as running jobs from its start, so that what yields to jobs (isRunningJobs) makes way
   * for its claim; one of the poll counts only once it has claimed a job.
   */
  private look(jobQueued: boolean): void {
    // A job queued while the server shuts down waits for the next start (it is durable).
    if (this.stopped) return;
    const capacity = jobConcurrency(this.ctx());
    for (const pool of this.lanes.values()) pool.kick(capacity, this.startDelayMs, () => !this.stopped, jobQueued);
  }

  /** Whether a pass of this worker is running a job now, or about to claim one just queued. */
  get isRunningJobs(): boolean {
    for (const pool of this.lanes.values()) if (pool.isRunningJobs) return true;
    return false;
  }

  /** Asked to stop: passes end at their next batch boundary. */
  get isStopping(): boolean {
    return this.stopped;
  }

  /** Resolves when the current passes (if any) are over. */
  async idle(): Promise<void> {
    for (const pool of this.lanes.values()) await pool.idle();
  }

  /**
   * Stops claiming and lets each pass end at its next batch boundary: the batch under way
   * commits, and the job it belongs to is released for the next start to resume at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }
}

/**
 * One lane's passes, at most `capacity` at once. A pass claims jobs one after another until
 * none is left; each time it claims one it starts another pass (if there is room), which
 * takes the next workspace's job if there is one, so N queued jobs of N workspaces run at
 * once without a pass per job waiting idle. Kicked while full, one pass looks again when it
 * runs out of jobs (a job queued while it was looking is not missed).
 */
class LanePool {
  private readonly passes = new Set<Promise<void>>();
  /** Passes that have claimed a job (or look for one just queued) and not yet run out of jobs. */
  private readonly working = new Set<Promise<void>>();
  private again = false;

  constructor(
    private readonly run: (onClaimed: () => void) => Promise<unknown>,
    private readonly failed: (error: unknown) => void,
  ) {}

  kick(capacity: number, startDelayMs: number, claiming: () => boolean, jobQueued: boolean): void {
    if (this.passes.size >= capacity) {
      this.again = true;
      // One of them looks again for the job just queued.
      if (jobQueued) for (const pass of this.passes) this.working.add(pass);
      return;
    }
    const claimed = () => {
      this.working.add(pass);
      if (this.passes.size < capacity && claiming()) this.kick(capacity, 0, claiming, true);
    };
    const pass: Promise<void> = (async () => {
      if (startDelayMs > 0) await delay(startDelayMs);
      do {
        this.again = false;
        try {
          await this.run(claimed);
        } catch (error) {
          this.failed(error);
        }
      } while (this.again && claiming());
    })();
    this.passes.add(pass);
    if (jobQueued) this.working.add(pass);
    void pass.finally(() => {
      this.passes.delete(pass);
      this.working.delete(pass);
    });
  }

  get isRunningJobs(): boolean {
    return this.working.size > 0;
  }

  async idle(): Promise<void> {
    while (this.passes.size > 0) await Promise.all([...this.passes]);
  }
}
