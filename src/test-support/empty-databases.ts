import { connectPGlite, connectPostgres, migrate, type Database } from '../db/database.js';
import { createRunDatabase } from './harness.js';

/**
 * Fresh, migrated, empty databases for restores to go into: on the run's PostgreSQL
 * server when the suite runs there (a database of its own each, dropped with the run's),
 * else PGlite in memory. `closeAll` in afterAll.
 *
 * @example
 * const targets = emptyDatabases('restore');
 * afterAll(() => targets.closeAll());
 * const target = await targets.anEmptyDatabase();
 */
export function emptyDatabases(prefix: string): { anEmptyDatabase: () => Promise<Database>; closeAll: () => Promise<void> } {
  const opened: Database[] = [];
  let counter = 0;
  return {
    async anEmptyDatabase() {
      counter += 1;
      const runUrl = process.env.RETRACE_TEST_DATABASE;
      const database = runUrl ? await connectPostgres(await createRunDatabase(runUrl, `${prefix}_${process.pid}_${counter}`), 2) : await connectPGlite(undefined);
      opened.push(database);
      await migrate(database);
      return database;
    },
    async closeAll() {
      for (const database of opened) await database.close();
    },
  };
}
