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
 * every pollMs to pick up jobs left by a stopped process. One pass at a time.
 */
export class JobWorker {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly ctx: () => AppContext,
    private readonly startDelayMs = jobStartDelayMs,
  ) {}

  start(pollMs: number): void {
    this.timer = setInterval(() => this.kick(), pollMs);
    this.timer.unref();
    this.kick();
  }

  kick(): void {
    // A job queued while the server shuts down waits for the next start (it is durable).
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      if (this.startDelayMs > 0) await delay(this.startDelayMs);
      do {
        this.again = false;
        try {
          await runPendingJobs(this.ctx(), jobHandlers);
        } catch (error) {
          this.ctx().log.error({ err: error }, 'job worker pass failed');
        }
      } while (this.again);
      this.running = null;
    })();
  }

  /** Resolves when the current pass (if any) is over. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }
}
