import type { AppContext } from '../context.js';
import { jobHandlers } from './handlers.js';
import { runPendingJobs } from './service.js';

/**
 * Runs jobs in the background: at once when kicked (a job was just queued), and every
 * pollMs to pick up jobs left by a stopped process. One pass at a time.
 */
export class JobWorker {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: () => AppContext) {}

  start(pollMs: number): void {
    this.timer = setInterval(() => this.kick(), pollMs);
    this.timer.unref();
    this.kick();
  }

  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await runPendingJobs(this.ctx(), jobHandlers);
        } catch (error) {
          console.error('job worker pass failed', error);
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
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }
}
