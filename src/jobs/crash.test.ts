import { describe, expect, it } from 'vitest';
import { crashRun, sigtermRun, type Engine } from '../test-support/crash.js';

/**
 * Issue 19: the server killed with SIGKILL at random moments of an import, its undo, a
 * restore and a full rollback (and of the requests that create them, and of a maintenance
 * pass sending automation emails), and stopped with SIGTERM during one, as a child process
 * (src/test-support/crash.ts). On the engine the run uses: PGlite, or the PostgreSQL
 * server of TEST_DATABASE_URL. 20 kills here; `npm run crash -- --kills 200` for the long
 * run (docs/RELIABILITY.md).
 */
const serverUrl = process.env.RETRACE_TEST_SERVER;
const engine: Engine = serverUrl ? 'server' : 'pglite';

describe(`crashes (${engine})`, () => {
  it('applies every change of an import, its undo, a restore and a full rollback exactly once, loses nothing and sends no message twice, whatever 20 SIGKILLs hit', async () => {
    const contacts = 1000;
    const { invariants, expected, figures } = await crashRun({ engine, contacts, kills: 4, seed: 19, serverUrl, batchSize: 50, killWithinMs: 1200 });
    expect(invariants).toEqual(expected);
    // 4 a job, and one in each of 4 requests: a maintenance pass, the undo's, the restore's, the approval.
    expect(figures.kills).toBe(20);
    expect(invariants.messagesMailed).toBeGreaterThan(0);
    // A restarted server resumes its job at once: no 30 s lease to wait out.
    for (const ms of figures.resumeMs) expect(ms).toBeLessThan(10_000);
  }, 480_000);

  it('exits within seconds of a SIGTERM during a long job, and the next start resumes the job at once', async () => {
    const result = await sigtermRun({ engine, contacts: 800, serverUrl, batchSize: 10 });
    expect(result.status).toBe('succeeded');
    expect(result.doneBeforeStop).toBe(false);
    expect(result.exitMs).toBeLessThan(3000);
    // Not the 30 s lease: the restarted server takes the released job at once.
    expect(result.resumeMs).toBeLessThan(10_000);
  }, 240_000);
});
