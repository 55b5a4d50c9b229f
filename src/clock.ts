import { sql } from 'kysely';
import type { Db } from './db/database.js';

/**
 * The one source of "now". Every retention, freeze, window and schedule reads it, so the
 * test clock can move time for the whole server at once.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Where a test clock keeps its offset: adds to it and answers the offset kept. */
export interface OffsetStore {
  add(ms: number): Promise<number>;
}

/**
 * A clock that runs with real time plus an offset that only ever grows. With a store
 * (openTestClock), advanceAndKeep keeps the offset across restarts; tests' clocks have
 * none and move with advance.
 */
export class TestClock implements Clock {
  constructor(
    private offsetMs = 0,
    private readonly store?: OffsetStore,
  ) {}

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(seconds: number): Date {
    this.offsetMs += seconds * 1000;
    return this.now();
  }

  /**
   * Advances the clock, and first its kept offset (POST /test-clock). The store's sum is
   * the clock's: two advances at once both count, and a failed write moves nothing.
   */
  async advanceAndKeep(seconds: number): Promise<Date> {
    if (!this.store) return this.advance(seconds);
    const kept = await this.store.add(seconds * 1000);
    this.offsetMs = Math.max(this.offsetMs, kept);
    return this.now();
  }
}

/** The test clock of a server on `db`, at the offset it had reached (table test_clock, migration 045). */
export async function openTestClock(db: Db): Promise<TestClock> {
  const { rows } = await sql<{ offset_ms: string }>`SELECT offset_ms FROM test_clock WHERE id`.execute(db);
  const store: OffsetStore = {
    async add(ms) {
      const added = await sql<{ offset_ms: string }>`
        INSERT INTO test_clock (id, offset_ms) VALUES (true, ${ms})
        ON CONFLICT (id) DO UPDATE SET offset_ms = test_clock.offset_ms + EXCLUDED.offset_ms
        RETURNING offset_ms`.execute(db);
      return Number(added.rows[0].offset_ms);
    },
  };
  return new TestClock(Number(rows[0]?.offset_ms ?? 0), store);
}
