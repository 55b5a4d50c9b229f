import { setTimeout as delay } from 'node:timers/promises';
import type { AppContext } from '../context.js';
import { jobHandlers } from './handlers.js';
import { runPendingJobs } from './service.js';

/**
 * How long a kicked pass waits before it claims a job. The request that queued the job
 * has answered by then, and the requests its client sends right after (a second restore,
 * which must see 409 while this one is queued or running) are answered first: on PGlite's
 * one connection, a pass that started at once would hold it for its first batch and answer
 * them only after the job had finished.
 */
export const jobStartDelayMs = 100;

/**
 * Runs jobs in the background: shortly after it is kicked (a job was just queued), and
 * every pollMs to pick up jobs left by a stopped process. One pass at a time per lane:
 * the one-job slot's (restores, rollbacks) and each lane's (imports) run side by side, so
 * a long import never holds up a restore, nor a restore an import.
 */
export class JobWorker {
  private readonly lanes = new Map<string | null, LanePass>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly ctx: () => AppContext,
    private readonly startDelayMs = jobStartDelayMs,
  ) {
    for (const lane of [null, ...new Set(jobHandlers.flatMap((h) => (h.lane ? [h.lane] : [])))]) this.lanes.set(lane, new LanePass());
  }

  start(pollMs: number): void {
    this.timer = setInterval(() => this.kick(), pollMs);
    this.timer.unref();
    this.kick();
  }

  kick(): void {
    // A job queued while the server shuts down waits for the next start (it is durable).
    if (this.stopped) return;
    for (const [lane, pass] of this.lanes) {
      pass.kick(
        this.startDelayMs,
        () => runPendingJobs(this.ctx(), jobHandlers, { lane }),
        (error) => this.ctx().log.error({ err: error, lane }, 'job worker pass failed'),
      );
    }
  }

  /** Asked to stop: passes end at their next batch boundary. */
  get isStopping(): boolean {
    return this.stopped;
  }

  /** Resolves when the current passes (if any) are over. */
  async idle(): Promise<void> {
    for (const pass of this.lanes.values()) await pass.idle();
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

/** One lane's passes: one at a time, and one more after it when kicked meanwhile. */
class LanePass {
  private running: Promise<void> | null = null;
  private again = false;

  kick(startDelayMs: number, run: () => Promise<unknown>, failed: (error: unknown) => void): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      if (startDelayMs > 0) await delay(startDelayMs);
      do {
        this.again = false;
        try {
          await run();
        } catch (error) {
          failed(error);
        }
      } while (this.again);
      this.running = null;
    })();
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
