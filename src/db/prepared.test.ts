import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { oneConnectionDatabase } from '../test-support/harness.js';
import { prepared } from './prepared.js';

const connection = await oneConnectionDatabase();
afterAll(() => connection.release());

describe('statements marked prepared', () => {
  it('are prepared once per connection on the server and run again by name, with their parameters; unmarked ones are not; on PGlite they run as written', async () => {
    const { db, engine } = connection.database;
    const lookUp = (n: number) => sql<{ doubled: number }>`${prepared}SELECT ${n}::int * 2 AS doubled`.execute(db);
    const answers = [];
    for (const n of [1, 2, 3, 4, 5, 6, 7]) answers.push((await lookUp(n)).rows[0].doubled);
    expect(answers).toEqual([2, 4, 6, 8, 10, 12, 14]);
    await sql`SELECT ${1}::int AS unmarked`.execute(db);
    if (engine === 'postgres') {
      const { rows } = await sql<{ name: string; statement: string }>`SELECT name, statement FROM pg_prepared_statements WHERE NOT from_sql`.execute(db);
      expect(rows).toEqual([{ name: expect.stringMatching(/^retrace_[0-9a-f]{24}$/), statement: '/* prepared */ SELECT $1::int * 2 AS doubled' }]);
    }
  });
});
