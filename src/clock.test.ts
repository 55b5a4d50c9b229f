import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext, createServer } from './app.js';
import type { Database } from './db/database.js';
import { silentLogger } from './logger.js';
import { call, oneConnectionDatabase, operatorToken, testConfig } from './test-support/harness.js';

let database: Database;
let release: () => Promise<void>;
beforeAll(async () => {
  ({ database, release } = await oneConnectionDatabase());
});
afterAll(() => release());

/** A server as `serve` starts it with RETRACE_TEST_CLOCK=1, on the test's own database. */
async function startServer() {
  const { ctx } = await createContext(database, { ...testConfig, testClock: true }, silentLogger);
  const server = await createServer(ctx);
  await server.ready();
  return { ctx, server };
}

const day = 86_400;

describe('the test clock', () => {
  it('keeps the time it reached when the server restarts on the same database', async () => {
    const first = await startServer();
    const moved = await call(first.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: 3 * day });
    await call(first.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: day });
    expect(moved.status).toBe(200);
    const reached = Date.parse((await call(first.server, operatorToken, 'GET', '/test-clock')).body.now);
    await first.server.close();

    const restarted = await startServer();
    const now = Date.parse((await call(restarted.server, operatorToken, 'GET', '/test-clock')).body.now);
    expect(now).toBeGreaterThanOrEqual(reached);
    // Four days ahead of real time, give or take the time this test took.
    expect(now - Date.now()).toBeGreaterThan(4 * day * 1000 - 60_000);
    expect(now - Date.now()).toBeLessThanOrEqual(4 * day * 1000);
    await restarted.server.close();
  });

  it('adds up advances made at once, and by two servers on one database', async () => {
    const one = await startServer();
    const other = await startServer();
    const before = one.ctx.clock.now().getTime() - Date.now();
    await Promise.all([
      call(one.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: 100 }),
      call(one.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: 200 }),
      call(other.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: 300 }),
    ]);
    // The last advance answered tells each clock the sum kept so far: 600 seconds more.
    await call(one.server, operatorToken, 'POST', '/test-clock', { advanceSeconds: 0 });
    const after = one.ctx.clock.now().getTime() - Date.now();
    expect(Math.round((after - before) / 1000)).toBe(600);
    await Promise.all([one.server.close(), other.server.close()]);
  });
});
