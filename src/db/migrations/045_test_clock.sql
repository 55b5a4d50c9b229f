-- The test clock's offset from real time (src/clock.ts, RETRACE_TEST_CLOCK=1), so that a
-- server restarted on the same database keeps the time it had reached. One row; the
-- offset only grows (POST /test-clock adds to it). IF NOT EXISTS: the migration tests
-- apply later migrations again on an older database.
CREATE TABLE IF NOT EXISTS test_clock (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  offset_ms bigint NOT NULL CHECK (offset_ms >= 0)
);
